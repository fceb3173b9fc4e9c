# Numbers out of range, through the CLI: what the CLI refuses itself, what the daemon's
# Go decoder refuses (a value its Go type cannot hold), and Docker's limits on what is set.
e() { "$@" 2>&1 | sed -E "s/$TAG/T/g; s/[0-9a-f]{64}/ID/g"; echo "rc=${PIPESTATUS[0]}"; }
echo "-- refused by the CLI before any request"
e docker create --shm-size -1 busybox true
e docker create --pids-limit 9223372036854775808 busybox true
e docker create --blkio-weight 70000 busybox true
e docker create --memory-swappiness 1.5 busybox true
echo "-- refused by the daemon at create"
e docker create --memory 99999999999999999999 busybox true  # the CLI's size parser wraps it round to a negative
e docker create --memory 1k busybox true
e docker create --memory-reservation 1k busybox true
e docker create --memory 10m --memory-reservation 20m busybox true
e docker create --memory 10m --memory-swap 5m busybox true
e docker create --memory-swappiness 200 busybox true
e docker create --memory-swappiness -2 busybox true
e docker create --cpu-period 500 busybox true
e docker create --cpu-period 2000000 busybox true
e docker create --cpu-quota 500 busybox true
e docker create --cpus 0.5 --cpu-quota 5000 busybox true
e docker create --cpus 0.5 --cpu-period 100000 busybox true
e docker create --cpus 100 busybox true
e docker create --oom-score-adj 1001 busybox true
e docker create --oom-score-adj -1001 busybox true
e docker create --cpu-rt-period 1000 --cpu-rt-runtime 2000 busybox true
e docker create --health-cmd true --health-interval 1us busybox true
e docker create --health-cmd true --health-timeout 1us busybox true
e docker create --health-cmd true --health-start-period 1us busybox true
e docker create --health-cmd true --health-retries -1 busybox true
e docker run --rm --cpu-shares -5 busybox true
docker ps -aq --filter "label=$TAG" | xargs -r docker rm -f >/dev/null
echo "-- taken at create (and what they mean)"
for flags in "--pids-limit -5" "--memory-swap -1 --memory 10m" "--cpu-quota -1" "--memory-swappiness -1" "--stop-timeout -1"; do
  echo "$flags: $(docker create --label "$TAG" $flags busybox true >/dev/null 2>&1 && echo created || echo refused)"
done
docker ps -aq --filter "label=$TAG" | xargs -r docker rm -f >/dev/null
echo "-- docker update"
docker create --name "$TAG-u" busybox sleep 30 >/dev/null
e docker update --memory 1k "$TAG-u"
e docker update --memory-reservation 1k "$TAG-u"
e docker update --cpu-period 500 "$TAG-u"
e docker update --cpu-quota 500 "$TAG-u"
e docker update --cpus 100 "$TAG-u"
e docker update --restart on-failure:-1 "$TAG-u"
e docker update --restart always:3 "$TAG-u"
e docker update --memory 99999999999999999999 "$TAG-u"
e docker update --cpu-shares 1.5 "$TAG-u"
echo "the limits after the refused updates: $(docker inspect -f '{{.HostConfig.Memory}} {{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}} {{.HostConfig.RestartPolicy.Name}}' "$TAG-u")"
e docker update --memory 64m "$TAG-u"  # above the swap limit, unlimited here: Docker wants a new one too
e docker update --memory 64m --memory-swap 128m --cpu-quota 50000 --cpu-period 100000 "$TAG-u"
echo "the limits after a good one: $(docker inspect -f '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}}' "$TAG-u")"
docker rm -f "$TAG-u" >/dev/null
