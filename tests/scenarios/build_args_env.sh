# ARG (also before FROM), --build-arg, ENV, and the substitutions Docker applies where it applies them.
mkdir ctx && cd ctx
cat > Dockerfile <<'DF'
ARG BASE=busybox
FROM $BASE
ARG WHO=world
ARG EMPTY
ENV GREETING="hello ${WHO}" OTHER=${EMPTY:-fallback} SET=${WHO:+isset} UNSET=${EMPTY:+nope}
ENV PATHY=/opt/$WHO/bin
LABEL who=$WHO
WORKDIR /$WHO
RUN echo "run sees $WHO and $GREETING" > /out
CMD echo "$GREETING|$OTHER|$SET|$UNSET|$PATHY|$(pwd)|$(cat /out)"
DF
docker build -q -t "$TAG-a1" . >/dev/null && docker run --rm "$TAG-a1"
docker build -q --build-arg WHO=students -t "$TAG-a2" . >/dev/null && docker run --rm "$TAG-a2"
docker inspect -f '{{.Config.Env}} {{.Config.Labels}} {{.Config.WorkingDir}}' "$TAG-a2"
docker history --format '{{.CreatedBy}}' "$TAG-a2" | head -7
echo "-- an unused --build-arg is only a warning"
docker build -q --build-arg NOTUSED=1 -t "$TAG-a3" . 2>&1 | grep -i -o 'not consumed\|NOTUSED' | sort -u
echo "-- escape directive"
printf '# escape=`\nFROM busybox\nRUN echo one `\n  two > /e\nCMD ["cat", "/e"]\n' > Dockerfile.esc
docker build -q -f Dockerfile.esc -t "$TAG-a4" . >/dev/null && docker run --rm "$TAG-a4"
docker rmi "$TAG-a1" "$TAG-a2" "$TAG-a3" "$TAG-a4" >/dev/null
