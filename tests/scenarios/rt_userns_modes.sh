# --userns on a daemon without --userns-remap: "host" is accepted (the host's user namespace, as always),
# anything else is refused by the CLI; the container's ids are the host's.
docker run --rm --userns=host busybox cat /proc/self/uid_map
docker run --rm busybox cat /proc/self/uid_map /proc/self/gid_map
same() { [ "$1" = "$2" ] && echo "$3 shared" || echo "$3 own"; }
same "$(docker run --rm --userns=host busybox readlink /proc/self/ns/user)" "$(readlink /proc/self/ns/user)" "--userns=host user:"
docker run --rm --userns=private busybox true 2>&1; echo "rc=$?"
c=$(docker create --userns=host busybox true); docker inspect -f '{{.HostConfig.UsernsMode}}|' "$c"; docker rm "$c" >/dev/null
docker info --format '{{range .SecurityOptions}}{{.}} {{end}}' | grep -c userns
