# pause/unpause: the freezer, what ps and inspect show, what refuses while paused.
docker run -d --name "$TAG-p" busybox sh -c 'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done' >/dev/null
sleep 0.5
docker pause "$TAG-p"
docker inspect -f '{{.State.Status}} {{.State.Paused}} {{.State.Running}}' "$TAG-p"
docker ps --format '{{.Names}} {{.Status}}' | sed 's/Up [^(]*/Up X /'
docker ps --filter status=paused --format '{{.Names}}'
docker pause "$TAG-p" 2>&1; echo "rc=$?"
docker exec "$TAG-p" true 2>&1; echo "rc=$?"
docker stop -t 1 "$TAG-p" >/dev/null 2>&1; echo "stop paused rc=$?"
docker inspect -f '{{.State.Status}}' "$TAG-p"
docker unpause "$TAG-p" 2>&1; echo "rc=$?"
docker rm -f "$TAG-p" >/dev/null
docker run -d --name "$TAG-q" busybox sleep 30 >/dev/null
docker pause "$TAG-q" >/dev/null
docker unpause "$TAG-q"
docker inspect -f '{{.State.Status}} {{.State.Paused}}' "$TAG-q"
docker unpause "$TAG-q" 2>&1; echo "rc=$?"
docker pause "$TAG-q" >/dev/null
docker rm -f "$TAG-q"
docker create --name "$TAG-c" busybox true >/dev/null
docker pause "$TAG-c" 2>&1; echo "rc=$?"
docker pause "$TAG-none" 2>&1; echo "rc=$?"
docker unpause "$TAG-c" 2>&1; echo "rc=$?"
