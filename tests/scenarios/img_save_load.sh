# save and load within one engine: the messages, tags and ids that come back.
mkdir ctx && printf 'FROM busybox\nRUN echo saved > /s\nCMD ["cat", "/s"]\n' > ctx/Dockerfile
docker build -q -t "$TAG-s:1" ctx >/dev/null && docker tag "$TAG-s:1" "$TAG-s:2"
id=$(docker images -q "$TAG-s:1")
docker save -o both.tar "$TAG-s:1" "$TAG-s:2"
docker save "$TAG-s:1" > one.tar
docker rmi "$TAG-s:1" "$TAG-s:2" >/dev/null
docker load -i both.tar
docker run --rm "$TAG-s:2"
[ "$(docker images -q "$TAG-s:1")" = "$id" ] && echo "same id"
docker rmi "$TAG-s:2" >/dev/null
docker load < one.tar | sed -E 's/[0-9a-f]{64}/ID/'
docker images --format '{{.Repository}}:{{.Tag}}' "$TAG-s"
echo "-- loading what is not an image"
echo "not a tar" > junk.tar
docker load -i junk.tar >/dev/null 2>&1; echo "rc=$?"  # the wording differs: Docker reports its helper process
docker load -i missing.tar 2>&1 | head -1
docker rmi "$TAG-s:1" >/dev/null
