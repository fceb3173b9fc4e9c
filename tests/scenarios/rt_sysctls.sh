# Kernel settings of the container's own namespaces: Docker's defaults, --sysctl, and what is refused.
docker run --rm busybox sh -c 'cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range; for i in all default lo eth0; do cat /proc/sys/net/ipv6/conf/$i/disable_ipv6; done; ip -o addr | awk "{print \$2, \$3}"'
docker run --rm --network none busybox sh -c 'cat /proc/sys/net/ipv4/ip_unprivileged_port_start; ip -o addr | awk "{print \$2, \$3}"'
docker run --rm --network host busybox cat /proc/sys/net/ipv4/ip_unprivileged_port_start
docker run --rm --sysctl net.ipv4.ip_unprivileged_port_start=80 --sysctl kernel.shmmax=1000000 busybox cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmax
cat /proc/sys/kernel/shmmax > "$WORK/host-shmmax"; docker run --rm --sysctl kernel.shmmax=1234567 busybox true; cmp -s /proc/sys/kernel/shmmax "$WORK/host-shmmax" && echo "host untouched"
echo "-- a non-root user binds a low port and pings (no CAP_NET_RAW needed)"
docker run --rm -u 65534 busybox sh -c 'nc -l -p 80 & sleep 0.3; kill $! && echo bound-80'
docker run --rm -u 65534 --cap-drop NET_RAW busybox ping -c1 -W2 127.0.0.1 | grep -c "1 packets received"
echo "-- refused"
docker run --rm --network host --sysctl net.ipv4.ip_forward=1 busybox true 2>&1; echo "rc=$?"
docker run --rm --oom-score-adj 2000 busybox true 2>&1; echo "rc=$?"
docker run --rm --oom-score-adj 300 busybox cat /proc/self/oom_score_adj
docker run -d --name "$TAG-o" --oom-score-adj 200 busybox sleep 30 >/dev/null
docker exec "$TAG-o" cat /proc/self/oom_score_adj
docker rm -f "$TAG-o" >/dev/null
echo "-- --read-only keeps /etc/hosts and friends read-only too"
docker run --rm --read-only busybox sh -c 'for f in /etc/hosts /etc/hostname /etc/resolv.conf; do echo x >> $f 2>/dev/null && echo "$f writable" || echo "$f read-only"; done'
docker run --rm busybox sh -c 'echo "1.2.3.4 extra" >> /etc/hosts && grep -c extra /etc/hosts'
