# docker network create --ip-range --aux-address: addresses picked from the range (its first address
# included), reserved ones never handed out and refused as in use, a requested --ip anywhere in the
# subnet; IPAM.Options as the request sent it; Docker's words for a range or aux address outside.
N="$TAG-ipam"
docker network create --subnet 10.247.0.0/16 --ip-range 10.247.5.0/24 --gateway 10.247.5.254 \
    --aux-address a=10.247.1.5 --aux-address b=10.247.5.0 "$N" >/dev/null; echo "create rc=$?"
docker network inspect -f '{{json .IPAM}}' "$N"
docker run --rm --network "$N" busybox sh -c "ip -4 addr show eth0 | grep -o 'inet [0-9./]*'"
docker run -d --name "$TAG-one" --network "$N" busybox sleep 30 >/dev/null
docker run --rm --network "$N" busybox sh -c "ip -4 addr show eth0 | grep -o 'inet [0-9./]*'"
docker run --rm --network "$N" --ip 10.247.9.9 busybox sh -c "ip -4 addr show eth0 | grep -o 'inet [0-9./]*'"
docker run --rm --network "$N" --ip 10.247.1.5 busybox true 2>&1 | head -1; echo "rc=${PIPESTATUS[0]}"
docker rm -f "$TAG-one" >/dev/null
docker network rm "$N" >/dev/null
echo "-- outside the subnet"
docker network create --subnet 10.247.0.0/16 --ip-range 10.248.5.0/24 "$N-x" 2>&1; echo "rc=$?"
docker network create --subnet 10.247.0.0/16 --aux-address r=10.248.1.1 "$N-y" 2>&1; echo "rc=$?"
docker network ls -q --filter "name=$N" | wc -l
echo "-- options: what the request sent"
docker network create "$N-z" >/dev/null
docker network inspect -f '{{json .IPAM.Options}}' "$N-z"
docker network rm "$N-z" >/dev/null
curl -s --unix-socket "${DOCKER_HOST#unix://}" -H 'Content-Type: application/json' \
    -d "{\"Name\": \"$N-api\"}" http://engine/networks/create >/dev/null
docker network inspect -f '{{json .IPAM.Options}} {{len .IPAM.Config}}' "$N-api"
docker network rm "$N-api" >/dev/null
