"""``%dock layers IMAGE``: an image as the stack of layers it really is.

An image is not one file system but a list of layers, base first, each a
tar of the files one Dockerfile step *added*, *changed* or *deleted*.  A
deletion cannot be stored as an absence, so the tar carries a "whiteout"
(``.wh.NAME``); a directory whose lower contents were all replaced is
marked "opaque".  overlayfs stacks the layers at run time; the same layer
is stored once and shared by every image built on it.

The widget shows one collapsible node per layer -- its instruction, size
and short digest -- opening onto its changes.  Clicking a change shows the
file as that layer stores it (content or metadata).  Core ipywidgets only:
no custom JavaScript, so it renders wherever ipywidgets does.
"""

from __future__ import annotations

import html
import stat
import time
from typing import Callable

import docker
import ipywidgets as widgets

from nbdock.client.formatting import ellipsis, human_size
from nbdock.client.kernel_views import short_digest

#: How each kind of change is drawn in the list.
CHANGE_MARKS = {"A": "+", "C": "~", "D": "-"}


def layer_title(index: int, layer: dict) -> str:
    """``2  RUN apk add curl  (5.2MB, 3f2a9c1d0e4b)``: what the node shows closed."""
    instruction = " ".join((layer.get("created_by") or "").replace("/bin/sh -c #(nop) ", "").split())
    size = "empty" if layer.get("empty_layer") else human_size(layer.get("size", 0))
    digest = short_digest(layer.get("diff_id")) or "no layer"
    return f"{index}  {ellipsis(instruction or '(no instruction)', 70)}  ({size}, {digest})"


def change_label(change: dict) -> str:
    """``+ /etc/motd``, ``~ /etc``, ``- /tmp/cache (whiteout)``, ``~ /var/lib (opaque: lower contents hidden)``."""
    label = f"{CHANGE_MARKS.get(change.get('kind'), '?')} {change['path']}"
    if change.get("kind") == "D":
        label += "  (whiteout)"
    if change.get("opaque"):
        label += "  (opaque: lower contents hidden)"
    if change.get("type") == "symlink" and change.get("link_target"):
        label += f" -> {change['link_target']}"
    return label


def describe_file(change: dict, fetched=None) -> str:
    """HTML for one change: its metadata, and its content when it is a readable file."""
    rows = [("path", change["path"]), ("change", {"A": "added", "C": "changed", "D": "deleted"}.get(change.get("kind"), "?")),
            ("type", change.get("type", ""))]
    if change.get("kind") == "D":
        rows.append(("stored as", "a whiteout: a character device 0/0 named like the file (.wh. in the tar)"))
    if fetched is not None:
        modified = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(fetched.mtime))
        rows += [("mode", stat.filemode(fetched.mode)), ("size", f"{fetched.size} bytes"),
                 ("owner", f"{fetched.uid}:{fetched.gid}"), ("modified", modified)]
    elif change.get("mode") is not None:
        rows.append(("mode", stat.filemode(change["mode"]) if isinstance(change["mode"], int) else str(change["mode"])))
    table = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    body = ""
    if fetched is not None and change.get("type") == "file":
        text = fetched.content.decode("utf-8", errors="replace")
        if "\x00" in text:
            body = "<p><i>binary content</i></p>"
        else:
            more = " (first 64 KiB)" if fetched.size > len(fetched.content) else ""
            body = f"<p>content{more}:</p><pre style='max-height:20em;overflow:auto'>{html.escape(text)}</pre>"
    return f"<table>{table}</table>{body}"


class LayersView:
    """The widget.  ``fetch_file(diff_id, path)`` returns a file as the layer stores it (a LayerFile)."""

    def __init__(self, image: str, layers: list[dict], fetch_file: Callable[[str, str], object]):
        self.image = image
        self.layers = layers
        self.fetch_file = fetch_file
        self.nodes = [self._node(layer) for layer in layers]
        self.accordion = widgets.Accordion(children=[node for node, _, _ in self.nodes])
        for index, layer in enumerate(layers):
            self.accordion.set_title(index, layer_title(index, layer))
        total = sum(layer.get("size", 0) for layer in layers)
        header = widgets.HTML(f"<b>{html.escape(image)}</b>: {len(layers)} layers, base first, {human_size(total)} in all")
        self.widget = widgets.VBox([header, self.accordion])

    def _node(self, layer: dict) -> tuple[widgets.VBox, widgets.Select, widgets.HTML]:
        changes = layer.get("changes") or []
        shared = layer.get("shared_with") or []
        summary = widgets.HTML(
            f"<code>{html.escape(layer.get('diff_id') or 'no layer')}</code><br>"
            f"{html.escape(layer.get('created_by', ''))}<br>"
            + (f"shared with: {html.escape(', '.join(shared))}" if shared else "used by no other image")
        )
        options = [(change_label(change), position) for position, change in enumerate(changes)]
        chooser = widgets.Select(options=options, value=None, rows=min(12, max(3, len(options))),
                                 layout=widgets.Layout(width="100%"))
        detail = widgets.HTML("<i>no file changes: this step only changed the image's configuration</i>" if not changes
                              else "<i>click a change to see the file</i>")
        chooser.observe(lambda event: self._show(layer, changes, event["new"], detail), names="value")
        return widgets.VBox([summary, chooser, detail]), chooser, detail

    def _show(self, layer: dict, changes: list[dict], position: int | None, detail: widgets.HTML) -> None:
        if position is None:
            return
        change = changes[position]
        fetched = None
        if change.get("kind") != "D" and change.get("type") in ("file", "dir", "symlink"):
            try:
                fetched = self.fetch_file(layer["diff_id"], change["path"])
            except Exception as error:  # shown in the widget: a click must not raise into the void
                detail.value = describe_file(change) + f"<p style='color:#b00'>{html.escape(self._unreadable(error))}</p>"
                return
        detail.value = describe_file(change, fetched)

    def _unreadable(self, error: Exception) -> str:
        """Why a file cannot be shown, in words.  The widget outlives what it draws: a lesson's clean-up
        (``rmi``) or a rebuild under the same name can take the image away while the tree is on screen."""
        again = f"build or pull it again, then show it again with %dock layers {self.image}"
        if isinstance(error, docker.errors.ImageNotFound):
            return f"image removed: {self.image} is no longer in the daemon, and its layers went with it ({again})"
        if isinstance(error, docker.errors.NotFound):
            return (f"layer gone: {self.image} now names another image, one without this layer "
                    f"(show the new one with %dock layers {self.image})")
        return f"could not read the file: {error}"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
