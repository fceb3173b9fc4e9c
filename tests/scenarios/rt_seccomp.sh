# Seccomp: Docker's default profile in every container, unconfined, and a profile of one's own.
echo "-- default profile: filter mode, no no_new_privs"
docker run --rm busybox grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status
echo "-- a user namespace is refused (with it, a mount of one's own)"
docker run --rm busybox unshare -U -r true 2>&1; echo "rc=$?"
docker run --rm busybox sh -c "unshare -U -r -m mount -t tmpfs none /tmp 2>&1; echo rc=\$?"
echo "-- with CAP_SYS_ADMIN the profile allows namespaces (the rule that includes that capability)"
docker run --rm --cap-add SYS_ADMIN busybox sh -c 'unshare -m true && echo mount-ns-ok; unshare -U -r true && echo user-ns-ok'
echo "-- exec'd processes get the filter too"
docker run -d --name "$TAG-c" busybox sleep 30 >/dev/null
docker exec "$TAG-c" grep '^Seccomp:' /proc/self/status
docker exec "$TAG-c" unshare -U -r true 2>&1; echo "rc=$?"
docker rm -f "$TAG-c" >/dev/null
echo "-- unconfined"
docker run --rm --security-opt seccomp=unconfined busybox grep '^Seccomp:' /proc/self/status
docker run --rm --security-opt seccomp=unconfined busybox sh -c \
  "unshare -U -r -m sh -c 'mount -t tmpfs none /tmp && echo mounted' 2>&1; echo rc=\$?"
echo "-- a profile of one's own: mkdir refused, the rest allowed"
cat > nomkdir.json <<'JSON'
{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [
    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}
  ]
}
JSON
docker run --rm --security-opt seccomp=nomkdir.json busybox sh -c \
  'mkdir /tmp/x 2>&1; echo rc=$?; touch /tmp/y && ls /tmp; grep "^Seccomp:" /proc/self/status'
echo "-- an errno of its own"
cat > enospc.json <<'JSON'
{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28}]}
JSON
docker run --rm --security-opt seccomp=enospc.json busybox mkdir /tmp/x 2>&1; echo "rc=$?"
echo "-- inspect shows the option as the CLI sent it (inline, compacted)"
docker create --name "$TAG-i" --security-opt seccomp=nomkdir.json busybox true >/dev/null
docker inspect -f '{{json .HostConfig.SecurityOpt}}' "$TAG-i"
docker rm "$TAG-i" >/dev/null
docker info --format '{{json .SecurityOptions}}'
echo "-- profiles the CLI cannot read"
docker run --rm --security-opt seccomp=missing.json busybox true 2>&1 | head -1; echo "rc=${PIPESTATUS[0]}"
echo '{"defaultAction": ' > broken.json
docker run --rm --security-opt seccomp=broken.json busybox true 2>&1 | head -1; echo "rc=${PIPESTATUS[0]}"
echo "-- a profile runc cannot load"
echo '{"defaultAction": "SCMP_ACT_BOGUS"}' > bogus.json
docker run --rm --security-opt seccomp=bogus.json busybox true 2>&1 | head -1; echo "rc=${PIPESTATUS[0]}"
