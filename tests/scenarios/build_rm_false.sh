# Intermediate containers: removed by default, kept with --rm=false, removed even on failure with --force-rm.
mkdir ctx && cd ctx
printf 'FROM busybox\nRUN echo one > /1\nRUN echo two > /2\n' > Dockerfile
before=$(docker ps -aq | wc -l)
docker build -q -t "$TAG-r1" . >/dev/null; echo "default: $(( $(docker ps -aq | wc -l) - before ))"
docker build -q --no-cache --rm=false -t "$TAG-r2" . >/dev/null; echo "rm=false: $(( $(docker ps -aq | wc -l) - before ))"
docker ps -a --filter status=exited --format '{{.Command}}' | sort | head -5
docker rm $(docker ps -aq) >/dev/null
printf 'FROM busybox\nRUN exit 3\n' > Dockerfile.fail
docker build -q -f Dockerfile.fail . >/dev/null 2>&1; echo "failed build: $(docker ps -aq | wc -l) left"
docker rm $(docker ps -aq) >/dev/null 2>&1
docker build -q --force-rm -f Dockerfile.fail . >/dev/null 2>&1; echo "force-rm: $(docker ps -aq | wc -l) left"
docker rmi "$TAG-r1" "$TAG-r2" >/dev/null
