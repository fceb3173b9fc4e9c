# docker diff, docker commit (with --change and -m/-a), what the new image holds.
docker run --name "$TAG-c" busybox sh -c 'mkdir -p /new/deep; echo x > /new/deep/f; rm /etc/group; echo y >> /etc/passwd; touch /tmp/t; rm -r /home'
docker diff "$TAG-c" | sort -k2
docker commit -m "my message" -a "me <me@x>" -c 'ENV FOO=bar' -c 'CMD ["cat","/new/deep/f"]' -c 'WORKDIR /new' -c 'EXPOSE 8080' -c 'LABEL a=b' "$TAG-c" "$TAG-img:v1" | grep -c sha256
docker run --rm "$TAG-img:v1"
docker run --rm "$TAG-img:v1" sh -c 'echo $FOO; pwd; ls /etc/group 2>&1; ls /home 2>&1 | head -1'
docker inspect -f '{{.Comment}}|{{.Author}}|{{.Config.Cmd}}|{{.Config.WorkingDir}}|{{.Config.ExposedPorts}}|{{.Config.Labels}}|{{.Config.Env}}' "$TAG-img:v1"
docker history --format '{{.CreatedBy}}|{{.Comment}}' "$TAG-img:v1" | head -2
docker images --format '{{.Repository}}:{{.Tag}}' "$TAG-img"
echo "-- diff of a running container, and an unchanged one"
docker run -d --name "$TAG-r" busybox sh -c 'echo a > /a; sleep 30' >/dev/null
sleep 0.5
docker diff "$TAG-r" | sort -k2
docker commit "$TAG-r" "$TAG-img:running" >/dev/null
docker run --rm "$TAG-img:running" cat /a
docker inspect -f '{{.State.Status}} {{.State.Paused}}' "$TAG-r"
docker create --name "$TAG-u" busybox true >/dev/null
docker diff "$TAG-u" | wc -l
docker commit "$TAG-u" | grep -c sha256
docker diff "$TAG-none" 2>&1; echo "rc=$?"
docker commit "$TAG-none" 2>&1; echo "rc=$?"
docker commit "$TAG-u" 'Bad:Name' 2>&1; echo "rc=$?"
echo "-- commit keeps volumes out"
docker run --name "$TAG-v" -v /vol busybox sh -c 'echo in-vol > /vol/f; echo in-root > /rootf'
docker commit "$TAG-v" "$TAG-img:vol" >/dev/null
docker run --rm "$TAG-img:vol" sh -c 'cat /rootf; ls /vol 2>&1 | wc -l'
docker rm -f -v "$TAG-r" "$TAG-u" "$TAG-c" "$TAG-v" >/dev/null
