# Health checks: probes run in the container on a schedule; starting -> healthy / unhealthy as Docker 20.10.
# Times vary between engines, so this prints what is stable: statuses, streaks, outputs, exit codes, events.
# Followed as they happen: dockerd keeps only its last 256 events, and probes make three each.
docker events --filter "container=$TAG-img1" --filter "container=$TAG-rs" --filter type=container \
  --format '{{.Actor.Attributes.name}} [{{.Action}}] {{.Actor.Attributes.team}}' > "$WORK/events" & events=$!
sleep 0.5

# wait_for NAME STATUS: poll State.Health.Status (up to 15 s), then print what it is.
wait_for() {
  for _ in $(seq 150); do
    s=$(docker inspect -f '{{.State.Health.Status}}' "$1")
    [ "$s" = "$2" ] && break
    sleep 0.1
  done
  echo "$1 $s"
}
health() { docker inspect -f '{{json .State.Health}}' "$1" | jq -c "$2"; }
ps_status() { docker ps -a --filter "name=$TAG-" --format '{{.Names}} {{.Status}}' | sed 's/Up [^(]*/Up X /' | sort; }

echo "-- healthy: CMD-SHELL, output kept"
docker run -d --name "$TAG-ok" --health-cmd 'echo hi; echo err >&2' --health-interval 200ms busybox sleep 300 >/dev/null
docker inspect -f '{{json .Config.Healthcheck}}' "$TAG-ok"
wait_for "$TAG-ok" healthy
# (stdout and stderr are two pipes: their order in Output is the engine's race, so sorted here)
health "$TAG-ok" '{Status, FailingStreak, last: (.Log[-1] | {ExitCode, lines: (.Output | split("\n") | sort)}), times: (.Log[-1] | (.Start < .End))}'

echo "-- unhealthy after retries"
docker run -d --name "$TAG-bad" --health-cmd 'echo bad; exit 3' --health-interval 200ms --health-retries 2 busybox sleep 300 >/dev/null
wait_for "$TAG-bad" unhealthy
health "$TAG-bad" '{Status, streak: (.FailingStreak >= 2), last: (.Log[-1] | {ExitCode, Output})}'
sleep 1.5
health "$TAG-bad" '{logs: (.Log | length)}'

echo "-- timeout: killed, a failure"
docker run -d --name "$TAG-slow" --health-cmd 'sleep 29' --health-interval 200ms --health-timeout 300ms --health-retries 1 busybox sleep 300 >/dev/null
wait_for "$TAG-slow" unhealthy
health "$TAG-slow" '.Log[0] | {ExitCode, Output}'
sleep 2
# Killed at the timeout: without that, ~6 would be running by now (one in flight, one dying is fine).
running=$(docker top "$TAG-slow" | grep -c 'sleep 29')
echo "no pile-up of probes: $([ "$running" -le 2 ] && echo yes || echo "no: $running")"

echo "-- start period: failures do not count while starting"
docker run -d --name "$TAG-sp" --health-cmd 'exit 1' --health-interval 200ms --health-retries 1 --health-start-period 20s busybox sleep 300 >/dev/null
sleep 1
health "$TAG-sp" '{Status, FailingStreak, failures: (.Log | length > 0)}'

echo "-- output cut at 4096 bytes"
docker run -d --name "$TAG-big" --health-cmd 'head -c 5000 /dev/zero | tr "\0" a' --health-interval 200ms busybox sleep 300 >/dev/null
wait_for "$TAG-big" healthy
health "$TAG-big" '.Log[0].Output | {length: length, tail: .[-5:]}'

echo "-- created, never started: no health yet"
docker create --name "$TAG-new" --health-cmd true busybox sleep 300 >/dev/null
docker inspect -f '{{json .State.Health}}' "$TAG-new"

echo "-- ps: status and the health filter"
ps_status
for h in starting healthy unhealthy none; do
  echo "health=$h: $(docker ps -a --filter "name=$TAG-" --filter "health=$h" --format '{{.Names}}' | sort | tr '\n' ' ')"
done
docker ps --filter health=sick 2>&1; echo "rc=$?"

echo "-- image HEALTHCHECK, merged with flags, and --no-healthcheck"
mkdir -p "$WORK/img" && printf 'FROM busybox\nHEALTHCHECK --interval=200ms --retries=2 CMD ["test", "-e", "/tmp/ok"]\n' > "$WORK/img/Dockerfile"
docker build -q -t "$TAG-img" "$WORK/img" >/dev/null 2>&1
docker inspect -f '{{json .Config.Healthcheck}}' "$TAG-img"
docker create --name "$TAG-merged" --health-timeout 2s "$TAG-img" >/dev/null
docker inspect -f '{{json .Config.Healthcheck}}' "$TAG-merged"
docker run -d --name "$TAG-none" --no-healthcheck "$TAG-img" sleep 300 >/dev/null
docker inspect -f '{{json .Config.Healthcheck}} {{json .State.Health}}' "$TAG-none"
docker run -d --name "$TAG-img1" "$TAG-img" sleep 300 >/dev/null
wait_for "$TAG-img1" unhealthy
docker exec "$TAG-img1" touch /tmp/ok
wait_for "$TAG-img1" healthy
health "$TAG-img1" '{FailingStreak, last: .Log[-1].ExitCode}'

echo "-- a probe that cannot start: the runtime's error is its output"
mkdir -p "$WORK/img2" && printf 'FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 CMD ["/nonexistent", "x"]\n' > "$WORK/img2/Dockerfile"
docker build -q -t "$TAG-img2" "$WORK/img2" >/dev/null 2>&1
docker run -d --name "$TAG-missing" "$TAG-img2" sleep 300 >/dev/null
wait_for "$TAG-missing" unhealthy
health "$TAG-missing" '.Log[0] | {ExitCode, Output}'

echo "-- pause stops the probes (unhealthy), unpause resumes them"
docker pause "$TAG-ok" >/dev/null
docker ps --filter "name=$TAG-ok" --format '{{.Status}}' | sed 's/Up [^(]*/Up X /'
docker inspect -f '{{.State.Health.Status}}' "$TAG-ok"
docker unpause "$TAG-ok" >/dev/null
wait_for "$TAG-ok" healthy

echo "-- stop: unhealthy, log kept; start: starting again"
docker run -d --name "$TAG-rs" -l team=blue --health-cmd true --health-interval 1s busybox sleep 300 >/dev/null
wait_for "$TAG-rs" healthy
docker stop -t 0 "$TAG-rs" >/dev/null
health "$TAG-rs" '{Status, FailingStreak, kept: (.Log | length > 0)}'
docker ps -a --filter "name=$TAG-rs" --filter health=unhealthy --format '{{.Names}}'
docker start "$TAG-rs" >/dev/null
health "$TAG-rs" '{Status, FailingStreak, kept: (.Log | length > 0)}'
docker ps --filter "name=$TAG-rs" --format '{{.Status}}' | sed 's/Up [^(]*/Up X /'
wait_for "$TAG-rs" healthy
docker exec "$TAG-rs" true

echo "-- events (a probe's are an exec's: with the container's labels)"
sleep 0.5
kill $events; wait $events 2>/dev/null
grep -- "-img1 \[health_status" "$WORK/events"
grep -- "-img1 \[exec_create" "$WORK/events" | sort | uniq
grep -- "-rs " "$WORK/events" | grep -v '\[exec_' | grep -v '\[kill\]' | uniq
grep -- "-rs \[exec_" "$WORK/events" | sort | uniq
