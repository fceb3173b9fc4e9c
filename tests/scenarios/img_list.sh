# docker images with a repository or pattern, tags in Docker's order, history, rmi's report.
docker run --name "$TAG-c" busybox sh -c 'echo x > /f' >/dev/null
docker commit -m msg "$TAG-c" "$TAG-i:1" >/dev/null
docker tag "$TAG-i:1" "$TAG-i:2"; docker tag "$TAG-i:1" "$TAG-j"; docker tag "$TAG-i:1" "$TAG-a:z"
docker images --format '{{.Repository}}:{{.Tag}}' "$TAG-i"
docker images -q "$TAG-i" | wc -l
docker images --format '{{.Repository}}:{{.Tag}}' "$TAG-i:2"
docker images --filter "reference=$TAG-*" --format '{{.Repository}}:{{.Tag}}' | sort  # the CLI groups tags by repository in Go map order
docker images --filter "reference=$TAG-*:z" --format '{{.Repository}}:{{.Tag}}'
docker image inspect -f '{{.RepoTags}}' "$TAG-j"
docker history --format '{{.CreatedBy}}|{{.Size}}|{{.Comment}}' "$TAG-i:1"
docker rmi "$TAG-i:1" "$TAG-i:2" "$TAG-a:z"
docker rmi "$TAG-j" | sed -E 's/sha256:[0-9a-f]{64}/ID/' 
docker images -q "$TAG-j" | wc -l
docker rm "$TAG-c" >/dev/null
