# docker-compose logs -f follows a service until its container exits (then says so); logs --tail; .env
# values substituted in the file and the container's environment.
P="${TAG}lf"
cd "$WORK"
printf 'TICKS=5\nGREETING=hi there\n' > .env
cat > docker-compose.yml <<'EOF'
services:
  ticker:
    image: busybox
    command: sh -c 'for i in $$(seq $$TICKS); do echo "$$GREETING $$i"; sleep 0.4; done'
    environment:
      TICKS: ${TICKS}
      GREETING: ${GREETING}
EOF
dc() { docker-compose -p "$P" "$@"; }
dc config | grep -E 'TICKS|GREETING'
dc up -d >/dev/null 2>&1; echo "up rc=$?"
# Sorted: compose prints the lines it follows and its "exited" notice from two threads, in either order.
timeout 30 docker-compose -p "$P" logs -f --no-color ticker | sort; echo "logs -f rc=${PIPESTATUS[0]}"
dc logs --no-color --tail 2 ticker | grep -v '^Attaching'
dc ps | tail -n +3 | awk '{print $1, $(NF-1), $NF}'
dc down >/dev/null 2>&1; echo "down rc=$?"
