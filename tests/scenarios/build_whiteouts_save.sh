# Deletions in a build become whiteouts in the saved layers; an opaque directory too.
mkdir ctx && cd ctx
printf 'FROM busybox\nRUN mkdir -p /d/keep /o && echo 1 > /d/f && echo 2 > /o/x && echo 3 > /o/y\nRUN rm /d/f && rm -r /o && mkdir /o && echo new > /o/z && rm /etc/group\n' > Dockerfile
docker build -q -t "$TAG-wh" . >/dev/null || exit 1
docker run --rm "$TAG-wh" sh -c 'ls -A /d /o; ls /etc/group 2>&1'
docker save "$TAG-wh" -o ../img.tar && mkdir ../img && tar -xf ../img.tar -C ../img
cd ../img && python3 - <<'PY'
import json, tarfile
manifest = json.load(open("manifest.json"))[0]
print(manifest["RepoTags"], len(manifest["Layers"]))
last = tarfile.open(manifest["Layers"][-1])
for member in sorted(last.getmembers(), key=lambda m: m.name):
    print(member.name.rstrip("/"), "dir" if member.isdir() else "file", member.size if member.isfile() else "")
PY
docker rmi "$TAG-wh" >/dev/null
