# -p forms (ip:host:ctr, host:ctr, ctr, /udp, ranges), -P, docker port, and the ps PORTS column.
docker run -d --name "$TAG-w" -p "127.0.0.1:$PORT:80" -p "$PORT2:81/udp" -p 82 -p 127.0.0.1::83 busybox sh -c 'echo hello-web > /index.html; httpd -f -p 80 -h /' >/dev/null
for i in $(seq 50); do wget -qO- "http://127.0.0.1:$PORT/index.html" 2>/dev/null && break; sleep 0.1; done
docker port "$TAG-w" 80
docker port "$TAG-w" 81/udp | sed 's/:::/[::]:/'
docker port "$TAG-w" 80/tcp
docker port "$TAG-w" 82 | sed -E 's/:[0-9]+$/:EPH/' | sort -u
docker port "$TAG-w" 83 | sed -E 's/:[0-9]+$/:EPH/'
docker port "$TAG-w" 84 2>&1; echo "rc=$?"
docker port "$TAG-w" | sed -E 's/:[0-9]{5}$/:EPH/; s/:(3[2-9]|[4-6][0-9])[0-9]{3}$/:EPH/' | sort
docker ps --filter name="$TAG-w" --format '{{.Ports}}' | tr ',' '\n' | sed -E 's/^ //; s/:(3[2-9]|[4-6][0-9])[0-9]{3}->/:EPH->/' | sort
docker inspect -f '{{json .HostConfig.PortBindings}}' "$TAG-w"
docker inspect -f '{{range $p, $b := .NetworkSettings.Ports}}{{$p}} {{end}}' "$TAG-w"
echo "-- -P publishes EXPOSEd ports"
docker run -d --name "$TAG-p" -P --expose 8080 --expose 9000/udp busybox sleep 30 >/dev/null
docker port "$TAG-p" | sed -E 's/:[0-9]+$/:EPH/' | sort
docker inspect -f '{{.HostConfig.PublishAllPorts}} {{json .Config.ExposedPorts}}' "$TAG-p"
echo "-- a port in use"
docker run -d --name "$TAG-x" -p "127.0.0.1:$PORT:80" busybox sleep 30 2>&1 | grep -c "port is already allocated\|address already in use"
docker inspect -f '{{.State.Status}}' "$TAG-x"
echo "-- after stop the ports are gone"
docker stop -t 0 "$TAG-w" >/dev/null
docker port "$TAG-w"; echo "rc=$?"
wget -qO- -T 2 "http://127.0.0.1:$PORT/index.html" >/dev/null 2>&1 || echo "port closed"
docker start "$TAG-w" >/dev/null
for i in $(seq 50); do wget -qO- "http://127.0.0.1:$PORT/index.html" 2>/dev/null && break; sleep 0.1; done
echo "-- bad specs"
docker run --rm -p 99999:80 busybox true 2>&1; echo "rc=$?"
docker run --rm -p abc busybox true 2>&1; echo "rc=$?"
docker run --rm --network none -p 80 busybox true 2>&1; echo "rc=$?"
docker port "$TAG-none" 2>&1; echo "rc=$?"
