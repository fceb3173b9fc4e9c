# The shape of docker inspect (and ps, version, info) as clients read it: keys and default values.
docker create --name "$TAG-i" busybox true >/dev/null
j() { docker inspect "$TAG-i" | jq -S "$1"; }
echo "-- top-level keys"; j '.[0] | keys'
echo "-- State"; j '.[0].State | del(.StartedAt, .FinishedAt)'
echo "-- Config"; j '.[0].Config | del(.Hostname, .Image)'
echo "-- HostConfig"; j '.[0].HostConfig | del(.Runtime)'
echo "-- NetworkSettings keys"; j '.[0].NetworkSettings | keys'
echo "-- NetworkSettings.Networks.bridge"; j '.[0].NetworkSettings.Networks.bridge | keys'
echo "-- GraphDriver"; j '.[0].GraphDriver | {Name, keys: (.Data | keys)}'
echo "-- misc"; j '.[0] | {Path, Args, Name, RestartCount, Driver, Platform, MountLabel, ProcessLabel, AppArmorProfile, ExecIDs, Mounts, SizeRw, SizeRootFs}'
docker start "$TAG-i" >/dev/null; docker wait "$TAG-i" >/dev/null
echo "-- State after a run"; j '.[0].State | {Status, Running, Paused, Restarting, OOMKilled, Dead, Pid, ExitCode, Error, started: (.StartedAt | test("^20")), finished: (.FinishedAt | test("^20"))}'
echo "-- running"
docker run -d --name "$TAG-r" -p 127.0.0.1::80 busybox sleep 60 >/dev/null
docker inspect "$TAG-r" | jq -S '.[0].NetworkSettings | {Bridge, HairpinMode, LinkLocalIPv6Address, LinkLocalIPv6PrefixLen, SecondaryIPAddresses, SecondaryIPv6Addresses, GlobalIPv6Address, GlobalIPv6PrefixLen, IPPrefixLen, IPv6Gateway, ports: (.Ports | keys), haskey: (.SandboxKey != ""), hasip: (.IPAddress != ""), hasmac: (.MacAddress != "")}'
docker inspect "$TAG-r" | jq -S '.[0].NetworkSettings.Networks.bridge | {IPAMConfig, Links, Aliases, IPPrefixLen, IPv6Gateway, GlobalIPv6Address, GlobalIPv6PrefixLen, DriverOpts, hasid: (.NetworkID != ""), hasep: (.EndpointID != "")}'
docker inspect -f '{{.State.Status}} {{.State.Running}} {{gt .State.Pid 0}}' "$TAG-r"
echo "-- ps"
docker ps -a --no-trunc --filter name="$TAG" --format '{{.Names}}|{{.Image}}|{{.Command}}|{{.Ports}}|{{.Status}}|{{.Networks}}|{{.Mounts}}|{{.Labels}}|{{.State}}' | sed -E 's/:[0-9]+->/:EPH->/; s/Up [0-9a-zA-Z ]+ ?(seconds|second)?/Up X/; s/Exited \(0\) .* ago/Exited (0) X ago/' | sort
docker ps -a --filter name="$TAG" --format json | jq -S 'del(.ID, .CreatedAt, .RunningFor, .Status, .Ports, .Size, .LocalVolumes)' | jq -sc 'sort_by(.Names)'
docker ps -q --filter name="$TAG-r" | wc -c
docker ps -a -n 1 --filter name="$TAG" --format '{{.Names}}'
docker ps -l --format '{{.Names}}' --filter name="$TAG"
echo "-- image inspect"
docker image inspect busybox | jq -S '.[0] | keys'
docker image inspect busybox | jq -S '.[0] | {Os, Architecture, Config: (.Config | keys), RootFS: .RootFS.Type, GraphDriver: .GraphDriver.Name, Metadata: (.Metadata | keys)}'
docker images --format '{{.Repository}}|{{.Tag}}|{{.Size}}' busybox
docker images --format json busybox | jq -S 'del(.ID, .CreatedAt, .CreatedSince)'
echo "-- volume and network inspect"
docker volume create "$TAG-v" >/dev/null
docker volume inspect "$TAG-v" | jq -S '.[0] | del(.Mountpoint, .CreatedAt, .Name)'
docker network inspect bridge | jq -S '.[0] | keys'
docker network create "$TAG-n" >/dev/null
docker network inspect "$TAG-n" | jq -S '.[0] | del(.Id, .Created, .IPAM.Config, .Name)'
docker rm -f "$TAG-i" "$TAG-r" >/dev/null; docker volume rm "$TAG-v" >/dev/null; docker network rm "$TAG-n" >/dev/null
