# A mount destination that is a symlink in the image is resolved inside the container's root, never on the host.
mkdir -p "$WORK/host" "$WORK/src"; echo secret > "$WORK/host/keep"; echo mounted > "$WORK/src/m"
docker run --name "$TAG-mk" busybox sh -c "mkdir -p /x; ln -s $WORK/host /x/link; ln -s ../../../../../../../..$WORK/host /x/rel" >/dev/null
docker commit "$TAG-mk" "$TAG-img" >/dev/null
docker run --rm -v "$WORK/src:/x/link" "$TAG-img" sh -c "cat $WORK/host/m; readlink /x/link | sed 's|$WORK|WORK|'"
docker run --rm -v "$WORK/src:/x/rel/sub" "$TAG-img" sh -c "cat $WORK/host/sub/m"
docker run --rm --tmpfs /x/link "$TAG-img" sh -c "touch $WORK/host/t && echo tmpfs-ok"
docker volume create "$TAG-v" >/dev/null
docker run --rm -v "$TAG-v:/x/link" "$TAG-img" sh -c "echo via-volume > $WORK/host/v; cat $WORK/host/v"
docker run --rm --mount "type=bind,src=$WORK/src,dst=/x/link/deeper,readonly" "$TAG-img" sh -c "cat $WORK/host/deeper/m; touch $WORK/host/deeper/w 2>&1 | sed 's|$WORK|WORK|'"
echo "-- the host directory is untouched"
ls "$WORK/host"
ls "$WORK/src"
docker rm "$TAG-mk" >/dev/null; docker rmi "$TAG-img" >/dev/null; docker volume rm "$TAG-v" >/dev/null
