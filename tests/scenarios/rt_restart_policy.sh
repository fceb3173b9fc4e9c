# Restart policies: on-failure with a limit, always, unless-stopped; what inspect and ps show.
docker run -d --name "$TAG-f" --restart on-failure:2 busybox sh -c 'echo run; exit 3' >/dev/null
sleep 4
docker inspect -f '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}' "$TAG-f"
docker logs "$TAG-f"
docker run -d --name "$TAG-ok" --restart on-failure busybox true >/dev/null
sleep 1
docker inspect -f '{{.RestartCount}} {{.State.Status}}' "$TAG-ok"
docker run -d --name "$TAG-a" --restart always busybox sh -c 'sleep 0.3; exit 1' >/dev/null
sleep 3
n=$(docker inspect -f '{{.RestartCount}}' "$TAG-a"); [ "$n" -ge 2 ] && echo "always restarted"
docker stop "$TAG-a" >/dev/null
docker inspect -f '{{.State.Status}} {{.State.Restarting}}' "$TAG-a"
sleep 1
docker inspect -f '{{.State.Status}}' "$TAG-a"
docker run -d --name "$TAG-u" --restart unless-stopped busybox sleep 30 >/dev/null
docker inspect -f '{{.HostConfig.RestartPolicy.Name}} {{.State.Status}}' "$TAG-u"
docker kill "$TAG-u" >/dev/null
sleep 1
docker inspect -f '{{.State.Status}} {{.RestartCount}}' "$TAG-u"
echo "-- errors"
docker run --rm --restart always busybox true 2>&1; echo "rc=$?"
docker run -d --restart bogus busybox true 2>&1; echo "rc=$?"
docker run -d --restart always:3 busybox true 2>&1; echo "rc=$?"
echo "-- docker restart"
docker run -d --name "$TAG-r" busybox sh -c 'echo started; sleep 30' >/dev/null
sleep 0.5
docker restart -t 1 "$TAG-r"
sleep 0.5
docker inspect -f '{{.State.Status}} {{.RestartCount}}' "$TAG-r"
docker logs "$TAG-r"
docker create --name "$TAG-c" busybox echo created-then-restarted >/dev/null
docker restart "$TAG-c" >/dev/null; docker wait "$TAG-c"; docker logs "$TAG-c"
