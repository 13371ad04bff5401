"""A loopback HTTP proxy that records everything it is sent, and tunnels only where told.

Tests point HTTP_PROXY and HTTPS_PROXY at it to see where a client sends credentials. It
keeps every request it receives, head and body, whole (`received`). A CONNECT to a name in
`tunnels` is joined to the loopback address given for it, so a test can serve `ghcr.io:443`
from its own TLS server with nothing leaving the machine; any other CONNECT is refused with
403. A plain request is a bait: it is challenged for Basic credentials, and one that brings
them is told 200, as a careless client would take for a registry's yes.
"""

from __future__ import annotations

import http.server
import select
import socket
import threading
from typing import Any, Optional

# Bounds: a tunnel lasts at most this long, and each wait for bytes this long.
TUNNEL_LIFETIME_S = 60.0
POLL_S = 0.2
CONNECT_TIMEOUT_S = 5.0


class LoopbackProxy:
    """The proxy on 127.0.0.1 for the duration of a `with` block; `url` to put in *_PROXY."""

    def __init__(self, tunnels: Optional[dict[str, tuple[str, int]]] = None) -> None:
        self.tunnels = dict(tunnels or {})
        self.received: list[bytes] = []
        self.stopping = threading.Event()
        bed = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 1 << 20)) if length else b""
                bed.received.append(
                    self.requestline.encode() + b"\r\n" + bytes(self.headers) + body
                )

            def do_CONNECT(self) -> None:
                self._record()
                target = bed.tunnels.get(self.path)
                if target is None:
                    self.send_error(403, "this proxy tunnels only to the test's own servers")
                    return
                upstream = socket.create_connection(target, timeout=CONNECT_TIMEOUT_S)
                try:
                    self.send_response(200, "Connection established")
                    self.end_headers()
                    self.wfile.flush()
                    _relay(self.connection, upstream, bed.stopping)
                finally:
                    upstream.close()
                self.close_connection = True

            def _bait(self) -> None:
                self._record()
                if self.headers.get("Authorization"):
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                else:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="proxy"')
                    self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_HEAD = _bait

            def log_message(self, *args: object) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def environment(self) -> dict[str, str]:
        """Every proxy variable a client may read, naming this proxy."""
        names = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")
        return {name: self.url for name in names}

    def __enter__(self) -> LoopbackProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=CONNECT_TIMEOUT_S)


def _relay(client: Any, upstream: socket.socket, stopping: threading.Event) -> None:
    """Copy bytes both ways until either side closes, the bed stops, or the lifetime ends."""
    import time

    deadline = time.monotonic() + TUNNEL_LIFETIME_S
    pair = {client: upstream, upstream: client}
    while not stopping.is_set() and time.monotonic() < deadline:
        readable, _, _ = select.select(list(pair), [], [], POLL_S)
        for source in readable:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            pair[source].sendall(data)
