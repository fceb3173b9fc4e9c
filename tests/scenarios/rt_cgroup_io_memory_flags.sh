# The block I/O throttles, swappiness, the OOM switch and a CPU period alone, read by the container
# from its own cgroup files (cgroup v1, as on these machines), then docker inspect and docker update.
disk=$(awk '$5 == "/" {print $3; exit}' /proc/self/mountinfo)   # MAJOR:MINOR of the disk holding /
dev=/dev/$(sed -n 's/^DEVNAME=//p' "/sys/dev/block/$disk/uevent")
blk() { docker run --rm "$@" busybox sh -c 'cd /sys/fs/cgroup/blkio && for f in read_bps write_bps read_iops write_iops; do printf "%s=[%s] " $f "$(cat blkio.throttle.${f}_device)"; done; echo' | sed "s/$disk/DISK/g"; }
echo "default:     $(blk)"
echo "read-bps:    $(blk --device-read-bps "$dev:1mb")"
echo "write-bps:   $(blk --device-write-bps "$dev:2mb")"
echo "read-iops:   $(blk --device-read-iops "$dev:100")"
echo "write-iops:  $(blk --device-write-iops "$dev:50")"
echo "all four:    $(blk --device-read-bps "$dev:1mb" --device-write-bps "$dev:2mb" --device-read-iops "$dev:100" --device-write-iops "$dev:50")"
mem() { docker run --rm "$@" busybox sh -c 'cat /sys/fs/cgroup/memory/memory.swappiness; grep oom_kill_disable /sys/fs/cgroup/memory/memory.oom_control' | tr '\n' ' '; echo; }
echo "swappiness:  $(mem --memory-swappiness 10)"
echo "swappiness0: $(mem --memory-swappiness 0)"
echo "oom off:     $(mem -m 32m --oom-kill-disable 2>&1)"
echo "period only: $(docker run --rm --cpu-period 50000 busybox cat /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.cfs_quota_us | tr '\n' ' ')"
echo "-- inspect"
docker run -d --name "$TAG-io" --device-read-bps "$dev:1mb" --memory-swappiness 10 -m 32m --oom-kill-disable busybox sleep 30 >/dev/null
docker inspect -f '{{range .HostConfig.BlkioDeviceReadBps}}{{.Rate}}{{end}} {{.HostConfig.MemorySwappiness}} {{.HostConfig.OomKillDisable}}' "$TAG-io"
echo "-- update keeps them"
docker update --memory 64m --memory-swap 128m "$TAG-io" >/dev/null && docker exec "$TAG-io" sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.swappiness; cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device' | sed "s/$disk/DISK/g"
docker rm -f "$TAG-io" >/dev/null
echo "-- bad values"
docker run --rm --memory-swappiness 101 busybox true 2>&1; echo "rc=$?"
docker run --rm --device-read-bps "$dev:nonsense" busybox true 2>&1; echo "rc=$?"
