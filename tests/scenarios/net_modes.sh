# --network host, none, container:NAME; hostname and /etc files.
docker run --rm --network none busybox sh -c 'ls /sys/class/net; cat /etc/resolv.conf | grep -c nameserver'
docker run --rm --network host busybox sh -c 'test "$(hostname)" = "'"$(hostname)"'" && echo host-hostname; ls /sys/class/net | grep -c lo'
[ "$(docker run --rm --network host busybox readlink /proc/self/ns/net)" = "$(readlink /proc/self/ns/net)" ] && echo "host netns shared"
[ "$(docker run --rm busybox readlink /proc/self/ns/net)" != "$(readlink /proc/self/ns/net)" ] && echo "bridge netns own"
docker run --rm --network host busybox cat /etc/hostname | grep -qx "$(hostname)" && echo "host /etc/hostname"
docker run -d --name "$TAG-main" --hostname mainhost busybox sh -c 'httpd -f -p 8080 -h /etc' >/dev/null
sleep 0.5
docker run --rm --network "container:$TAG-main" busybox sh -c 'hostname; wget -qO- http://127.0.0.1:8080/hostname'
[ "$(docker run --rm --network container:$TAG-main busybox readlink /proc/self/ns/net)" = "$(docker exec $TAG-main readlink /proc/self/ns/net)" ] && echo "netns shared with main"
docker inspect -f '{{.HostConfig.NetworkMode}}' "$(docker create --network container:$TAG-main busybox true)" | sed "s/$TAG/T/"
docker run --rm --network "container:$TAG-none" busybox true 2>&1 | sed "s/$TAG/T/"; echo "rc=${PIPESTATUS[0]}"
docker create --name "$TAG-stopped" busybox true >/dev/null
docker run --rm --network "container:$TAG-stopped" busybox true 2>&1 | sed -E "s/$TAG/T/; s/[0-9a-f]{64}/ID/"; echo "rc=${PIPESTATUS[0]}"
docker run --rm --network "container:$TAG-main" --hostname x busybox true 2>&1; echo "rc=$?"
docker run --rm --network "container:$TAG-main" -p 80:80 busybox true 2>&1; echo "rc=$?"
docker run --rm --network host -p 80:80 busybox true 2>&1 | head -1; echo "rc=${PIPESTATUS[0]}"
echo "-- /etc/hosts and resolv.conf"
docker run --rm --hostname myhost --add-host "extra.example:10.1.2.3" busybox sh -c 'hostname; grep -c myhost /etc/hosts; grep extra.example /etc/hosts; grep -c localhost /etc/hosts'
docker run --rm --dns 10.9.9.9 --dns-search example.org busybox cat /etc/resolv.conf | grep -v '^#' | sed '/^$/d'
docker run --rm --hostname h1 --domainname example.com busybox sh -c 'hostname; cat /proc/sys/kernel/domainname; grep -c h1.example.com /etc/hosts'
docker rm -f "$TAG-main" "$TAG-stopped" >/dev/null
