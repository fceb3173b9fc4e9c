# VOLUME in an image: a new volume gets a copy of the image's content; an existing one is left alone.
docker run --name "$TAG-src" busybox sh -c 'mkdir -p /data/sub; echo from-image > /data/f; echo deep > /data/sub/g; chown -R 1234:5678 /data; chmod 750 /data'
docker commit -c 'VOLUME /data' "$TAG-src" "$TAG-img" >/dev/null
docker inspect -f '{{json .Config.Volumes}}' "$TAG-img"
docker run --name "$TAG-a" "$TAG-img" sh -c 'cat /data/f /data/sub/g; ls -ldn /data | awk "{print \$1, \$3, \$4}"; echo added > /data/new'
docker inspect -f '{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}} {{.Driver}}{{end}}' "$TAG-a"
vol=$(docker inspect -f '{{range .Mounts}}{{.Name}}{{end}}' "$TAG-a")
docker run --rm -v "$vol:/x" busybox sh -c 'ls /x | sort | tr "\n" " "'; echo
echo "-- a named volume: copied once, when it is new and empty"
docker run --rm -v "$TAG-named:/data" "$TAG-img" sh -c 'cat /data/f; echo changed > /data/f'
docker run --rm -v "$TAG-named:/data" "$TAG-img" cat /data/f
docker run --rm -v "$TAG-named:/elsewhere" "$TAG-img" sh -c 'ls /elsewhere | sort | tr "\n" " "'; echo
echo "-- nocopy"
docker run --rm -v "$TAG-empty:/data:nocopy" "$TAG-img" sh -c 'ls -A /data | wc -l'
docker run --rm --mount "type=volume,source=$TAG-empty2,target=/data,volume-nocopy" "$TAG-img" sh -c 'ls -A /data | wc -l'
echo "-- a bind mount hides the image's content, no copy"
mkdir "$WORK/bind"
docker run --rm -v "$WORK/bind:/data" "$TAG-img" sh -c 'ls -A /data | wc -l'
ls -A "$WORK/bind" | wc -l
echo "-- a tmpfs over the VOLUME: no volume at all"
docker run --rm --tmpfs /data "$TAG-img" sh -c 'ls -A /data | wc -l; grep -c " /data tmpfs" /proc/mounts'
echo "-- --rm removes the anonymous volume, keeps the named"
before=$(docker volume ls -q | wc -l)
docker run --rm "$TAG-img" true
after=$(docker volume ls -q | wc -l)
echo "volumes added by --rm run: $((after - before))"
docker rm -v "$TAG-a" "$TAG-src" >/dev/null
docker volume inspect "$vol" >/dev/null 2>&1 && echo "anon kept" || echo "anon removed"
docker volume rm "$TAG-named" "$TAG-empty" "$TAG-empty2" >/dev/null
docker rmi "$TAG-img" >/dev/null
