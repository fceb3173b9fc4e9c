# docker attach, docker start -a/-i.
docker run -d --name "$TAG-a" busybox sh -c 'sleep 1; echo late-out; echo late-err >&2; exit 4' >/dev/null
docker attach "$TAG-a"; echo "rc=$?"
docker attach "$TAG-a" 2>&1; echo "attach stopped rc=$?"
docker run -d -i --name "$TAG-i" busybox sh -c 'sleep 1; read x; echo "got $x"' >/dev/null
echo hello | docker attach "$TAG-i"; echo "rc=$?"
docker create --name "$TAG-s" busybox sh -c 'echo from-start; exit 2' >/dev/null
docker start -a "$TAG-s"; echo "rc=$?"
docker start -a "$TAG-s"; echo "again rc=$?"
docker create -i --name "$TAG-si" busybox sh -c 'cat; echo end' >/dev/null
echo piped-in | docker start -ai "$TAG-si"; echo "rc=$?"
docker start "$TAG-s"; docker wait "$TAG-s"
docker logs "$TAG-s"
docker attach "$TAG-none" 2>&1; echo "rc=$?"
docker start "$TAG-none" 2>&1; echo "rc=$?"
docker start "$TAG-none" "$TAG-s" 2>&1; echo "rc=$?"
echo "-- attach --no-stdin and sig-proxy"
docker run -d --name "$TAG-n" busybox sh -c 'trap "echo int; exit 1" INT; sleep 1; echo n; sleep 30' >/dev/null
timeout -s INT 3 docker attach "$TAG-n"; echo "rc=$?"
sleep 0.5
docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$TAG-n"
