# docker events: the actions of a container's life, filtered, between --since and --until.
start=$(date +%s)
docker run --name "$TAG-e" busybox sh -c 'exit 3'
docker rm "$TAG-e" >/dev/null
docker volume create "$TAG-v" >/dev/null; docker volume rm "$TAG-v" >/dev/null
docker network create "$TAG-n" >/dev/null; docker network rm "$TAG-n" >/dev/null
docker run --name "$TAG-src" busybox touch /made
id=$(docker commit -c 'LABEL who=me' "$TAG-src" "$TAG-img:v0")
docker tag "$TAG-img:v0" "$TAG-img:v1"; docker rmi "$TAG-img:v1" >/dev/null; docker rm "$TAG-src" >/dev/null; docker rmi "$TAG-img:v0" >/dev/null
sleep 1
end=$(( $(date +%s) + 1 ))
docker events --since "$start" --until "$end" --filter "container=$TAG-e" --format '{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}'
echo "--"
docker events --since "$start" --until "$end" --filter type=volume --filter "volume=$TAG-v" --format '{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.driver}}'
docker events --since "$start" --until "$end" --filter type=network --filter "network=$TAG-n" --format '{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.type}}'
docker events --since "$start" --until "$end" --filter type=image --filter "image=$id" --format '{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.who}}'
docker events --since "$start" --until "$end" --filter "container=$TAG-src" --filter event=commit --format '{{.Action}} {{.Actor.Attributes.imageRef}} {{.Actor.Attributes.comment}}'
echo "-- event=die only"
docker events --since "$start" --until "$end" --filter event=die --filter "container=$TAG-e" --format '{{.Status}} {{.From}}'
echo "-- json has the old fields"
docker events --since "$start" --until "$end" --filter "container=$TAG-e" --filter event=start --format '{{json .}}' | jq -c '{status, Type, Action, scope, from, hasid: (.id|length>0), hastime: (.time>0), hasnano: (.timeNano>0)}'
echo "-- streaming"
( docker events --filter "container=$TAG-s" --format '{{.Action}}' > "$WORK/ev" ) & pid=$!
sleep 1
docker run --rm --name "$TAG-s" busybox true
sleep 1
kill $pid; wait $pid 2>/dev/null
cat "$WORK/ev"
