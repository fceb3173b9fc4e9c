# docker logs with --log-opt max-size/max-file: rotation as json-file's, read across the kept files; bad options.
# Each line is ~200 bytes, so a json-file record is ~270: four of them take a 1k (1000-byte) file to max-size.
lines='x=$(printf "%0196d" 0); for i in $(seq 1 30); do printf "%03d %s\n" $i $x; done'
echo "-- max-size=1k max-file=3: the last three files, oldest first"
docker run --name "$TAG-r" --log-opt max-size=1k --log-opt max-file=3 busybox sh -c "$lines" | cut -c1-3 | tail -1
docker inspect -f '{{json .HostConfig.LogConfig}}' "$TAG-r"
docker logs "$TAG-r" | cut -c1-3 | tr '\n' ' '; echo
docker logs --tail 3 "$TAG-r" | cut -c1-3 | tr '\n' ' '; echo
docker logs --tail 12 "$TAG-r" | wc -l
docker logs --since 2000-01-01T00:00:00Z "$TAG-r" | wc -l
docker logs -t --tail 1 "$TAG-r" | sed -E 's/^[0-9-]{10}T[0-9:]{8}\.[0-9]{9}Z /TS /' | cut -c1-6
echo "-- max-size=1k alone: one file (max-file defaults to 1)"
docker run --name "$TAG-one" --log-opt max-size=1k busybox sh -c "$lines" >/dev/null
docker logs "$TAG-one" | cut -c1-3 | tr '\n' ' '; echo
echo "-- max-file without max-size: nothing rotates"
docker run --name "$TAG-all" --log-opt max-file=2 busybox sh -c "$lines" >/dev/null
docker logs "$TAG-all" | wc -l
echo "-- a restarted container's log goes on rotating"
docker start -a "$TAG-r" >/dev/null
docker logs "$TAG-r" | cut -c1-3 | tr '\n' ' '; echo
echo "-- follow across rotations"
docker run -d --name "$TAG-f" --log-opt max-size=1k --log-opt max-file=2 busybox sh -c \
  'x=$(printf "%0196d" 0); for i in $(seq 1 30); do printf "%03d %s\n" $i $x; sleep 0.05; done' >/dev/null
# (uniq: Docker 20.10's follower repeats the last line before each rotation; nbdock's does not.)
timeout 30 docker logs -f "$TAG-f" | cut -c1-3 | uniq | tr '\n' ' '; echo
echo "-- bad options"
n=0
for opt in foo=bar max-size=abc max-size= max-size=0 max-size=0.5 max-size=1.2.3 max-file=0 max-file=x compress=yes \
           compress=true mode=fast max-buffer-size=4m; do
  n=$((n + 1))
  docker run --name "$TAG-bad$n" --log-opt "$opt" busybox true 2>&1 | head -1; echo "rc=${PIPESTATUS[0]}"
  docker rm -f "$TAG-bad$n" >/dev/null 2>&1
done
echo "-- good sizes"
for size in 10m 1.5k 10MiB 2g 100; do
  docker run --rm --log-opt max-size=$size busybox echo "$size ok"
done
