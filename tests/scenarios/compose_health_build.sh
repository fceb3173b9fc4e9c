# docker-compose: an image built with args and a target, pushed to and pulled from a local registry;
# depends_on with service_healthy and service_completed_successfully; ps shows (healthy); down leaves
# no container, network, bridge, veth, iptables rule, mount or cgroup of the project.
export COMPOSE_DOCKER_CLI_BUILD=0
P="${TAG}hb"
cd "$WORK"
mkdir app
cat > app/Dockerfile <<'EOF'
FROM busybox AS base
ARG FLAVOUR=plain
RUN mkdir -p /srv && echo "flavour $FLAVOUR" > /srv/index.html
FROM base AS server
CMD ["httpd", "-f", "-p", "80", "-h", "/srv"]
FROM base AS tools
CMD ["sh"]
EOF
cat > docker-compose.yml <<EOF
version: "2.4"
services:
  web:
    build:
      context: ./app
      target: server
      args:
        FLAVOUR: lemon
    image: $REG/${P}web:1
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost/"]
      interval: 1s
      timeout: 2s
      retries: 5
  init:
    image: busybox
    command: sh -c 'echo init done'
  worker:
    image: busybox
    command: sh -c 'wget -qO- http://web/; exec sleep 300'
    depends_on:
      web:
        condition: service_healthy
      init:
        condition: service_completed_successfully
EOF
dc() { docker-compose -p "$P" "$@"; }
dc build >/dev/null 2>&1; echo "build rc=$?"
docker run --rm "$REG/${P}web:1" cat /srv/index.html
dc push >/dev/null 2>&1; echo "push rc=$?"
docker rmi "$REG/${P}web:1" >/dev/null
dc pull web >/dev/null 2>&1; echo "pull rc=$?"
docker image inspect -f '{{.Config.Cmd}}' "$REG/${P}web:1"
dc up -d --no-build >/dev/null 2>&1; echo "up rc=$?"
dc ps | tail -n +3 | awk '{$2=""; print}' | sed -E 's/ +/ /g; s/ (sh|httpd) -c.*(Up|Exit)/ \2/' | sort
docker inspect -f '{{.State.Health.Status}} {{.State.Health.FailingStreak}}' "$(dc ps -q web)"
docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$(dc ps -q init)"
sleep 1
dc logs --no-color worker init | grep -v '^Attaching' | sed -E 's/^[^|]*\| ?//' | sort
echo "-- what the kernel holds for the project while it runs"
net=$(docker network inspect -f '{{.Id}}' "${P}_default")
subnet=$(docker network inspect -f '{{(index .IPAM.Config 0).Subnet}}' "${P}_default")
ids=$(docker ps -q --no-trunc --filter "label=com.docker.compose.project=$P")
veths=""
for id in $ids; do veths="$veths $(docker exec "$id" cat /sys/class/net/eth0/iflink)"; done
ip -o link | grep -c "${net:0:6}"
for i in $veths; do ip -o link | grep -q "^$i:" && echo veth present; done | sort | uniq -c
echo "-- down"
dc down -t 1 >/dev/null 2>&1; echo "down rc=$?"
docker ps -aq --filter "label=com.docker.compose.project=$P" | wc -l
docker network ls -q --filter "label=com.docker.compose.project=$P" | wc -l
echo "bridges: $(ip -o link | grep -c "${net:0:6}")"
echo "veths: $(for i in $veths; do ip -o link | grep "^$i:"; done | wc -l)"
echo "iptables rules: $(iptables-save | grep -c -F "$subnet")"
echo "mounts: $(for id in $ids; do grep -F "$id" /proc/self/mountinfo; done | wc -l)"
echo "cgroups: $(for id in $ids; do find /sys/fs/cgroup -maxdepth 4 -name "*$id*"; done | wc -l)"
dc down --rmi local >/dev/null 2>&1
docker rmi "$REG/${P}web:1" >/dev/null 2>&1
docker images -q "$REG/${P}web" | wc -l
