"""``%compose graph``: a picture of a running compose application, read back from the daemon.

What compose made is all visible through the Engine API: every container
carries the labels ``com.docker.compose.project`` and ``.service``; its
inspect shows the networks it is on (its address there and the names the
embedded DNS answers for it: the container's name and its aliases, among
them the service name), the ports published on the host and the volumes
mounted.  Only ``depends_on`` is not on the containers: it comes from the
compose file (``docker-compose config``).

Three steps, kept apart so that the middle one is a pure function with
unit tests:

* :func:`gather` asks the daemon (and compose) -- the only part with I/O;
* :func:`app_model` turns those answers into an :class:`AppModel`;
* :func:`to_graph` and :func:`draw` make a networkx graph of it and draw it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
ONEOFF_LABEL = "com.docker.compose.oneoff"


@dataclass
class ContainerView:
    name: str
    service: str
    state: str
    #: network name -> (IPv4 address, the DNS names the network's resolver answers for this container)
    networks: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    #: "HOST_IP:HOST_PORT -> PORT/PROTO" for each published port
    ports: list[str] = field(default_factory=list)
    #: (volume name or host path, mount point, type)
    mounts: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class AppModel:
    project: str
    services: dict[str, list[ContainerView]] = field(default_factory=dict)
    #: network name -> its subnet
    networks: dict[str, str] = field(default_factory=dict)
    #: named volume -> services that mount it
    volumes: dict[str, list[str]] = field(default_factory=dict)
    #: (service, the service it depends on, condition)
    depends_on: list[tuple[str, str, str]] = field(default_factory=list)


def app_model(project: str, containers: list[dict[str, Any]], networks: list[dict[str, Any]],
              config: dict[str, Any] | None = None) -> AppModel:
    """The application from ``docker inspect`` of its containers and networks and its parsed compose config.

    One-off containers (``docker-compose run``) are left out: they are not
    the application's services.  A service in the config with no container
    (stopped and removed, or never started) still appears, without containers.
    """
    model = AppModel(project)
    for network in sorted(networks, key=lambda n: n["Name"]):
        configs = (network.get("IPAM") or {}).get("Config") or []
        model.networks[network["Name"]] = configs[0].get("Subnet", "") if configs else ""
    services_config = (config or {}).get("services") or {}
    for service in sorted(services_config):
        model.services.setdefault(service, [])
    for container in sorted(containers, key=lambda c: c["Name"]):
        labels = (container.get("Config") or {}).get("Labels") or {}
        if labels.get(PROJECT_LABEL) != project or labels.get(ONEOFF_LABEL) == "True":
            continue
        service = labels.get(SERVICE_LABEL, "?")
        view = ContainerView(container["Name"].lstrip("/"), service, (container.get("State") or {}).get("Status", ""))
        short_id = container["Id"][:12]
        for network_name, endpoint in sorted(((container.get("NetworkSettings") or {}).get("Networks") or {}).items()):
            names = [view.name] + [alias for alias in endpoint.get("Aliases") or [] if alias != short_id]
            view.networks[network_name] = (endpoint.get("IPAddress") or "", list(dict.fromkeys(names)))
            model.networks.setdefault(network_name, "")
        for port, bindings in sorted(((container.get("NetworkSettings") or {}).get("Ports") or {}).items()):
            for binding in bindings or []:
                view.ports.append(f"{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')} -> {port}")
        for mount in container.get("Mounts") or []:
            source = mount.get("Name") if mount.get("Type") == "volume" else mount.get("Source", "")
            view.mounts.append((source, mount.get("Destination", ""), mount.get("Type", "")))
            if mount.get("Type") == "volume" and _is_named(mount.get("Name", "")):
                users = model.volumes.setdefault(mount["Name"], [])
                if service not in users:
                    users.append(service)
        model.services.setdefault(service, []).append(view)
    for service, settings in sorted(services_config.items()):
        depends = settings.get("depends_on") or {}
        if isinstance(depends, list):  # the short form: started first, no condition
            depends = {name: {"condition": "service_started"} for name in depends}
        for dependency, how in sorted(depends.items()):
            model.depends_on.append((service, dependency, (how or {}).get("condition", "service_started")))
    return model


def _is_named(volume: str) -> bool:
    """Anonymous volumes are named by 64 hex digits: they belong to one container, not to a service."""
    return not (len(volume) == 64 and all(c in "0123456789abcdef" for c in volume))


def to_graph(model: AppModel):
    """A networkx graph: nodes ``service:``, ``container:``, ``network:``, ``volume:``, ``port:``, typed by ``kind``.

    Edges: a service to each of its containers; a container to each network
    it is on (``address`` and ``names`` on the edge); a container to each
    port published for it; a service to each named volume it mounts (``at``:
    the mount point); and a ``depends_on`` edge, directed from a service to
    the service it waits for.
    """
    import networkx

    graph = networkx.DiGraph(project=model.project)
    for network, subnet in model.networks.items():
        graph.add_node(f"network:{network}", kind="network", label=f"{network}\n{subnet}".strip())
    for volume in model.volumes:
        graph.add_node(f"volume:{volume}", kind="volume", label=volume)
    for service, containers in model.services.items():
        graph.add_node(f"service:{service}", kind="service", label=service)
        for container in containers:
            node = f"container:{container.name}"
            graph.add_node(node, kind="container", label=f"{container.name}\n({container.state})")
            graph.add_edge(f"service:{service}", node, kind="has")
            for network, (address, names) in container.networks.items():
                graph.add_edge(node, f"network:{network}", kind="on", address=address, names=names)
            for port in container.ports:
                graph.add_node(f"port:{port}", kind="port", label=port)
                graph.add_edge(f"port:{port}", node, kind="published")
            for source, destination, kind in container.mounts:
                if kind == "volume" and source in model.volumes:
                    graph.add_edge(f"service:{service}", f"volume:{source}", kind="mounts", at=destination)
    for service, dependency, condition in model.depends_on:
        graph.add_edge(f"service:{service}", f"service:{dependency}", kind="depends_on", condition=condition)
    return graph


_STYLE = {  # kind -> (colour, marker)
    "service": ("#4c72b0", "s"), "container": ("#dd8452", "o"), "network": ("#55a868", "h"),
    "volume": ("#8172b3", "D"), "port": ("#c44e52", "v"),
}


def draw(model: AppModel):
    """The graph drawn with matplotlib: services in a column, their containers, networks, volumes and ports."""
    import matplotlib.pyplot as plt
    import networkx

    graph = to_graph(model)
    # Columns left to right: volumes, the services mounting them, their containers, then the networks
    # the containers are on and the host ports published for them -- each kind in its own column, so a
    # line reads "mounted by", "runs as", "is on" or "is published at" without crossing the others.
    layer = {"volume": 0, "service": 1, "container": 2, "network": 3, "port": 3}
    for node, data in graph.nodes(data=True):
        data["layer"] = layer[data["kind"]]
    positions = networkx.multipartite_layout(graph, subset_key="layer", scale=2.0) if graph else {}
    count = max((sum(1 for _, d in graph.nodes(data=True) if d["layer"] == n) for n in range(4)), default=1)
    figure, axes = plt.subplots(figsize=(14, 2.2 + 1.3 * count))
    axes.set_axis_off()
    axes.set_title(f"compose project {model.project}", fontsize=12)
    if not graph:
        axes.text(0.5, 0.5, f"nothing runs in project {model.project}", ha="center", transform=axes.transAxes)
        plt.close(figure)
        return figure
    for kind, (colour, marker) in _STYLE.items():
        nodes = [n for n, d in graph.nodes(data=True) if d["kind"] == kind]
        networkx.draw_networkx_nodes(graph, positions, nodelist=nodes, node_color=colour, node_shape=marker,
                                     node_size=700, ax=axes, label=kind)
    edge_styles = {"has": ("grey", "solid"), "on": ("#55a868", "solid"), "published": ("#c44e52", "dashed"),
                   "mounts": ("#8172b3", "dotted"), "depends_on": ("black", "dashdot")}
    for kind, (colour, style) in edge_styles.items():
        edges = [(a, b) for a, b, d in graph.edges(data=True) if d["kind"] == kind]
        networkx.draw_networkx_edges(graph, positions, edgelist=edges, edge_color=colour, style=style, ax=axes,
                                     arrows=True, arrowstyle="-|>" if kind == "depends_on" else "-", arrowsize=15,
                                     connectionstyle="arc3,rad=0.25" if kind == "depends_on" else "arc3",
                                     node_size=700)
    labels = {n: d["label"] for n, d in graph.nodes(data=True)}
    networkx.draw_networkx_labels(graph, positions, labels=labels, font_size=8, ax=axes,
                                  verticalalignment="bottom", bbox={"facecolor": "white", "alpha": 0.7, "lw": 0})
    # On each container-network line: the address there and the names the resolver answers.
    edge_labels = {(a, b): f"{d['address']}\n{', '.join(d['names'])}" for a, b, d in graph.edges(data=True)
                   if d["kind"] == "on"}
    edge_labels |= {(a, b): f"depends_on ({d['condition']})" for a, b, d in graph.edges(data=True)
                    if d["kind"] == "depends_on"}
    edge_labels |= {(a, b): d["at"] for a, b, d in graph.edges(data=True) if d["kind"] == "mounts"}
    networkx.draw_networkx_edge_labels(graph, positions, edge_labels=edge_labels, font_size=7, ax=axes)
    axes.legend(loc="upper left", fontsize=8, markerscale=0.5, frameon=False)
    axes.margins(x=0.12, y=0.08)  # room for the labels of the outer columns
    plt.close(figure)  # shown by the caller (display), not again by the inline backend
    return figure


def gather(connection, project: str, config: dict[str, Any] | None = None) -> AppModel:
    """Ask the daemon for the project's containers and networks (``connection.api`` is docker-py's APIClient)."""
    api = connection.api
    label = {"label": f"{PROJECT_LABEL}={project}"}
    containers = [api.inspect_container(c["Id"]) for c in api.containers(all=True, filters=label)]
    networks = [api.inspect_network(n["Id"]) for n in api.networks(filters=label)]
    return app_model(project, containers, networks, config)
