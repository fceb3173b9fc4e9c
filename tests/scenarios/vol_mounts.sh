# --mount (bind/volume/tmpfs), -v modes, --read-only with --tmpfs, volume commands.
mkdir -p "$WORK/b"; echo host > "$WORK/b/f"
docker run --rm --mount "type=bind,source=$WORK/b,target=/b,readonly" busybox sh -c 'cat /b/f; touch /b/x 2>/dev/null || echo ro-bind'
docker run --rm --mount "type=bind,src=$WORK/b,dst=/b" busybox sh -c 'echo written > /b/w'; cat "$WORK/b/w"
docker run --rm --mount "type=volume,src=$TAG-v,dst=/v" busybox sh -c 'echo vol > /v/f'
docker run --rm --mount "type=volume,src=$TAG-v,dst=/v,ro" busybox sh -c 'cat /v/f; touch /v/x 2>/dev/null || echo ro-volume'
docker run --rm --mount "type=tmpfs,dst=/t,tmpfs-size=1048576" busybox sh -c 'grep " /t " /proc/mounts | cut -d" " -f3,4'
docker run --rm --tmpfs /t:rw,size=2m,mode=1770 busybox sh -c 'grep " /t " /proc/mounts | cut -d" " -f3,4; stat -c %a /t'
docker run --rm --tmpfs /t busybox sh -c 'grep " /t " /proc/mounts | cut -d" " -f3,4'
echo "-- --read-only"
docker run --rm --read-only busybox sh -c 'touch /x 2>&1; touch /tmp/x 2>&1; echo > /dev/null && echo dev-ok'
docker run --rm --read-only --tmpfs /tmp busybox sh -c 'touch /tmp/x && echo tmp-writable; touch /etc/x 2>/dev/null || echo etc-ro'
docker run --rm --read-only -v "$TAG-v:/v" busybox sh -c 'echo more >> /v/f && cat /v/f'
docker run --rm --read-only busybox sh -c 'grep " / " /proc/mounts | cut -d" " -f4 | cut -d, -f1'
docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$(docker create --read-only busybox true)"
echo "-- inspect Mounts"
docker create --name "$TAG-m" -v "$TAG-v:/named:ro" -v "$WORK/b:/bound" -v /anon --tmpfs /tt --mount "type=tmpfs,dst=/mt" busybox true >/dev/null
docker inspect -f '{{range .Mounts}}{{.Type}}|{{.Destination}}|{{.Mode}}|{{.RW}}|{{.Propagation}}|{{.Driver}};{{end}}' "$TAG-m" | tr ';' '\n' | sort
docker inspect -f '{{json .HostConfig.Tmpfs}}' "$TAG-m"
echo "-- volume commands"
docker volume create --label a=b "$TAG-l" >/dev/null
docker volume inspect -f '{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}} {{.Options}}' "$TAG-l" | sed "s/$TAG/T/g"
docker volume ls --filter "name=$TAG" --format '{{.Name}} {{.Driver}}' | sed "s/$TAG/T/g" | sort
docker volume ls --filter label=a=b --format '{{.Name}}' | sed "s/$TAG/T/g"
docker volume ls -q --filter dangling=true | grep -c "$TAG-l"
docker volume rm "$TAG-v" 2>&1 | sed -E "s/$TAG/T/g; s/[0-9a-f]{64}/ID/g"; echo "rc=${PIPESTATUS[0]}"
docker rm "$TAG-m" >/dev/null
docker volume rm "$TAG-v" "$TAG-l"
docker volume rm "$TAG-v" 2>&1 | sed "s/$TAG/T/g"; echo "rc=${PIPESTATUS[0]}"
docker volume create "$TAG-p" >/dev/null
docker volume prune -f --filter "label=nothing-$TAG" | tail -1
docker volume rm "$TAG-p" >/dev/null
