# docker-compose commands on a running project: stop/start/restart/kill/rm, run --rm, events,
# --remove-orphans, down.
P="${TAG}cmds"
cd "$WORK"
cat > docker-compose.yml <<'EOF'
version: "3.8"
services:
  api:
    image: busybox
    command: httpd -f -p 8080 -h /
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
echo "-- stop/start/restart/kill/rm"
dc stop -t 1 client >/dev/null 2>&1; state
dc start client >/dev/null 2>&1; state
before=$(docker inspect -f '{{.State.StartedAt}}' "$(dc ps -q client)")
dc restart -t 1 client >/dev/null 2>&1
after=$(docker inspect -f '{{.State.StartedAt}}' "$(dc ps -q client)")
[ "$before" != "$after" ] && echo restarted
dc kill -s KILL extra >/dev/null 2>&1
docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$(dc ps -q extra)"
dc rm -f extra >/dev/null 2>&1; state
echo "-- run --rm"
dc run --rm --no-deps client sh -c 'echo one-off; nslookup api >/dev/null 2>&1 && echo sees api' 2>/dev/null
dc run --rm -e X=1 client sh -c 'echo X=$X' 2>/dev/null
docker ps -a --filter "label=com.docker.compose.oneoff=True" --filter "label=com.docker.compose.project=$P" -q | wc -l
echo "-- events"
( timeout 8 docker-compose -p "$P" events > events.txt 2>/dev/null & )
sleep 2
dc restart -t 1 client >/dev/null 2>&1
sleep 4
awk '{print $3, $4}' events.txt | sort -u
echo "-- remove-orphans"
cat > docker-compose.yml <<'EOF'
version: "3.8"
services:
  api:
    image: busybox
    command: sleep 300
EOF
dc up -d 2>&1 | grep -i -o 'orphan containers' | head -1
dc up -d --remove-orphans >/dev/null 2>&1
state
dc down -t 1 >/dev/null 2>&1; echo "down rc=$?"
state | wc -l
docker network ls --filter "label=com.docker.compose.project=$P" -q | wc -l
