# Signals: docker kill -s, stop with a trap, a custom --stop-signal, exit codes from signals.
docker run -d --name "$TAG-k" busybox sh -c 'trap "echo got-USR1" USR1; trap "echo got-HUP; exit 3" HUP; while true; do sleep 0.1; done' >/dev/null
sleep 0.5
docker kill -s USR1 "$TAG-k"  >/dev/null
sleep 0.5
docker kill -s SIGHUP "$TAG-k" >/dev/null
docker wait "$TAG-k"
docker logs "$TAG-k"
echo "-- numeric signal"
docker run -d --name "$TAG-n" busybox sh -c 'trap "exit 12" TERM; while true; do sleep 0.1; done' >/dev/null
sleep 0.5
docker kill -s 15 "$TAG-n" >/dev/null
docker wait "$TAG-n"
echo "-- kill default is KILL"
docker run -d --name "$TAG-d" busybox sleep 300 >/dev/null
docker kill "$TAG-d" >/dev/null
docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$TAG-d"
echo "-- stop with a trap"
docker run -d --name "$TAG-t" busybox sh -c 'trap "echo bye; exit 0" TERM; while true; do sleep 0.1; done' >/dev/null
sleep 0.5
docker stop "$TAG-t"
docker logs "$TAG-t"
docker inspect -f '{{.State.ExitCode}}' "$TAG-t"
echo "-- --stop-signal"
docker run -d --name "$TAG-s" --stop-signal USR2 busybox sh -c 'trap "echo usr2; exit 5" USR2; while true; do sleep 0.1; done' >/dev/null
sleep 0.5
docker stop "$TAG-s" >/dev/null
docker logs "$TAG-s"
docker inspect -f '{{.Config.StopSignal}} {{.State.ExitCode}}' "$TAG-s"
docker run -d --name "$TAG-q" busybox sh -c 'trap "exit 9" QUIT; while true; do sleep 0.1; done' >/dev/null
sleep 0.5
docker kill -s QUIT "$TAG-q" >/dev/null
docker wait "$TAG-q"
echo "-- errors"
docker kill -s NOPE "$TAG-q" 2>&1; echo "rc=$?"
docker kill "$TAG-q" 2>&1; echo "rc=$?"
docker stop "$TAG-q"; echo "rc=$?"
docker kill "$TAG-missing" 2>&1; echo "rc=$?"
echo "-- killed by a signal: 128+n"
docker run --name "$TAG-self" busybox sh -c 'kill -9 $$; sleep 1; echo still' ; echo "rc=$?"
docker run busybox sh -c 'sh -c "kill -TERM \$\$"; echo child=$?'
