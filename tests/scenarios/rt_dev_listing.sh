# /dev as a container sees it: which nodes, their type, mode, owner and numbers (dates dropped).
shape() { awk 'NR>1 {print $1, $3, $4, $5, $6, $NF}'; }
docker run --rm busybox ls -la /dev | shape
echo "-- with a tty"
docker run --rm -t busybox ls -la /dev | tr -d '\r' | shape
echo "-- /dev/pts and /dev/shm"
docker run --rm busybox sh -c 'ls /dev/pts; df -k /dev/shm | tail -1 | awk "{print \$2}"'
docker run --rm --shm-size 8m busybox sh -c 'df -k /dev/shm | tail -1 | awk "{print \$2}"'
echo "-- device access"
docker run --rm busybox sh -c 'head -c 4 /dev/zero | od -An -tx1; echo x > /dev/null && echo null-ok; echo x > /dev/full 2>/dev/null || echo full-fails'
docker run --rm busybox sh -c 'mknod /tmp/sda b 8 0 && echo mknod-ok; head -c1 /tmp/sda >/dev/null 2>&1 || echo open-denied'
