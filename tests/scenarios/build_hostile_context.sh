# A build context cannot reach the host: paths outside it, symlinks out of it, a tar with ../ entries.
mkdir ctx && cd ctx
echo inside > inside.txt
ln -s /etc/hostname link-out
ln -s ../../../../../../etc dir-out
printf 'FROM busybox\nCOPY ../outside /x\n' > Dockerfile.up
echo outside > ../outside
docker build -q -f Dockerfile.up . 2>&1 | grep -v DEPRECATED | grep -v -i buildkit | sed '/^\s*$/d'; echo "rc=${PIPESTATUS[0]}"
echo "-- a symlink source is followed inside the context only (its target is not there)"
printf 'FROM busybox\nCOPY link-out /l\n' > Dockerfile.links
docker build -q -f Dockerfile.links . 2>&1 | grep -o 'file not found in build context[^:]*'; echo "rc=${PIPESTATUS[0]}"
echo "-- copying the symlinks themselves (a directory holding them) keeps them as links"
mkdir links && ln -s /etc/hostname links/abs && ln -s ../../../../etc links/up
printf 'FROM busybox\nCOPY links /links\nRUN readlink /links/abs; readlink /links/up\n' > Dockerfile.dir
docker build -q -f Dockerfile.dir -t "$TAG-h1" . >/dev/null 2>&1; echo "rc=$?"
docker run --rm "$TAG-h1" sh -c 'readlink /links/abs; readlink /links/up'
python3 - <<'PY'
import io, tarfile
with tarfile.open("evil.tar", "w") as t:
    for name in ("../../escaped", "/abs-escaped", "ok"):
        data = b"x"
        info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
PY
printf 'FROM busybox\nADD evil.tar /unpacked/\nRUN find /unpacked | sort; ls /escaped /abs-escaped 2>&1 | sort\n' > Dockerfile.tar
echo "-- a tar whose names climb out is read as in a chroot: everything lands under the destination"
docker build -f Dockerfile.tar -t "$TAG-h2" . 2>&1 | grep -E '^/|ls:'
docker rmi "$TAG-h1" "$TAG-h2" >/dev/null 2>&1; true
