# docker export / import, and save / load round trips.
docker run --name "$TAG-e" busybox sh -c 'echo exported > /marker; mkdir /d; ln -s /marker /d/link'
docker export "$TAG-e" > "$WORK/fs.tar"
tar -tf "$WORK/fs.tar" | grep -E '^(marker|d/|d/link|\.dockerenv|etc/hostname|etc/hosts|etc/resolv.conf|proc/|sys/|dev/)$' | sort
tar -tvf "$WORK/fs.tar" d/link | awk '{print $1, $NF}'
docker export -o "$WORK/fs2.tar" "$TAG-e"; cmp -s "$WORK/fs.tar" "$WORK/fs2.tar" && echo same-size-content || tar -tf "$WORK/fs2.tar" | wc -l | grep -q . && echo exported-again
docker import "$WORK/fs.tar" "$TAG-imp:v1" | grep -c sha256
docker run --rm "$TAG-imp:v1" cat /marker 2>&1; echo "rc=$?"
docker inspect -f '{{.Config.Cmd}} {{len .RootFS.Layers}} {{.Architecture}} {{.Os}}' "$TAG-imp:v1"
cat "$WORK/fs.tar" | docker import -c 'CMD ["cat","/marker"]' -c 'ENV X=1' -m imported - "$TAG-imp:v2" >/dev/null
docker run --rm "$TAG-imp:v2"
docker history --format '{{.Comment}}' "$TAG-imp:v2"
docker import "$WORK/nosuch.tar" 2>&1 | sed "s#$WORK#WORK#"; echo "rc=${PIPESTATUS[0]}"
echo "not a tar" > "$WORK/bad.tar"
docker import "$WORK/bad.tar" "$TAG-bad" >/dev/null 2>&1; echo "bad tar rc=$?"  # the wording is Go's archive/tar's
docker export "$TAG-none" 2>&1; echo "rc=$?"
echo "-- save / load"
docker save -o "$WORK/img.tar" "$TAG-imp:v2"
docker rmi "$TAG-imp:v2" >/dev/null
docker load -i "$WORK/img.tar"
docker run --rm "$TAG-imp:v2"
docker save "$TAG-imp:v2" "$TAG-imp:v1" | docker load | sort
docker save "$TAG-none" > /dev/null 2>&1; echo "save missing rc=$?"
