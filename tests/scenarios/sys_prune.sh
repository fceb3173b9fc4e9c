# The prune commands: what they remove, what they keep, and what they report.
docker create --name "$TAG-stopped" busybox true >/dev/null
docker run -d --name "$TAG-running" busybox sleep 30 >/dev/null
docker container prune -f | sed -E 's/^[0-9a-f]{64}$/ID/' | grep -v '^Total'
docker ps -a --format '{{.Names}}' | grep "$TAG" | sort
docker volume create "$TAG-unused" >/dev/null; docker volume create "$TAG-used" >/dev/null
docker run -d --name "$TAG-user" -v "$TAG-used:/v" busybox sleep 30 >/dev/null
docker volume prune -f | grep -v '^Total' | sort
docker volume ls -q | grep "$TAG" | sort
docker network create "$TAG-net1" >/dev/null; docker network create "$TAG-net2" >/dev/null
docker network connect "$TAG-net2" "$TAG-running"
docker network prune -f | grep -v '^$' | sort
docker network ls --format '{{.Name}}' | grep "$TAG" | sort
mkdir ctx && printf 'FROM busybox\nRUN echo 1 > /one\n' > ctx/Dockerfile
docker build -q -t "$TAG-img:v1" ctx >/dev/null; printf 'FROM busybox\nRUN echo 2 > /one\n' > ctx/Dockerfile
docker build -q -t "$TAG-img:v1" ctx >/dev/null
docker images --filter dangling=true -q | wc -l
docker image prune -f | sed -E 's/sha256:[0-9a-f]{64}/ID/' | grep -v '^Total' | sort | uniq -c | sed -E 's/^ +//'
docker images --filter dangling=true -q | wc -l
docker rm -f "$TAG-running" "$TAG-user" >/dev/null; docker volume rm "$TAG-used" >/dev/null; docker network rm "$TAG-net2" >/dev/null
docker rmi "$TAG-img:v1" >/dev/null
