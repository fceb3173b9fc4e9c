# docker wait, and the conditions docker run relies on.
docker run -d --name "$TAG-w1" busybox sh -c 'sleep 1; exit 3' >/dev/null
docker run -d --name "$TAG-w2" busybox sh -c 'sleep 0.5; exit 4' >/dev/null
docker wait "$TAG-w1" "$TAG-w2"
docker wait "$TAG-w1"
docker create --name "$TAG-c" busybox true >/dev/null
timeout 3 docker wait "$TAG-c"; echo "wait created rc=$?"
docker wait "$TAG-none" 2>&1; echo "rc=$?"
docker wait "$TAG-w1" "$TAG-none" 2>&1; echo "rc=$?"
docker run -d --rm --name "$TAG-r" busybox sh -c 'sleep 1; exit 5' >/dev/null
docker wait "$TAG-r" 2>&1 | sed 's/^Error.*No such container.*/gone/'; 
docker run --rm busybox sh -c 'exit 9'; echo "run --rm rc=$?"
docker run -d --name "$TAG-k" busybox sleep 30 >/dev/null
( sleep 1; docker rm -f "$TAG-k" >/dev/null ) &
docker wait "$TAG-k"; echo "removed while waiting rc=$?"
wait
