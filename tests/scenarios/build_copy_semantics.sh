# COPY and ADD as users write them: wildcards, directory contents, trailing slashes, --chown, JSON form with spaces.
mkdir -p ctx/dir/sub ctx/other && cd ctx
echo a > a.txt; echo b > b.txt; echo c > c.log; echo d > dir/d; echo e > dir/sub/e; echo s > "with space.txt"
printf 'FROM busybox\nCOPY *.txt /w/\nCOPY dir /contents\nCOPY dir /keep/dir\nCOPY a.txt /renamed\nCOPY a.txt b.txt /many/\nCOPY ["with space.txt", "/sp ace/"]\nCOPY --chown=65534:65534 dir/d /owned/d\nCOPY --chown=nobody c.log /owned/\nADD c.log /added.log\nWORKDIR /rel\nCOPY a.txt ./here\nCOPY a.txt nodir\n' > Dockerfile
docker build -q -t "$TAG-copy" . >/dev/null || exit 1
docker run --rm "$TAG-copy" sh -c 'find /w /contents /keep /renamed /many "/sp ace" /owned /added.log /rel | sort; stat -c "%n %u:%g %a" /owned/d /owned/c.log /w/a.txt /contents/sub /rel/here /rel/nodir'
echo "-- a directory source needs a trailing slash with several sources"
printf 'FROM busybox\nCOPY a.txt b.txt /notdir\n' > Dockerfile.bad
docker build -q -f Dockerfile.bad . 2>&1 | grep -v DEPRECATED | grep -v -i buildkit | sed '/^\s*$/d'; echo "rc=${PIPESTATUS[0]}"
echo "-- a missing source"
printf 'FROM busybox\nCOPY nothere /x\n' > Dockerfile.missing
docker build -q -f Dockerfile.missing . 2>&1 | grep -v DEPRECATED | grep -v -i buildkit | sed '/^\s*$/d'; echo "rc=${PIPESTATUS[0]}"
docker rmi "$TAG-copy" >/dev/null
