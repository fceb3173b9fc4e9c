# docker update: new limits reach the running container's cgroup; the restart policy changes.
docker run -d --name "$TAG-u" --memory 64m busybox sleep 300 >/dev/null
docker update --memory 128m --memory-swap 256m --cpu-shares 512 --cpus 0.5 --pids-limit 20 "$TAG-u"
docker exec "$TAG-u" sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max' | tr '\n' ' '; echo
docker inspect -f '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpuShares}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}' "$TAG-u"
docker update --memory 32m --memory-swap 64m "$TAG-u" >/dev/null
docker exec "$TAG-u" sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes' | tr '\n' ' '; echo
docker update --memory 512m "$TAG-u" 2>&1 | sed -E 's/[0-9a-f]{64}/ID/'; echo "rc=${PIPESTATUS[0]}"
docker update --restart always "$TAG-u" >/dev/null
docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' "$TAG-u"
docker create --name "$TAG-c" busybox true >/dev/null
docker update --cpu-shares 256 "$TAG-c"
docker inspect -f '{{.HostConfig.CpuShares}}' "$TAG-c"
docker run -d --rm --name "$TAG-r" busybox sleep 30 >/dev/null
docker update --restart always "$TAG-r" 2>&1; echo "rc=$?"
docker update --memory 1m "$TAG-c" 2>&1; echo "rc=$?"
docker update --memory 64m "$TAG-none" 2>&1; echo "rc=$?"
docker rm -f "$TAG-u" "$TAG-c" "$TAG-r" >/dev/null
