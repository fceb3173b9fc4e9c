# (the CLI's "level=error ... closed pipe" lines depend on timing: dropped)
# docker cp both ways: files, directories, dir/., symlinks, running and stopped containers.
mkdir -p "$WORK/src/sub"; echo top > "$WORK/src/top"; echo deep > "$WORK/src/sub/deep"; ln -s top "$WORK/src/link"
docker run -d --name "$TAG-c" busybox sh -c 'mkdir -p /data/d; echo one > /data/one; echo two > /data/d/two; ln -s /data/one /data/abs; ln -s one /data/rel; sleep 300' >/dev/null
sleep 0.5
echo "-- into the container"
docker cp "$WORK/src" "$TAG-c:/in"
docker exec "$TAG-c" sh -c 'cd /in && find . | sort && cat sub/deep && readlink link'
docker cp "$WORK/src/." "$TAG-c:/in2"
docker exec "$TAG-c" sh -c 'ls -A /in2 | sort | tr "\n" " "; echo'
docker exec "$TAG-c" mkdir /exists
docker cp "$WORK/src" "$TAG-c:/exists"
docker exec "$TAG-c" sh -c 'ls /exists; ls /exists/src | sort | tr "\n" " "; echo'
docker cp "$WORK/src/top" "$TAG-c:/renamed"
docker exec "$TAG-c" cat /renamed
docker cp "$WORK/src/top" "$TAG-c:/data/"
docker exec "$TAG-c" cat /data/top
docker cp "$WORK/src/top" "$TAG-c:/nodir/" 2>&1 | sed "s#$WORK#WORK#" | grep -v "level=error"; echo "rc=${PIPESTATUS[0]}"
docker cp "$WORK/nosuch" "$TAG-c:/x" 2>&1 | sed "s#$WORK#WORK#" | grep -v "level=error"; echo "rc=${PIPESTATUS[0]}"
docker cp "$WORK/src" "$TAG-c:/renamed" 2>&1 | grep -v "level=error"; echo "dir over file rc=${PIPESTATUS[0]}"
echo "-- out of the container"
docker cp "$TAG-c:/data" "$WORK/out1"
(cd "$WORK/out1" && find . | sort)
readlink "$WORK/out1/abs" "$WORK/out1/rel"
mkdir "$WORK/out2"; docker cp "$TAG-c:/data/." "$WORK/out2"; ls "$WORK/out2" | sort | tr '\n' ' '; echo
docker cp "$TAG-c:/data/one" "$WORK/one"; cat "$WORK/one"
docker cp "$TAG-c:/data/abs" "$WORK/abs"; ls -l "$WORK/abs" | awk '{print substr($1,1,1), $NF}'
docker cp -L "$TAG-c:/data/abs" "$WORK/absL"; cat "$WORK/absL"
docker cp "$TAG-c:/data/one" - | tar -tvf - | awk '{print $1, $2, $NF}'
docker cp "$TAG-c:/nosuch" "$WORK/x" 2>&1; echo "rc=$?"
docker cp "$TAG-c:/data/one" "$WORK/nodir/" 2>&1 | sed "s#$WORK#WORK#" | grep -v "level=error"; echo "rc=${PIPESTATUS[0]}"
echo "-- stopped container, both ways"
docker stop -t 0 "$TAG-c" >/dev/null
docker cp "$WORK/src/top" "$TAG-c:/stopped-in"
docker cp "$TAG-c:/stopped-in" "$WORK/stopped-out"; cat "$WORK/stopped-out"
docker cp "$TAG-c:/data/d/two" - | tar -xOf -
docker start "$TAG-c" >/dev/null; docker exec "$TAG-c" cat /stopped-in
echo "-- ownership and -a"
docker exec "$TAG-c" sh -c 'ls -ln /in/top | awk "{print \$3, \$4}"'
docker cp "$TAG-none:/x" "$WORK/x" 2>&1; echo "rc=$?"
docker cp "$WORK/src/top" "$TAG-none:/x" 2>&1; echo "rc=$?"
