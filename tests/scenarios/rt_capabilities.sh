# The capability sets of the first process, with Docker's defaults and with --cap-add/--cap-drop/--privileged.
docker run --rm busybox grep Cap /proc/self/status
echo "-- cap-add NET_ADMIN, cap-drop CHOWN"
docker run --rm --cap-add NET_ADMIN --cap-drop CHOWN busybox grep Cap /proc/self/status
echo "-- cap-drop ALL"
docker run --rm --cap-drop ALL busybox grep Cap /proc/self/status
echo "-- cap-drop ALL, cap-add KILL"
docker run --rm --cap-drop all --cap-add kill busybox grep Cap /proc/self/status
echo "-- non-root user"
docker run --rm -u 65534 busybox grep Cap /proc/self/status
echo "-- exec gets the same"
docker run -d --name "$TAG-c" --cap-drop NET_RAW busybox sleep 30 >/dev/null
docker exec "$TAG-c" grep CapEff /proc/self/status
docker rm -f "$TAG-c" >/dev/null
echo "-- chown without CAP_CHOWN"
docker run --rm --cap-drop CHOWN busybox sh -c 'touch /tmp/f; chown 1 /tmp/f 2>/dev/null || echo chown-denied'
docker run --rm busybox sh -c 'touch /tmp/f; chown 1 /tmp/f && echo chown-ok'
echo "-- unknown capability"
docker run --rm --cap-add NOPE busybox true 2>&1 | head -1; echo "rc=${PIPESTATUS[0]}"
docker create --cap-drop nada busybox true 2>&1; echo "rc=$?"
