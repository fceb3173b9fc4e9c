# docker run -t: a terminal inside, and what a terminal does to output.
# (The size a terminal starts with is tested in test_daemon_api.py: Docker 20.10 only learns it after start.)
docker run --rm -t busybox tty
docker run --rm busybox sh -c 'tty; echo rc=$?'
docker run --rm -t busybox sh -c 'echo $TERM; [ -t 0 ] && echo stdin-is-tty; [ -t 1 ] && echo stdout-is-tty'
docker run --rm busybox sh -c 'echo "TERM=$TERM"; [ -t 1 ] || echo stdout-not-tty'
echo "-- a terminal turns \\n into \\r\\n"
docker run --rm -t busybox printf 'a\nb\n' | od -c | head -2
echo "-- exec -t"
docker run -d --name "$TAG-x" busybox sleep 30 >/dev/null
docker exec -t "$TAG-x" tty
docker exec "$TAG-x" sh -c 'tty; true'
docker rm -f "$TAG-x" >/dev/null
echo "-- exit code through a tty"
docker run --rm -t busybox sh -c 'exit 42'; echo "rc=$?"
echo "-- -i without a terminal"
echo hello | docker run --rm -i busybox cat
echo hello | docker run --rm -it busybox cat 2>&1; echo "rc=$?"
