"""A name server that never answers, and a private mount namespace whose resolv.conf names it.

glibc's resolver reads /etc/resolv.conf and nothing else says where the name servers are
(`LOCALDOMAIN` and `RES_OPTIONS` change the search list and the timeouts, `HOSTALIASES` only
single-label names), so a command is run where /etc/resolv.conf is a file of the bed's own:
in a private mount namespace (`unshare -m`, as root), with that file bind-mounted over it.
The file names one loopback address on which `DeadNameServer` takes every query, over UDP and
TCP, and answers none: a lookup there hangs as it does with a name server that is down, and no
query leaves the machine. The address is a random one of 127.0.0.0/8, so that runs side by
side on one machine never share it. The machine's own /etc/resolv.conf is never touched.

Plain importable helpers; the tests wrap them in fixtures.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import threading
from pathlib import Path
from typing import Optional

#: Run in the private mount namespace before the command: `$1` is the bed's resolv.conf.
NAMESPACE_SCRIPT = 'mount --bind "$1" /etc/resolv.conf || exit 97; shift; exec "$@"'
DNS_PORT = 53


def cannot_run() -> Optional[str]:
    """Why a private resolv.conf cannot be had here, or None if it can."""
    missing = [name for name in ("unshare", "mount") if shutil.which(name) is None]
    if missing:
        return f"needs {', '.join(missing)} on PATH; not found"
    if os.geteuid() != 0:
        return "needs root: only root may bind-mount in a mount namespace without a user one"
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", NAMESPACE_SCRIPT, "sh", "/dev/null", "true"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        return f"cannot bind-mount over /etc/resolv.conf in a mount namespace: {probe.stderr!r}"
    return None


class DeadNameServer:
    """Takes DNS queries on a loopback address, UDP and TCP, and never answers one.

    Use as a context manager; `resolv_conf` is the file to bind-mount over /etc/resolv.conf,
    naming only this server with the resolver's default timeouts, and `queries` counts the
    UDP queries that arrived (proof that the lookups went here and nowhere else).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.queries = 0
        self.address = ""
        self._udp: Optional[socket.socket] = None
        self._tcp: Optional[socket.socket] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._held: list[socket.socket] = []

    def __enter__(self) -> DeadNameServer:
        for _ in range(20):
            address = f"127.{1 + secrets.randbelow(254)}.{1 + secrets.randbelow(254)}.53"
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                udp.bind((address, DNS_PORT))
                tcp.bind((address, DNS_PORT))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen()
            self.address, self._udp, self._tcp = address, udp, tcp
            break
        else:
            raise RuntimeError("no loopback address with port 53 free")
        self.resolv_conf.write_text(f"nameserver {self.address}\n")
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    @property
    def resolv_conf(self) -> Path:
        return self.directory / "resolv.conf"

    def _serve(self) -> None:
        assert self._udp is not None and self._tcp is not None
        self._udp.settimeout(0.05)
        self._tcp.settimeout(0.05)
        while not self._stop.is_set():
            try:
                self._udp.recvfrom(4096)
                self.queries += 1
            except OSError:
                pass
            try:
                connection, _ = self._tcp.accept()
                self._held.append(connection)  # held open, never answered
            except OSError:
                pass

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for sock in (self._udp, self._tcp, *self._held):
            if sock is not None:
                sock.close()

    def namespaced(self, argv: list[str]) -> list[str]:
        """`argv` run where /etc/resolv.conf names only this server."""
        return ["unshare", "-m", "sh", "-c", NAMESPACE_SCRIPT, "sh", str(self.resolv_conf), *argv]
