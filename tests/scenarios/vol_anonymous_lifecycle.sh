# Anonymous volumes: from -v /path and from the image's VOLUME; removed by run --rm and rm -v, kept by plain rm.
mkdir ctx && printf 'FROM busybox\nRUN mkdir /data && echo seeded > /data/seed\nVOLUME /data\n' > ctx/Dockerfile
docker build -q -t "$TAG-vimg" ctx >/dev/null
before=$(docker volume ls -q | wc -l)
count() { echo "$1: $(( $(docker volume ls -q | wc -l) - before ))"; }
docker run --rm "$TAG-vimg" cat /data/seed; count "after run --rm"
docker run --name "$TAG-a" -v /extra "$TAG-vimg" true; count "after run (two anonymous)"
docker inspect -f '{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}} {{.Driver}}{{println}}{{end}}' "$TAG-a" | sort  # Docker keeps them in a Go map
docker rm "$TAG-a" >/dev/null; count "after rm without -v"
docker volume prune -f >/dev/null; count "after prune"
docker run --name "$TAG-b" "$TAG-vimg" sh -c 'echo changed > /data/seed'
docker run --rm --volumes-from "$TAG-b" busybox cat /data/seed
docker rm -v "$TAG-b" >/dev/null; count "after rm -v"
echo "-- a named volume over the VOLUME path gets the image's content once"
docker run --rm -v "$TAG-named:/data" "$TAG-vimg" sh -c 'cat /data/seed; echo mine > /data/seed'
docker run --rm -v "$TAG-named:/data" "$TAG-vimg" cat /data/seed
docker volume rm "$TAG-named" >/dev/null
echo "-- a volume in use cannot be removed"
docker run -d --name "$TAG-c" -v "$TAG-busy:/b" busybox sleep 30 >/dev/null
docker volume rm "$TAG-busy" 2>&1 | sed -E 's/\[[0-9a-f]{64}\]/[ID]/'; echo "rc=${PIPESTATUS[0]}"
docker rm -f "$TAG-c" >/dev/null; docker volume rm "$TAG-busy" >/dev/null
docker rmi "$TAG-vimg" >/dev/null
