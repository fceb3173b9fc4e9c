# docker top and docker stats --no-stream.
docker run -d --name "$TAG-t" busybox sh -c 'sleep 300 & sleep 301' >/dev/null
sleep 0.5
docker top "$TAG-t" | head -1 | tr -s ' '
docker top "$TAG-t" | awk 'NR>1 {print $1, $NF}' | sort
docker top "$TAG-t" -o pid,comm | head -1 | tr -s ' '
docker top "$TAG-t" -o comm | tail -n +2 | sort
docker create --name "$TAG-c" busybox true >/dev/null
docker top "$TAG-c" 2>&1; echo "rc=$?"
docker top "$TAG-none" 2>&1; echo "rc=$?"
echo "-- stats"
docker run -d --name "$TAG-s" --memory 64m busybox sleep 300 >/dev/null
docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' "$TAG-s" | sed -E 's/^([^ ]+) [0-9.]+[KMG]?i?B \/ /\1 X \/ /'
docker stats --no-stream --format '{{.CPUPerc}}|{{.MemPerc}}|{{.PIDs}}' "$TAG-s" | sed -E 's/[0-9]+\.[0-9]+%/N%/g'
docker stats --no-stream --format '{{.Container}}' "$TAG-s" "$TAG-t" | wc -l
docker stats --no-stream --format '{{.Name}} {{.NetIO}} {{.BlockIO}}' "$TAG-c" | sed -E 's/[0-9.]+[kMG]?B/N/g'
docker stats --no-stream --format '{{.Name}}' | sort
docker stats --no-stream "$TAG-none" 2>&1; echo "rc=$?"
