"""%%compose and %compose in a real IPython shell: the real docker-compose against the test daemon."""

import shutil
import uuid

import docker
import pytest
from IPython.core.error import UsageError

from nbdock.client import compose

pytestmark = [pytest.mark.root, pytest.mark.slow]

APP = """
services:
  web:
    image: busybox
    command: httpd -f -p 80 -h /srv
    volumes: [site:/srv]
    networks:
      default:
        aliases: [www]
  worker:
    image: busybox
    command: sleep 300
    depends_on: [web]
    volumes: [site:/data]
volumes:
  site:
"""


@pytest.fixture
def project(api):
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is not installed (scripts/install.sh installs it)")
    name = f"nbt{uuid.uuid4().hex[:8]}"
    yield name
    label = {"label": f"com.docker.compose.project={name}"}
    for container in api.containers(all=True, filters=label):
        api.remove_container(container["Id"], force=True, v=True)
    for network in api.networks(filters=label):
        api.remove_network(network["Id"])
    for volume in api.volumes(filters=label).get("Volumes") or []:
        api.remove_volume(volume["Name"], force=True)
    shutil.rmtree(compose.default_directory(name), ignore_errors=True)


def test_cell_brings_the_app_up_and_line_commands_act_on_it(shell, api, project, capsys):
    shell.run_cell_magic("compose", project, APP)
    out = capsys.readouterr().out
    assert f"Creating {project}_web_1" in out and f"Creating {project}_worker_1" in out
    label = {"label": f"com.docker.compose.project={project}"}
    assert sorted(c["Names"][0] for c in api.containers(filters=label)) == [f"/{project}_web_1", f"/{project}_worker_1"]

    shell.run_line_magic("compose", f"{project} exec worker nslookup www")
    assert "Address" in capsys.readouterr().out  # the alias answered by the embedded DNS
    shell.run_line_magic("compose", "ps --services")  # the last %%compose project by default
    assert capsys.readouterr().out.split() == ["web", "worker"]

    figure = shell.run_line_magic("compose", f"graph {project}")
    texts = " ".join(t.get_text() for t in figure.axes[0].texts)
    assert f"{project}_web_1" in texts and "depends_on (service_started)" in texts and f"{project}_site" in texts

    shell.run_line_magic("compose", f"{project} down -v")
    assert "Removing network" in capsys.readouterr().out
    assert api.containers(all=True, filters=label) == [] and api.networks(filters=label) == []
    assert api.volumes(filters=label).get("Volumes") in (None, [])


def test_compose_errors_are_usage_errors_with_composes_message(shell, project):
    with pytest.raises(UsageError, match=r"up -d failed \(exit code 1\).*services\.web\.image"):
        shell.run_cell_magic("compose", project, "services:\n  web:\n    image: [not, a, string]\n")
    with pytest.raises(UsageError, match="no compose file for project 'nbtnothere'"):
        shell.run_line_magic("compose", "nbtnothere ps")
    with pytest.raises(UsageError, match="invalid compose project name 'Bad.Name'"):
        shell.run_cell_magic("compose", "Bad.Name", APP)
    with pytest.raises(UsageError, match="the compose file is empty"):
        shell.run_cell_magic("compose", project, "  \n")


def test_a_failed_compose_cell_stops_run_all(shell, project):
    result = shell.run_cell(f"%%compose {project}\nservices:\n  web:\n    image: busybox\n    bogus_key: 1\n")
    assert isinstance(result.error_in_exec, UsageError)
    assert "bogus_key" in str(result.error_in_exec)
