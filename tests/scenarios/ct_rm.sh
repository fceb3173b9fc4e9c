# docker rm: -f, -v, --rm and anonymous volumes, errors.
docker run -d --name "$TAG-r" busybox sleep 30 >/dev/null
docker rm "$TAG-r" 2>&1; echo "rc=$?"
docker rm -f "$TAG-r"; echo "rc=$?"
docker rm "$TAG-r" 2>&1; echo "again rc=$?"
docker rm -f "$TAG-r" 2>&1; echo "-f missing rc=$?"
docker create --name "$TAG-a" busybox true >/dev/null
docker create --name "$TAG-b" busybox true >/dev/null
docker rm "$TAG-a" "$TAG-none" "$TAG-b" 2>&1; echo "rc=$?"
echo "-- anonymous volumes"
docker create --name "$TAG-v" -v /anon -v "$TAG-named:/named" busybox true >/dev/null
docker volume ls -q --filter name="$TAG" | wc -l
anon=$(docker inspect -f '{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Name}}{{end}}{{end}}' "$TAG-v")
docker rm -v "$TAG-v" >/dev/null
docker volume inspect "$anon" >/dev/null 2>&1 && echo "anon kept" || echo "anon removed"
docker volume inspect "$TAG-named" >/dev/null 2>&1 && echo "named kept" || echo "named removed"
docker create --name "$TAG-w" -v /anon2 busybox true >/dev/null
anon=$(docker inspect -f '{{range .Mounts}}{{.Name}}{{end}}' "$TAG-w")
docker rm "$TAG-w" >/dev/null
docker volume inspect "$anon" >/dev/null 2>&1 && echo "anon kept without -v" || echo "anon removed without -v"
docker volume rm "$anon" >/dev/null
docker run --rm --name "$TAG-x" -v /anon3 -v "$TAG-named:/named" busybox sh -c 'echo hi > /anon3/f; echo hi > /named/f'
docker volume ls -q | grep -c "$TAG-named"
docker run --rm -v "$TAG-named:/named" busybox cat /named/f
docker volume rm "$TAG-named"
echo "-- a volume shared by --volumes-from survives rm -v of the first"
docker create --name "$TAG-d1" -v /shared busybox true >/dev/null
shared=$(docker inspect -f '{{range .Mounts}}{{.Name}}{{end}}' "$TAG-d1")
docker create --name "$TAG-d2" --volumes-from "$TAG-d1" busybox true >/dev/null
docker rm -v "$TAG-d1" >/dev/null
docker volume inspect "$shared" >/dev/null 2>&1 && echo "shared kept" || echo "shared removed"
docker rm -v "$TAG-d2" >/dev/null
docker volume inspect "$shared" >/dev/null 2>&1 && echo "shared kept" || echo "shared removed"
echo "-- prune"
docker create --name "$TAG-p1" busybox true >/dev/null
docker run -d --name "$TAG-p2" busybox sleep 30 >/dev/null
docker container prune -f --filter label=nothing >/dev/null
docker ps -a --filter name="$TAG" --format '{{.Names}}' | sort
docker rm -f "$TAG-p2" "$TAG-p1" >/dev/null
