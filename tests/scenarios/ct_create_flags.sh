# What docker create/run flags become in inspect: restart policy, limits, env, labels, entrypoint, workdir, user.
docker create --name "$TAG-c" --restart on-failure:3 -m 64m --memory-swap 128m --cpus 0.5 --cpu-shares 512 --pids-limit 50 \
  -e A=1 --label x=y --entrypoint /bin/sh -w /work -u 65534:65534 --hostname h1 --read-only --tmpfs /run:size=1m \
  -p 127.0.0.1::80 --expose 9000 busybox -c 'id' >/dev/null
docker inspect -f '{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}}' "$TAG-c"
docker inspect -f '{{.Config.Env}} {{.Config.Labels}} {{.Config.Entrypoint}} {{.Config.Cmd}} {{.Config.WorkingDir}} {{.Config.User}} {{.Config.Hostname}}' "$TAG-c"
docker inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.Tmpfs}} {{.HostConfig.PortBindings}} {{.Config.ExposedPorts}}' "$TAG-c"
docker inspect -f '{{.State.Status}} {{.State.Running}} {{.State.Pid}} {{.State.ExitCode}} {{.RestartCount}} {{.Path}} {{.Args}}' "$TAG-c"
docker start -a "$TAG-c"
docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$TAG-c"
docker rm "$TAG-c" >/dev/null
echo "-- bad values"
docker create --cpus -1 busybox 2>&1 | head -1; docker create -m 1k busybox 2>&1 | head -1
docker create --restart sometimes busybox 2>&1 | head -1; docker create -p 99999:80 busybox 2>&1 | head -1
docker create --memory-swap 10m -m 20m busybox 2>&1 | head -1
