# ONBUILD triggers, USER, LABEL, MAINTAINER, STOPSIGNAL, HEALTHCHECK, EXPOSE, VOLUME, SHELL: what inspect and history show.
mkdir ctx && cd ctx
echo payload > payload.txt
cat > Dockerfile.base <<'DF'
FROM busybox
MAINTAINER Teacher <t@example.org>
LABEL course="containers 101" level=1
ONBUILD COPY payload.txt /from-onbuild.txt
ONBUILD RUN echo triggered > /triggered
USER nobody
EXPOSE 80 53/udp
VOLUME /data
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s CMD true
SHELL ["/bin/sh", "-ec"]
RUN whoami > /tmp/who
DF
docker build -q -f Dockerfile.base -t "$TAG-base" . >/dev/null || exit 1
docker inspect -f '{{.Author}}|{{.Config.Labels}}|{{.Config.OnBuild}}|{{.Config.User}}|{{.Config.ExposedPorts}}|{{.Config.Volumes}}|{{.Config.StopSignal}}|{{.Config.Healthcheck.Test}}|{{.Config.Healthcheck.Interval}}|{{.Config.Shell}}' "$TAG-base"
docker history --format '{{.CreatedBy}}' "$TAG-base" | head -12
printf 'FROM %s\nUSER root\nRUN cat /triggered /from-onbuild.txt > /both\n' "$TAG-base" > Dockerfile.child
docker build -f Dockerfile.child -t "$TAG-child" . 2>&1 | grep -E '^(Step|# Executing)' 
docker run --rm "$TAG-child" sh -c 'cat /both; cat /tmp/who; id -u'
docker inspect -f '{{.Config.OnBuild}}|{{.Config.User}}' "$TAG-child"
printf 'FROM %s\n' "$TAG-child" > Dockerfile.grandchild
docker build -f Dockerfile.grandchild -t "$TAG-gc" . 2>&1 | grep -c 'Executing'
docker rmi "$TAG-gc" "$TAG-child" "$TAG-base" >/dev/null
