# docker system df: images, containers, volumes, and what is reclaimable.
docker system df --format '{{.Type}}' 
docker run --name "$TAG-c" -v "$TAG-v:/v" busybox sh -c 'head -c 1048576 /dev/zero > /big; head -c 2097152 /dev/zero > /v/big'
docker system df -v --format '{{range .Volumes}}{{if eq .Name "'"$TAG-v"'"}}{{.Name}} {{.Links}} {{.Size}}{{end}}{{end}}'
docker system df -v --format '{{range .Containers}}{{if eq .Names "'"$TAG-c"'"}}{{.Names}} {{.Size}} {{.LocalVolumes}} {{.Image}} {{.Command}}{{end}}{{end}}'
docker system df -v --format '{{range .Images}}{{if eq .Repository "busybox"}}{{.Repository}} {{.Tag}} {{.Containers}} {{.SharedSize}} {{.UniqueSize}}{{end}}{{end}}'
docker ps -a -s --filter name="$TAG" --format '{{.Names}} {{.Size}}' | sed -E 's/\(virtual [^)]*\)/(virtual X)/'
docker rm "$TAG-c" >/dev/null
docker system df -v --format '{{range .Volumes}}{{if eq .Name "'"$TAG-v"'"}}{{.Name}} {{.Links}} {{.Size}}{{end}}{{end}}'
docker volume rm "$TAG-v" >/dev/null
