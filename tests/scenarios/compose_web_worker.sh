# docker-compose: a web service built from a multi-stage Dockerfile, a worker and a db on two networks;
# DNS by service name, container name, alias and link; env_file/environment/.env; named, anonymous and
# bind volumes, volumes_from; resource and security settings as inspect shows them; down leaves nothing.
export COMPOSE_DOCKER_CLI_BUILD=0
P="${TAG}web"
cd "$WORK"
cat > Dockerfile <<'EOF'
FROM busybox AS base
ARG GREETING=hello
RUN echo "$GREETING" > /greeting
FROM base AS web
RUN mkdir -p /www && echo "it works" > /www/index.html
CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
FROM base AS other
CMD ["sh"]
EOF
printf 'APP_MODE=dev\nWEB_PORT=%s\n' "$PORT" > .env
echo FROM_FILE=yes > app.env
echo "a bind-mounted file" > hostfile.txt
cat > docker-compose.yml <<'EOF'
version: "3.8"
services:
  web:
    build:
      context: .
      dockerfile: Dockerfile
      target: web
      args:
        GREETING: bonjour
    ports:
      - "127.0.0.1:${WEB_PORT}:80"
    expose:
      - "81"
    networks:
      front:
        aliases: [www, site]
    labels:
      tier: front
    volumes:
      - shared:/data
  worker:
    image: busybox
    command: sh -c 'echo worker mode=$$APP_MODE file=$$FROM_FILE; sleep 300'
    environment:
      APP_MODE: ${APP_MODE}
    env_file: app.env
    depends_on: [web]
    networks: [front, back]
    volumes:
      - shared:/data
      - /anon
      - ./hostfile.txt:/host/hostfile.txt:ro
    working_dir: /data
    user: "nobody"
    tmpfs: /scratch
    read_only: true
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 50
    restart: unless-stopped
    links:
      - web:webby
  db:
    image: busybox
    entrypoint: ["sh", "-c"]
    command: ["echo db up; exec sleep 300"]
    networks: [back]
    volumes_from: [worker]
volumes:
  shared:
networks:
  front:
  back:
EOF
dc() { docker-compose -p "$P" "$@"; }
dc config | sed "s#$WORK#WORK#g"
dc up -d --build >/dev/null 2>&1; echo "up rc=$?"
dc ps --services | sort
dc ps | tail -n +3 | awk '{print $1, $NF}' | sort
sleep 1
dc logs --no-color worker db | grep -v '^Attaching' | sort
echo "-- web answers on the published port"
for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- "http://127.0.0.1:$PORT/" 2>/dev/null && break; sleep 0.5; done
dc port web 80
echo "-- DNS from the worker (front and back)"
for n in web www site webby "${P}_web_1" db nothere; do
  if dc exec -T worker nslookup "$n" >/dev/null 2>&1; then echo "$n resolves"; else echo "$n does not resolve"; fi
done
echo "-- db only sees the back network"
for n in web worker; do
  if dc exec -T db nslookup "$n" >/dev/null 2>&1; then echo "$n resolves from db"; else echo "$n does not resolve from db"; fi
done
dc exec -T worker wget -qO- http://web/ 
dc exec -T worker wget -qO- http://webby/
echo "-- worker's view of itself"
dc exec -T worker sh -c 'id; pwd; cat /host/hostfile.txt; touch /x 2>&1 | sed "s/.*: //"; touch /scratch/ok && echo tmpfs writable; (echo hi > /data/shared.txt) 2>/dev/null && echo volume writable by nobody || echo volume not writable'
dc exec -T web cat /greeting
dc exec -T db sh -c 'ls -d /data /anon /host/hostfile.txt'
echo "-- inspect"
w=$(dc ps -q worker)
docker inspect -f '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.RestartPolicy.Name}} {{.Config.User}} {{.Config.WorkingDir}}' "$w"
docker inspect -f '{{range $k, $v := .HostConfig.Tmpfs}}{{$k}}={{$v}} {{end}}' "$w"; echo
docker inspect -f '{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}}{{"\n"}}{{end}}' "$w" | sort
docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$w"; echo
docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{index .Config.Labels "com.docker.compose.container-number"}} {{index .Config.Labels "com.docker.compose.oneoff"}}' "$w"
docker inspect -f '{{index .Config.Labels "tier"}}' "$(dc ps -q web)"
docker inspect -f '{{range .HostConfig.Links}}{{.}}{{end}}' "$w"
docker inspect -f '{{(index .NetworkSettings.Networks "'"$P"'_front").Aliases}}' "$(dc ps -q web)" | tr -d '[]' | tr ' ' '\n' | grep -v -E '^[0-9a-f]{12}$' | sort | tr '\n' ' '; echo
docker ps --filter "label=com.docker.compose.project=$P" --format '{{.Names}}' | sort
docker network ls --filter "label=com.docker.compose.project=$P" --format '{{.Name}}' | sort
docker volume ls --filter "label=com.docker.compose.project=$P" --format '{{.Name}}' | sort
dc images | tail -n +3 | awk '{print $1, $2, $3}' | sort
echo "-- down -v --rmi local"
dc down -v --rmi local >/dev/null 2>&1; echo "down rc=$?"
docker ps -a --filter "label=com.docker.compose.project=$P" -q | wc -l
docker network ls --filter "label=com.docker.compose.project=$P" -q | wc -l
docker volume ls -q | grep -c "$P" 
docker images -q "${P}_web" | wc -l
