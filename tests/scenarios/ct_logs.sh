# docker logs: --tail, -t, --since, -f, stderr vs stdout, logs of a tty container.
cid=$(docker run -d --name "$TAG-l" busybox sh -c 'for i in 1 2 3 4 5; do echo out$i; done; sleep 0.2; echo err1 >&2')
docker wait "$cid" >/dev/null
docker logs "$TAG-l" 2>/dev/null | tr '\n' ' '; echo
docker logs "$TAG-l" 2>&1 >/dev/null | tr '\n' ' '; echo
docker logs --tail 3 "$TAG-l" 2>/dev/null | tr '\n' ' '; echo
docker logs --tail 3 "$TAG-l" 2>&1 >/dev/null | tr '\n' ' '; echo
docker logs --tail 0 "$TAG-l" 2>&1 | wc -l
docker logs --tail all "$TAG-l" 2>&1 | wc -l
docker logs -n 1 "$TAG-l" 2>&1 | tr '\n' ' '; echo
docker logs -t "$TAG-l" 2>/dev/null | head -1 | sed -E 's/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z /TS /'
docker logs --details "$TAG-l" 2>/dev/null | head -2 | od -c | head -1
docker logs -t --details "$TAG-l" 2>/dev/null | head -1 | sed -E 's/^[0-9T:.Z-]{30} /TS /' | od -c | head -1
docker logs --since 2000-01-01T00:00:00Z "$TAG-l" 2>/dev/null | wc -l
docker logs --since 1h "$TAG-l" 2>/dev/null | wc -l
docker logs --until 2000-01-01 "$TAG-l" 2>&1 | wc -l
docker logs --since "$(date +%s -d '+1 hour')" "$TAG-l" 2>&1 | wc -l
docker logs "$TAG-none" 2>&1; echo "rc=$?"
echo "-- follow ends when the container stops"
docker run -d --name "$TAG-f" busybox sh -c 'echo one; sleep 1; echo two; sleep 1; echo three' >/dev/null
timeout 20 docker logs -f "$TAG-f"; echo "rc=$?"
docker run -d --name "$TAG-g" busybox sh -c 'for i in 1 2 3 4 5 6; do echo l$i; done; sleep 1; echo last' >/dev/null
sleep 0.5
timeout 20 docker logs -f --tail 2 "$TAG-g"; echo "rc=$?"
echo "-- tty logs are raw, stderr folded into stdout"
cid=$(docker run -d -t busybox sh -c 'echo tty-out; echo tty-err >&2')
docker wait "$cid" >/dev/null
docker logs "$cid" 2>/dev/null | tr -d '\r'
echo "-- created container has no logs"
docker create --name "$TAG-c" busybox echo x >/dev/null
docker logs "$TAG-c" | wc -c
