# docker-compose: scale and DNS answering every replica, recreate only on a config change, --force-recreate,
# --no-deps, port, logs --tail, top, down.
P="${TAG}life"
cd "$WORK"
cat > docker-compose.yml <<'EOF'
version: "3.8"
services:
  api:
    image: busybox
    command: sh -c 'echo api starting; i=0; while [ $$i -lt 5 ]; do echo line $$i; i=$$((i+1)); done; exec httpd -f -p 8080 -h /'
    expose: ["8080"]
    ports: ["8080"]
  client:
    image: busybox
    command: sleep 300
    depends_on: [api]
  extra:
    image: busybox
    command: sleep 300
EOF
dc() { docker-compose -p "$P" "$@"; }
state() { docker ps -a --filter "label=com.docker.compose.project=$P" --format '{{.Names}} {{.State}}' | sort; }
dc up -d >/dev/null 2>&1; echo "up rc=$?"
state
ids1=$(docker ps -q --filter "label=com.docker.compose.project=$P" | sort)
echo "-- up again with nothing changed keeps the containers"
dc up -d 2>&1 | sed 's/ *\.\.\. */ ... /' | sort
[ "$(docker ps -q --filter "label=com.docker.compose.project=$P" | sort)" = "$ids1" ] && echo same containers
echo "-- scale api to 3: DNS answers three addresses"
dc up -d --scale api=3 >/dev/null 2>&1; echo "scale rc=$?"
state
dc exec -T client nslookup api 2>/dev/null | grep -c '^Address: '
dc exec -T client sh -c 'for i in 1 2 3 4 5; do wget -qO- http://api:8080/etc/hostname >/dev/null && echo ok; done' | sort | uniq -c
dc port --index=2 api 8080 | sed 's/:[0-9]*$/:PORT/'
dc ps api | tail -n +3 | wc -l
echo "-- scale back to 1"
dc up -d --scale api=1 >/dev/null 2>&1
state
echo "-- a config change recreates only that service"
sed -i 's/command: sleep 300$/command: sleep 301/' docker-compose.yml
sed -i '0,/command: sleep 301/s//command: sleep 300/' docker-compose.yml
dc up -d 2>&1 | sed 's/ *\.\.\. */ ... /' | sort
dc config --services | sort
docker inspect -f '{{.Args}}' "$(dc ps -q extra)"
echo "-- --force-recreate --no-deps client"
c1=$(dc ps -q client)
dc up -d --force-recreate --no-deps client 2>&1 | sed 's/ *\.\.\. */ ... /' | sort
[ "$(dc ps -q client)" != "$c1" ] && echo client recreated
echo "-- logs --tail"
dc logs --no-color --tail 2 api | grep -v '^Attaching'
echo "-- top"
dc top api | grep -c httpd
dc down -t 1 >/dev/null 2>&1; echo "down rc=$?"
state | wc -l
docker network ls --filter "label=com.docker.compose.project=$P" -q | wc -l
