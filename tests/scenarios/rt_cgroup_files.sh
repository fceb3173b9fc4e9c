# The limits a container reads from its own cgroup files.
cg() { docker run --rm "$@" busybox sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/pids/pids.max 2>&1 | tr "\n" " "; echo'; }
echo "default:      $(cg)"
echo "memory 64m:   $(cg --memory 64m)"
echo "memory+swap:  $(cg --memory 64m --memory-swap 128m)"
echo "cpus 0.5:     $(cg --cpus 0.5)"
echo "cpus 1.5:     $(cg --cpus 1.5)"
echo "cpu-shares:   $(cg --cpu-shares 512)"
echo "quota/period: $(cg --cpu-quota 20000 --cpu-period 50000)"
echo "pids 10:      $(cg --pids-limit 10)"
echo "pids -1:      $(cg --pids-limit -1)"
echo "-- pids limit bites"
docker run --rm --pids-limit 5 busybox sh -c 'for i in 1 2 3 4 5 6 7; do sleep 1 & done; wait; echo done' 2>&1 | sort | uniq -c
echo "-- inspect"
docker run -d --name "$TAG-l" --memory 64m --cpus 0.5 --cpu-shares 512 --pids-limit 10 busybox sleep 30 >/dev/null
docker inspect -f '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}}' "$TAG-l"
docker rm -f "$TAG-l" >/dev/null
echo "-- bad values"
docker run --rm --memory 1m busybox true 2>&1; echo "rc=$?"
docker run --rm --cpus 99 busybox true 2>&1; echo "rc=$?"
docker run --rm --memory 64m --memory-swap 32m busybox true 2>&1; echo "rc=$?"
