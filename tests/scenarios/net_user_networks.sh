# User-defined networks: DNS by name and alias, isolation between networks, connect/disconnect while running.
docker network create "$TAG-n1" >/dev/null
docker network create "$TAG-n2" >/dev/null
docker run -d --name "$TAG-a" --network "$TAG-n1" --network-alias web --network-alias www busybox sleep 300 >/dev/null
docker run -d --name "$TAG-b" --network "$TAG-n2" busybox sleep 300 >/dev/null
docker run --rm --network "$TAG-n1" busybox ping -c1 -W2 "$TAG-a" >/dev/null && echo "name resolves on n1"
docker run --rm --network "$TAG-n1" busybox ping -c1 -W2 web >/dev/null && echo "alias web resolves"
docker run --rm --network "$TAG-n1" busybox ping -c1 -W2 www >/dev/null && echo "alias www resolves"
docker run --rm --network "$TAG-n1" busybox nslookup "$TAG-b" >/dev/null 2>&1 || echo "b not resolvable from n1"
bip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$TAG-n2\").IPAddress}}" "$TAG-b")
docker run --rm --network "$TAG-n1" busybox ping -c1 -W1 "$bip" >/dev/null 2>&1 || echo "n2 unreachable from n1"
docker run --rm busybox ping -c1 -W1 "$TAG-a" >/dev/null 2>&1 || echo "default bridge has no DNS"
echo "-- connect b to n1 while it runs"
docker network connect "$TAG-n1" "$TAG-b"
docker exec "$TAG-b" ping -c1 -W2 "$TAG-a" >/dev/null && echo "b reaches a by name"
docker exec "$TAG-a" ping -c1 -W2 "$TAG-b" >/dev/null && echo "a reaches b by name"
docker exec "$TAG-b" sh -c 'ls /sys/class/net | sort | tr "\n" " "'; echo
docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$TAG-b" | sed "s/$TAG/T/g"
docker network connect "$TAG-n1" "$TAG-b" 2>&1 | sed "s/$TAG/T/g"; echo "rc=${PIPESTATUS[0]}"
docker network disconnect "$TAG-n1" "$TAG-b"
docker exec "$TAG-b" sh -c 'ls /sys/class/net | sort | tr "\n" " "'; echo
docker exec "$TAG-b" ping -c1 -W1 "$TAG-a" >/dev/null 2>&1 || echo "b no longer reaches a"
docker network disconnect "$TAG-n1" "$TAG-b" 2>&1 | sed -E "s/$TAG/T/g"; echo "rc=${PIPESTATUS[0]}"
echo "-- network connect with an alias"
docker network connect --alias db "$TAG-n1" "$TAG-b"
docker exec "$TAG-a" ping -c1 -W2 db >/dev/null && echo "alias db resolves"
echo "-- inspect and ls"
docker network inspect -f '{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{len .Containers}}' "$TAG-n1" | sed "s/$TAG/T/g"
docker network ls --filter name="$TAG" --format '{{.Name}} {{.Driver}}' | sed "s/$TAG/T/g" | sort
docker network rm "$TAG-n1" 2>&1 | sed -E "s/$TAG/T/g; s/[0-9a-f]{64}/ID/g"; echo "rc=${PIPESTATUS[0]}"
docker network create "$TAG-n1" 2>&1 | sed "s/$TAG/T/g"; echo "rc=${PIPESTATUS[0]}"
docker network inspect "$TAG-none" 2>&1 | sed "s/$TAG/T/g"; echo "rc=${PIPESTATUS[0]}"
docker run --rm --network "$TAG-none" busybox true 2>&1 | sed "s/$TAG/T/g"; echo "rc=${PIPESTATUS[0]}"
docker rm -f "$TAG-a" "$TAG-b" >/dev/null
docker network rm "$TAG-n1" "$TAG-n2"
