# 20 containers at once: every output arrives, every container is removed.
for i in $(seq 1 20); do docker run --rm --label "$TAG" busybox echo "n$i" & done > "$WORK/out" 2>&1
wait
sort -V "$WORK/out" | tr '\n' ' '; echo
docker ps -aq --filter "label=$TAG" | wc -l
for i in $(seq 1 10); do docker run --rm --label "$TAG" busybox sh -c "echo start$i; sleep 0.3; echo end$i >&2" & done > "$WORK/out2" 2>&1
wait
sort -V "$WORK/out2" | tr '\n' ' '; echo
docker ps -aq --filter "label=$TAG" | wc -l
