# --init: docker-init (tini) is PID 1 and forwards signals; inspect keeps the user's command.
docker run --rm --init busybox ps -o pid,comm,args | awk 'NR==1 || $1==1 {print $1, $2, $3, $4, $5} NR>1 && $1!=1 {print "child", $2}'
docker run -d --name "$TAG-i" --init busybox sleep 100 >/dev/null
docker inspect -f '{{.Path}} {{.Args}} {{.HostConfig.Init}}' "$TAG-i"
docker top "$TAG-i" -o pid,args | tail -n +2 | awk '{$1=""; print}' 
docker stop -t 5 "$TAG-i" >/dev/null; docker inspect -f 'stopped at once: {{.State.ExitCode}}' "$TAG-i"
docker rm "$TAG-i" >/dev/null
echo "-- Ctrl-C reaches a PID-1 process only through an init"
docker run --rm --init busybox sh -c 'kill -INT 1; sleep 1; echo survived'; echo "rc=$?"
