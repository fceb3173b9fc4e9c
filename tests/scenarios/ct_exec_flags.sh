# docker exec: -u, -w, -e, -i, -d, exit codes, errors.
docker run -d --name "$TAG-e" -e FROM_RUN=1 -w /tmp busybox sleep 60 >/dev/null
docker exec "$TAG-e" pwd
docker exec -w /etc "$TAG-e" pwd
docker exec -w /newdir "$TAG-e" pwd 2>&1; echo "rc=$?"
docker exec -u 65534 "$TAG-e" id
docker exec -u nobody:nogroup "$TAG-e" id
docker exec -u 1234:5678 "$TAG-e" id
docker exec -u nosuchuser "$TAG-e" id 2>&1; echo "rc=$?"
docker exec -e A=1 -e B "$TAG-e" sh -c 'echo "A=$A B=${B-unset} FROM_RUN=$FROM_RUN"'
B=from-cli docker exec -e B "$TAG-e" sh -c 'echo "B=$B"'
docker exec "$TAG-e" sh -c 'env | sort | grep -v HOSTNAME'
echo "-- stdin"
echo piped | docker exec -i "$TAG-e" cat
echo piped | docker exec "$TAG-e" cat; echo "no -i rc=$?"
printf 'a\nb\nc\n' | docker exec -i "$TAG-e" sh -c 'wc -l; echo after'
echo "-- detached"
docker exec -d "$TAG-e" sh -c 'echo detached > /tmp/d'
sleep 0.5
docker exec "$TAG-e" cat /tmp/d
echo "-- exit codes"
docker exec "$TAG-e" sh -c 'exit 7'; echo "rc=$?"
docker exec "$TAG-e" /no/such 2>&1; echo "rc=$?"
docker exec "$TAG-e" nosuchcmd 2>&1; echo "rc=$?"
docker exec "$TAG-e" /etc 2>&1; echo "rc=$?"
docker exec "$TAG-e" /etc/passwd 2>&1; echo "rc=$?"
docker exec "$TAG-none" true 2>&1; echo "rc=$?"
docker create --name "$TAG-c" busybox true >/dev/null
docker exec "$TAG-c" true 2>&1; echo "rc=$?"
echo "-- exec sees the container's pid namespace"
docker exec "$TAG-e" sh -c 'ps -o pid,comm | grep -c sleep'
docker exec "$TAG-e" cat /proc/1/cmdline | tr '\0' ' '; echo
