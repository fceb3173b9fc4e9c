"""The %compose graph's data: inspect answers -> AppModel -> networkx graph (pure functions, no daemon)."""

import matplotlib

matplotlib.use("Agg")

from nbdock.views.compose_graph import AppModel, app_model, draw, to_graph  # noqa: E402

WEB_ID = "a" * 64
WORKER_ID = "b" * 64
ANON = "c" * 64


def container(id_, name, service, networks, ports=None, mounts=(), oneoff="False", project="shop"):
    return {
        "Id": id_, "Name": "/" + name, "State": {"Status": "running"},
        "Config": {"Labels": {"com.docker.compose.project": project, "com.docker.compose.service": service,
                              "com.docker.compose.oneoff": oneoff}},
        "NetworkSettings": {"Networks": networks, "Ports": ports or {}},
        "Mounts": list(mounts),
    }


CONTAINERS = [
    container(WEB_ID, "shop_web_1", "web",
              {"shop_default": {"IPAddress": "172.20.0.2", "Aliases": ["web", "www", WEB_ID[:12]]}},
              ports={"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "81/tcp": None},
              mounts=[{"Type": "volume", "Name": "shop_data", "Destination": "/www"}]),
    container(WORKER_ID, "shop_worker_1", "worker",
              {"shop_default": {"IPAddress": "172.20.0.3", "Aliases": ["worker", WORKER_ID[:12]]},
               "shop_back": {"IPAddress": "172.21.0.2", "Aliases": ["worker"]}},
              mounts=[{"Type": "volume", "Name": "shop_data", "Destination": "/data"},
                      {"Type": "volume", "Name": ANON, "Destination": "/tmp/cache"},
                      {"Type": "bind", "Source": "/srv/conf", "Destination": "/conf"}]),
    container("d" * 64, "shop_worker_run_1", "worker", {}, oneoff="True"),
    container("e" * 64, "other_web_1", "web", {}, project="other"),
]
NETWORKS = [{"Name": "shop_default", "IPAM": {"Config": [{"Subnet": "172.20.0.0/16"}]}},
            {"Name": "shop_back", "IPAM": {"Config": [{"Subnet": "172.21.0.0/16"}]}}]
CONFIG = {"services": {"web": {}, "worker": {"depends_on": {"web": {"condition": "service_healthy"}}},
                       "cron": {"depends_on": ["worker"]}}}


def model() -> AppModel:
    return app_model("shop", CONTAINERS, NETWORKS, CONFIG)


def test_services_hold_their_containers_and_one_off_and_other_projects_are_left_out():
    m = model()
    assert {service: [c.name for c in cs] for service, cs in m.services.items()} == {
        "cron": [], "web": ["shop_web_1"], "worker": ["shop_worker_1"]}


def test_each_network_shows_the_address_and_the_dns_names_without_the_short_id():
    worker = model().services["worker"][0]
    assert worker.networks == {"shop_back": ("172.21.0.2", ["shop_worker_1", "worker"]),
                               "shop_default": ("172.20.0.3", ["shop_worker_1", "worker"])}
    assert model().services["web"][0].networks["shop_default"] == ("172.20.0.2", ["shop_web_1", "web", "www"])
    assert model().networks == {"shop_back": "172.21.0.0/16", "shop_default": "172.20.0.0/16"}


def test_published_ports_named_volumes_and_who_mounts_them():
    m = model()
    assert m.services["web"][0].ports == ["0.0.0.0:8080 -> 80/tcp"]
    assert m.volumes == {"shop_data": ["web", "worker"]}  # the anonymous volume belongs to no service
    assert ("/srv/conf", "/conf", "bind") in m.services["worker"][0].mounts


def test_depends_on_in_both_forms_with_its_condition():
    assert model().depends_on == [("cron", "worker", "service_started"), ("worker", "web", "service_healthy")]


def test_the_graph_connects_what_the_model_says():
    graph = to_graph(model())
    assert graph.nodes["service:web"]["kind"] == "service"
    assert graph.has_edge("service:web", "container:shop_web_1")
    on = graph.edges["container:shop_worker_1", "network:shop_back"]
    assert (on["address"], on["names"]) == ("172.21.0.2", ["shop_worker_1", "worker"])
    assert graph.has_edge("port:0.0.0.0:8080 -> 80/tcp", "container:shop_web_1")
    assert graph.edges["service:worker", "volume:shop_data"]["at"] == "/data"
    assert graph.edges["service:worker", "service:web"]["condition"] == "service_healthy"
    assert not graph.has_edge("service:web", "service:worker")  # directed: who waits for whom


def test_drawing_a_model_and_an_empty_one():
    figure = draw(model())
    texts = {t.get_text() for t in figure.axes[0].texts}
    assert "depends_on (service_healthy)" in texts
    assert any("172.20.0.2" in t and "www" in t for t in texts)
    empty = draw(app_model("none", [], [], None))
    assert any("nothing runs" in t.get_text() for t in empty.axes[0].texts)
