# Docker's masked and read-only paths: hidden, empty, unwritable.
docker run --rm busybox sh -c '
for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats /proc/timer_stats; do
  if [ -e $f ]; then printf "%s size=%s\n" $f "$(wc -c < $f 2>/dev/null)"; fi
done
for d in /proc/acpi /proc/scsi /sys/firmware /proc/asound; do
  if [ -d $d ]; then printf "%s entries=%s\n" $d "$(ls -A $d | wc -l)"; fi
done
echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo proc-sys-readonly
echo h > /proc/sysrq-trigger 2>/dev/null || echo sysrq-readonly
touch /sys/x 2>/dev/null || echo sys-readonly
mkdir /sys/fs/cgroup/memory/x 2>/dev/null || echo cgroup-readonly
cat /proc/sys/kernel/hostname >/dev/null && echo proc-sys-readable
'
