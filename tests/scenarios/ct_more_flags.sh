# Flags users reach for: --link, --add-host, --dns, --ulimit, --security-opt, --cap-drop/--cap-add, --env-file.
docker run -d --name "$TAG-db" -e FOO=bar --expose 5432 busybox sleep 60 >/dev/null
docker run --rm --name "$TAG-web" --link "$TAG-db:db" --link "$TAG-db" busybox sh -c 'tail -n +7 /etc/hosts | sed -E "s/[0-9a-f]{12}/ID/g; s/[0-9.]+\t/IP\t/" | sort; env | grep -E "^DB_" | sed -E "s/[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/IP/" | sort'  # Docker keeps links in a Go map: sorted
docker run --rm --add-host "myhost:10.1.2.3" busybox sh -c 'grep myhost /etc/hosts'
docker run --rm --dns 10.9.8.7 --dns-search example.org busybox cat /etc/resolv.conf | grep -v '^#' | sed '/^$/d'
docker run --rm --ulimit nofile=100:200 busybox sh -c 'ulimit -n; ulimit -Hn'
docker run --rm --cap-drop ALL --cap-add CHOWN busybox grep CapEff /proc/self/status
docker run --rm --security-opt no-new-privileges busybox grep NoNewPrivs /proc/self/status
printf 'A=1\n# comment\nB=two words\n' > envfile
docker run --rm --env-file envfile busybox sh -c 'echo "$A|$B"'
docker run --rm --shm-size 8m busybox sh -c 'df -k /dev/shm | tail -1 | awk "{print \$2}"'
docker run --rm --user 1234:5678 --group-add 42 busybox id
docker run --rm -e HOME=/custom busybox sh -c 'echo $HOME'
docker run --rm --stop-signal SIGUSR1 --name "$TAG-sig" busybox true; echo rc=$?
docker rm -f "$TAG-db" >/dev/null
