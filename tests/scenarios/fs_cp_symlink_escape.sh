# A symlink in the image aimed at the host must never let cp (or a mount) reach host files.
mkdir -p "$WORK/host"; echo host-secret > "$WORK/host/secret"
docker run --name "$TAG-s" busybox sh -c "ln -s $WORK/host /escape; ln -s ../../../../../../$WORK/host /rel-escape; ln -s /etc/passwd /pw"
docker commit "$TAG-s" "$TAG-img" >/dev/null
docker create --name "$TAG-c" "$TAG-img" sleep 300 >/dev/null
echo "-- reading through the links (stopped)"
docker cp "$TAG-c:/escape/secret" "$WORK/got1" 2>&1 | sed "s#$WORK#WORK#" | grep -v "level=error"; cat "$WORK/got1" 2>/dev/null || echo "no host file read"
docker cp "$TAG-c:/rel-escape/secret" "$WORK/got2" 2>&1 | sed "s#$WORK#WORK#" | grep -v "level=error"; cat "$WORK/got2" 2>/dev/null || echo "no host file read"
echo "-- writing through the links (stopped)"
echo evil > "$WORK/evil"
docker cp "$WORK/evil" "$TAG-c:/escape/" 2>&1 | sed "s#$WORK#WORK#" | grep -v "level=error"
docker cp "$WORK/evil" "$TAG-c:/rel-escape/planted" 2>&1 | sed "s#$WORK#WORK#" | grep -v "level=error"
ls "$WORK/host"
docker start "$TAG-c" >/dev/null
echo "-- reading and writing through the links (running)"
docker cp "$TAG-c:/escape/secret" "$WORK/got3" 2>&1 | sed "s#$WORK#WORK#" | grep -v "level=error"; cat "$WORK/got3" 2>/dev/null || echo "no host file read"
docker cp "$WORK/evil" "$TAG-c:/escape/" 2>&1 | sed "s#$WORK#WORK#" | grep -v "level=error"
docker cp "$WORK/evil" "$TAG-c:/rel-escape/x2" 2>&1 | sed "s#$WORK#WORK#" | grep -v "level=error"
ls "$WORK/host"
docker exec "$TAG-c" sh -c 'ls /escape 2>&1; ls "$(readlink /escape)" 2>&1 | head -3' | sed "s#$WORK#WORK#"
docker cp "$TAG-c:/pw" - | tar -tf -
echo "-- a volume mounted at the link goes inside the container"
docker run --rm -v "$TAG-vol:/escape" "$TAG-img" sh -c 'echo in-volume > /escape/file; ls /escape'
ls "$WORK/host"
docker run --rm --tmpfs /escape "$TAG-img" sh -c 'touch /escape/t; ls /escape'
ls "$WORK/host"
docker rm -f "$TAG-c" >/dev/null; docker volume rm "$TAG-vol" >/dev/null
