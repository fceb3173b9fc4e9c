# What the daemon answers to mistakes, through the CLI: messages and exit codes.
e() { "$@" 2>&1 | sed -E "s/$TAG/T/g; s/[0-9a-f]{64}/ID/g"; echo "rc=${PIPESTATUS[0]}"; }
e docker start "$TAG-none"
e docker stop "$TAG-none"
e docker restart "$TAG-none"
e docker pause "$TAG-none"
e docker inspect "$TAG-none"
e docker inspect --type container "$TAG-none"
e docker inspect --type image "$TAG-none"
e docker inspect --type volume "$TAG-none"
e docker inspect --type network "$TAG-none"
e docker logs "$TAG-none"
e docker rm "$TAG-none"
e docker rmi "$TAG-none"
e docker rmi "$TAG-none:v1"
e docker tag "$TAG-none" "$TAG-x"
e docker history "$TAG-none"
e docker image inspect "$TAG-none"
e docker volume inspect "$TAG-none"
e docker volume rm "$TAG-none"
e docker network rm "$TAG-none"
e docker exec "$TAG-none" true
e docker top "$TAG-none"
e docker port "$TAG-none"
e docker update --memory 64m "$TAG-none"
echo "-- bad names and references"
e docker run --name 'bad name' busybox true
e docker run --name x busybox true
e docker create 'Bad:Image'
e docker create 'busybox:bad tag'
e docker tag busybox 'Bad/Name'
e docker tag busybox "$TAG:bad:tag"
e docker volume create 'bad/name'
e docker network create 'bad name'
docker network rm 'bad name' >/dev/null 2>&1
echo "-- state conflicts"
docker run -d --name "$TAG-r" busybox sleep 30 >/dev/null
docker create --name "$TAG-c" busybox true >/dev/null
e docker start "$TAG-r"
e docker unpause "$TAG-r"
e docker kill "$TAG-c"
e docker exec "$TAG-c" true
e docker rm "$TAG-r"
e docker rmi busybox
e docker volume create "$TAG-v"
docker run -d --name "$TAG-u" -v "$TAG-v:/v" busybox sleep 30 >/dev/null
e docker volume rm "$TAG-v"
e docker network create "$TAG-n"
e docker network create "$TAG-n"
e docker network rm bridge
e docker network connect "$TAG-n" "$TAG-none"
e docker network connect "$TAG-none" "$TAG-r"
e docker network disconnect "$TAG-n" "$TAG-r"
docker rm -f "$TAG-r" "$TAG-c" "$TAG-u" >/dev/null; docker volume rm "$TAG-v" >/dev/null; docker network rm "$TAG-n" >/dev/null
echo "-- bad flag values the daemon checks"
e docker run --rm -v /a:b busybox true
e docker run --rm -v :/a busybox true
e docker run --rm -v /a:/b:bogus busybox true
e docker run --rm -v /a:/b -v /c:/b busybox true
e docker run --rm --mount type=bind,source=/nonexistent-"$TAG",target=/x busybox true
e docker run --rm --mount type=volume,target=relative busybox true
e docker run --rm --tmpfs relative busybox true
e docker run --rm --restart on-failure:-1 busybox true
e docker run --rm --pids-limit -5 busybox true
e docker run --rm --cpu-shares -1 busybox true
e docker run --rm --memory-swap 10m busybox true
e docker run --rm --volumes-from "$TAG-none" busybox true
e docker run --rm -u nosuch busybox true
e docker run --rm -w relative busybox pwd
e docker run --rm --entrypoint /no/such busybox
e docker run --rm busybox ''
e docker run --rm --stop-signal NOPE busybox true
e docker run --rm --log-driver bogus busybox true
e docker run --rm --network bogus-"$TAG" busybox true
e docker run --rm --memory 1m "$TAG-noimage" true
e docker run --rm -w relative "$TAG-noimage" true
