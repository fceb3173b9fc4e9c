# The fields of docker info / version / system df that users read.
docker info --format '{{.Driver}}|{{.LoggingDriver}}|{{.CgroupDriver}}|{{.CgroupVersion}}|{{.OSType}}|{{.Architecture}}|{{.NCPU}}|{{.Swarm.LocalNodeState}}|{{.IndexServerAddress}}|{{.KernelVersion}}|{{.OperatingSystem}}|{{.Name}}'
docker info --format '{{.MemoryLimit}} {{.SwapLimit}} {{.CPUShares}} {{.PidsLimit}} {{.IPv4Forwarding}} {{.Debug}} {{.ExperimentalBuild}} {{.LiveRestoreEnabled}} {{.OomKillDisable}}'
docker info --format '{{range .DriverStatus}}{{index . 0}}={{index . 1}};{{end}}'
docker info --format '{{json .Plugins.Volume}} {{.DefaultRuntime | len | printf "%d" | len}}'
docker info --format '{{.MemTotal}}' | awk '{print ($1 > 0) ? "memtotal ok" : "memtotal missing"}'
docker info --format '{{.ID}}' | awk '{print (length($0) > 10) ? "id ok" : "id missing"}'
docker info --format '{{json .RegistryConfig.InsecureRegistryCIDRs}}'
c0=$(docker info --format '{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}}')
i0=$(docker info --format '{{.Images}}')
docker run -d --name "$TAG-a" busybox sleep 30 >/dev/null
docker run -d --name "$TAG-p" busybox sleep 30 >/dev/null; docker pause "$TAG-p" >/dev/null
docker create --name "$TAG-c" busybox true >/dev/null
docker tag busybox "$TAG-t"
c1=$(docker info --format '{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}}')
i1=$(docker info --format '{{.Images}}')
echo "$c0 -> $c1" | awk '{split($0,a," -> "); split(a[1],x," "); split(a[2],y," "); print y[1]-x[1], y[2]-x[2], y[3]-x[3], y[4]-x[4]}'
echo "images +$((i1 - i0))"
docker rm -f "$TAG-a" "$TAG-p" "$TAG-c" >/dev/null; docker rmi "$TAG-t" >/dev/null
echo "-- version"
docker version --format '{{.Server.Os}}/{{.Server.Arch}} {{.Server.Experimental}} {{.Server.KernelVersion}}'
docker version --format '{{range .Server.Components}}{{.Name}} {{end}}' | grep -o Engine
docker version --format '{{.Server.MinAPIVersion}}' | awk '{print ($1 != "") ? "min api ok" : "min api missing"}'
