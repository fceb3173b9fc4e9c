# docker network create --ipv6: a second (IPv6) pool beside the IPv4 one; containers get an address of
# each, IPv6 on in their namespace (lo and eth0 only), a default IPv6 route; --ip6 on run and on
# network connect; names resolve to AAAA records; Docker's words for what it refuses.
N="$TAG-v6"
docker network create --ipv6 --subnet 2001:db8:5::/64 "$N" >/dev/null; echo "create rc=$?"
docker network inspect -f '{{.EnableIPv6}} {{len .IPAM.Config}} {{json (index .IPAM.Config 1)}}' "$N"
docker run --rm --network "$N" busybox sh -c 'for i in all default lo eth0; do cat /proc/sys/net/ipv6/conf/$i/disable_ipv6; done
    ip -6 -o addr | awk "{print \$2, \$4}" | grep -v fe80; ip -6 route | grep default | cut -d" " -f1-3'
docker run -d --name "$TAG-a" --network "$N" --ip6 2001:db8:5::f00d busybox sleep 60 >/dev/null
docker inspect -f '{{json .NetworkSettings.Networks}}' "$TAG-a" | jq -c '.[] | {IPAMConfig, GlobalIPv6Address, GlobalIPv6PrefixLen, IPv6Gateway}'
docker network inspect -f '{{range .Containers}}{{.IPv6Address}}{{end}}' "$N"
docker run --rm --network "$N" busybox sh -c "ping -6 -c1 -W2 $TAG-a >/dev/null && echo by name; ping -c1 -W2 2001:db8:5::f00d >/dev/null && echo by address"
docker create --name "$TAG-b" busybox sleep 60 >/dev/null
docker network connect --ip6 2001:db8:5::beef "$N" "$TAG-b"
docker start "$TAG-b" >/dev/null
docker inspect -f "{{(index .NetworkSettings.Networks \"$N\").GlobalIPv6Address}}" "$TAG-b"
docker exec "$TAG-b" ping -c1 -W2 2001:db8:5::f00d >/dev/null && echo "b reaches a"
echo "-- refused"
docker run --rm --network "$N" --ip6 2001:db8:6::5 busybox true 2>&1 | head -1
docker run --rm --ip6 fd00::5 busybox true 2>&1 | head -1
docker network create --ipv6 "$N-x" 2>&1; echo "rc=$?"
docker network create --subnet 10.246.0.0/24 "$N-4" >/dev/null
docker run --rm --network "$N-4" --ip6 fd00::5 busybox true 2>&1 | head -1
docker rm -f "$TAG-a" "$TAG-b" >/dev/null
docker network rm "$N" "$N-4" >/dev/null
echo "-- an IPv6 pool without --ipv6 is kept, and gives no addresses"
docker network create --subnet 2001:db8:4::/64 "$N-k" >/dev/null
docker network inspect -f '{{.EnableIPv6}} {{json (index .IPAM.Config 1)}}' "$N-k"
docker run --rm --network "$N-k" busybox sh -c 'ip -6 -o addr | grep -c global'
docker network rm "$N-k" >/dev/null
