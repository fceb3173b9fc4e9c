# All 256 byte values through docker run, logs, exec and cp must arrive intact.
gen='i=0; while [ $i -lt 256 ]; do printf "\\$(printf %o $i)"; i=$((i+1)); done'
docker run --rm busybox sh -c "$gen" | md5sum
docker run --rm busybox sh -c "$gen; $gen >&2" 2>&1 >/dev/null | md5sum
docker run --rm busybox sh -c "head -c 3000000 /dev/zero | tr '\\0' 'z'" | md5sum
docker run -d --name "$TAG-b" busybox sh -c "$gen > /bin.dat; sleep 30" >/dev/null
sleep 1
docker exec "$TAG-b" cat /bin.dat | md5sum
docker cp "$TAG-b:/bin.dat" "$WORK/out.dat"; md5sum < "$WORK/out.dat"
docker cp "$TAG-b:/bin.dat" - | tar -xOf - | md5sum
head -c 100000 /dev/zero | tr '\0' '\377' > "$WORK/ff.dat"; md5sum < "$WORK/ff.dat"
docker cp "$WORK/ff.dat" "$TAG-b:/ff.dat"
docker exec "$TAG-b" md5sum /ff.dat | cut -d' ' -f1
printf 'x\000y\377z' | docker exec -i "$TAG-b" sh -c 'cat > /in.dat; od -An -tx1 /in.dat'
docker rm -f "$TAG-b" >/dev/null
echo "-- a line without newline, and a long line"
docker run --rm busybox printf 'no-newline'; echo
docker run --rm busybox sh -c 'head -c 70000 /dev/zero | tr "\0" a' | wc -c
cid=$(docker run -d busybox sh -c 'head -c 70000 /dev/zero | tr "\0" a; printf end')
docker wait "$cid" >/dev/null
docker logs "$cid" | wc -c
docker rm "$cid" >/dev/null
echo "-- binary stdin round trips"
head -c 3000000 /dev/urandom > "$WORK/rand"
docker run --rm -i busybox cat < "$WORK/rand" | cmp - "$WORK/rand" && echo "run -i: identical"
docker run -d --name "$TAG-i" busybox sleep 30 >/dev/null
docker exec -i "$TAG-i" cat < "$WORK/rand" | cmp - "$WORK/rand" && echo "exec -i: identical"
docker exec -i "$TAG-i" sh -c 'cat > /r; md5sum /r | cut -c1-32' < "$WORK/rand" | cmp -s - <(md5sum < "$WORK/rand" | cut -c1-32) && echo "exec -i to a file: identical"
docker rm -f "$TAG-i" >/dev/null
