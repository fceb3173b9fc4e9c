"""``%dock attach NAME``: a small terminal in the cell -- an output area and an input box.

It is ``docker attach`` done with widgets: one hijacked connection to the
container (``POST /containers/{id}/attach``), its output read by a
background thread into the output area, each line typed in the box sent to
the container's stdin followed by a newline.  "Close stdin" sends
end-of-input (``cat`` ends, a shell exits), as Ctrl-D would.
"""

from __future__ import annotations

import socket
import threading

import docker
import ipywidgets as widgets

from nbdock.client.errors import CommandError
from nbdock.client.streams import STDERR, read_frames


class AttachView:
    def __init__(self, api: docker.APIClient, container: str):
        info = api.inspect_container(container)
        if not info["State"]["Running"]:
            raise CommandError("You cannot attach to a stopped container, start it first")
        self.name = info["Name"].lstrip("/")
        self.tty = info["Config"]["Tty"]
        self.accepts_input = info["Config"]["OpenStdin"]
        params = {"stdin": int(self.accepts_input), "stdout": 1, "stderr": 1, "stream": 1}
        self.connection = api.attach_socket(info["Id"], params=params)
        self.output = widgets.Output(layout=widgets.Layout(border="1px solid #ccc", max_height="20em", overflow="auto"))
        # continuous_update=False: the value changes on Enter, not on every key.
        self.line = widgets.Text(placeholder="type a line, Enter sends it" if self.accepts_input
                                 else "this container was not started with -i: it has no stdin",
                                 disabled=not self.accepts_input, continuous_update=False,
                                 layout=widgets.Layout(width="70%"))
        self.close_button = widgets.Button(description="Close stdin", disabled=not self.accepts_input)
        self.status = widgets.Label(f"attached to {self.name}")
        self.line.observe(self._line_entered, names="value")
        self.close_button.on_click(self._close_stdin)
        self.widget = widgets.VBox([self.status, self.output, widgets.HBox([self.line, self.close_button])])
        self.reader = threading.Thread(target=self._read_output, daemon=True)
        self.reader.start()

    def send(self, data: bytes) -> None:
        self.connection._sock.sendall(data)

    def _line_entered(self, change: dict) -> None:
        if not change["new"]:
            return  # the box being cleared below
        self.line.value = ""
        try:
            self.send(change["new"].encode() + b"\n")
        except OSError as error:
            self.status.value = f"cannot send: {error.strerror}"

    def _close_stdin(self, _button=None) -> None:
        try:
            self.connection._sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.line.disabled = self.close_button.disabled = True

    def _read_output(self) -> None:
        try:
            for stream, data in read_frames(self.connection, self.tty):
                text = data.decode(errors="replace")
                if stream == STDERR:
                    self.output.append_stderr(text)
                else:
                    self.output.append_stdout(text)
        except (OSError, CommandError) as error:
            self.output.append_stderr(f"\n[{error}]\n")
        self.status.value = f"{self.name}: output ended (the container stopped or closed its output)"
        self.line.disabled = self.close_button.disabled = True

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
