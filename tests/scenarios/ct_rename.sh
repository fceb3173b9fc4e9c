# docker rename: the new name works everywhere, the old one is free, clashes are refused.
docker run -d --name "$TAG-a" busybox sleep 30 >/dev/null
docker rename "$TAG-a" "$TAG-b"
docker inspect -f '{{.Name}}' "$TAG-b"
docker inspect "$TAG-a" >/dev/null 2>&1 || echo "old name gone"
docker exec "$TAG-b" hostname | grep -c .
docker ps --filter name="$TAG" --format '{{.Names}}'
docker create --name "$TAG-c" busybox true >/dev/null
docker rename "$TAG-c" "$TAG-b" 2>&1; echo "rc=$?"
docker rename "$TAG-b" "$TAG-b" 2>&1; echo "rc=$?"
docker rename "$TAG-b" 'bad name!' 2>&1; echo "rc=$?"
docker rename "$TAG-none" "$TAG-x" 2>&1; echo "rc=$?"
docker rename "$TAG-c" "$TAG-a"; docker ps -a --filter name="$TAG" --format '{{.Names}}' | sort
docker run -d --name "$TAG-c" busybox true 2>&1 >/dev/null; echo "reuse old name rc=$?"
