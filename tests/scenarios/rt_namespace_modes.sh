# Namespace isolation against the host, and the --pid/--ipc/--uts/--network modes that share instead.
same() { [ "$1" = "$2" ] && echo "$3 shared" || echo "$3 own"; }
for ns in mnt uts ipc net pid cgroup; do
  same "$(docker run --rm busybox readlink /proc/self/ns/$ns)" "$(readlink /proc/self/ns/$ns)" "default $ns:"
done
same "$(docker run --rm --pid host busybox readlink /proc/self/ns/pid)" "$(readlink /proc/self/ns/pid)" "--pid host:"
same "$(docker run --rm --ipc host busybox readlink /proc/self/ns/ipc)" "$(readlink /proc/self/ns/ipc)" "--ipc host:"
same "$(docker run --rm --uts host busybox readlink /proc/self/ns/uts)" "$(readlink /proc/self/ns/uts)" "--uts host:"
docker run --rm busybox sh -c 'echo "pid of sh: $$"'; docker run --rm busybox ps -o pid,comm
docker run --rm --pid host busybox sh -c 'ps -o pid | tail -n +2 | wc -l | awk "{print (\$1 > 5) ? \"sees host processes\" : \"sees few\"}"'
[ "$(docker run --rm --uts host busybox hostname)" = "$(hostname)" ] && echo "uts host: host's name"
docker run --rm busybox sh -c 'hostname -F /dev/null 2>/dev/null; hostname newname 2>&1 || true; hostname | grep -c newname'
echo "-- joining another container's namespaces"
docker run -d --name "$TAG-a" --ipc shareable busybox sh -c 'echo a > /dev/shm/mark; sleep 300' >/dev/null
docker run -d --name "$TAG-p" busybox sleep 300 >/dev/null
sleep 0.5
docker run --rm --pid "container:$TAG-p" busybox sh -c 'ps -o comm | grep -c sleep'
same "$(docker run --rm --ipc container:$TAG-a busybox readlink /proc/self/ns/ipc)" "$(docker exec $TAG-a readlink /proc/self/ns/ipc)" "--ipc container:"
docker run --rm --ipc "container:$TAG-p" busybox true 2>&1 | sed -E 's/[0-9a-f]{64}/ID/'; echo "rc=${PIPESTATUS[0]}"
docker inspect -f '{{.HostConfig.PidMode}} {{.HostConfig.IpcMode}}' "$(docker create --pid container:$TAG-p --ipc container:$TAG-a busybox true)" | sed -E 's/[0-9a-f]{64}/ID/g'
docker create --name "$TAG-s" busybox true >/dev/null
docker run --rm --pid "container:$TAG-s" busybox true 2>&1 | sed -E 's/[0-9a-f]{64}/ID/'; echo "rc=${PIPESTATUS[0]}"
docker inspect -f '{{.HostConfig.IpcMode}} {{.HostConfig.PidMode}} {{.HostConfig.UTSMode}} {{.HostConfig.CgroupnsMode}}' "$TAG-p"
echo "-- what the modes exclude"
docker run --rm --uts host --hostname x busybox true 2>&1; echo "rc=$?"
docker run --rm --ipc bogus busybox true 2>&1; echo "rc=$?"
echo "-- security options, ulimits, groups"
docker run --rm busybox grep NoNewPrivs /proc/self/status
docker run --rm --security-opt no-new-privileges busybox grep NoNewPrivs /proc/self/status
docker run --rm --security-opt no-new-privileges=true busybox grep NoNewPrivs /proc/self/status
docker run --rm --ulimit nofile=1024:2048 --ulimit nproc=500 busybox sh -c 'ulimit -n; ulimit -Hn; ulimit -u'
docker run --rm --group-add 123 --group-add nogroup busybox id
docker run --rm -u 65534 --group-add 50 busybox id
docker run --rm --group-add nosuch busybox true 2>&1; echo "rc=$?"
docker run -d --name "$TAG-g" --group-add 77 busybox sleep 30 >/dev/null
docker exec "$TAG-g" id
docker run --rm --cpuset-cpus 0 --memory-reservation 10m busybox cat /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/memory/memory.soft_limit_in_bytes
docker rm -f "$TAG-a" "$TAG-p" "$TAG-s" "$TAG-g" >/dev/null
