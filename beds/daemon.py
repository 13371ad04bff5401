"""A real docker daemon for the end-to-end tests: Debian's dockerd, as root, on a private socket.

The pulls users make go through a daemon: the docker CLI asks the helper, then hands the
credentials to dockerd, which talks to the registry. So the end-to-end tests start Debian's
`dockerd` (20.10) with everything of its own under one short temporary directory (data root,
exec root, pidfile, socket: a unix socket path may not exceed 107 bytes), no iptables and no
bridge, so that it touches nothing of the machine's networking. A module's tests share one
daemon, since starting one costs more than most tests that use it.

Stopping is bounded and leaves nothing behind: the PID in the daemon's own pidfile gets SIGTERM
(then SIGKILL), the containerd it started is waited for by its pidfile too, and every mount
left under the directory (dockerd leaves `exec/netns/default` mounted, and bind-mounts its data
root over itself) is unmounted before the directory is removed.

The storage driver is overlay2 where the kernel lets this directory be an overlay's layers,
vfs otherwise (it works everywhere, but copies every layer whole for each container and build
step, which makes the dev container build many times slower).

The client is the docker CLI 28 at `DOCKER_CLIENT`, which every machine of this kind has:
it is the client users run, the one the daemonless tests describe, and it negotiates API 1.41
with this daemon. `beds/environment.py` puts it on the tests' PATH under the name `docker`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

DOCKERD_BINARY = "dockerd"
#: The docker CLI the tests drive; see the module docstring for why this one.
DOCKER_CLIENT = Path("/usr/local/bin/docker")
#: Where the short daemon directories go: tempfile's default may be a long TMPDIR.
SHORT_TMP = "/tmp"

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
PING_TIMEOUT_S = 2.0
POLL_S = 0.1


class DaemonBedError(RuntimeError):
    """The daemon could not be started, or did not stop."""


@dataclass
class RunningDaemon:
    """A dockerd started by `start_daemon`, with what the clients need to reach it."""

    root: Path
    process: subprocess.Popen[bytes]
    driver: str
    _stopped: bool = field(default=False, repr=False)

    @property
    def socket_path(self) -> Path:
        return self.root / "sock"

    @property
    def pidfile(self) -> Path:
        return self.root / "pid"

    @property
    def exec_root(self) -> Path:
        return self.root / "exec"

    @property
    def data_root(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "dockerd.log"

    @property
    def host(self) -> str:
        """The value of DOCKER_HOST that reaches this daemon and no other."""
        return f"unix://{self.socket_path}"

    def log(self) -> str:
        """The daemon's own output, to explain a failure in an assertion message."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the daemon by its pidfile's PID and clean up its mounts (idempotent, bounded)."""
        if self._stopped:
            return
        self._stopped = True
        containerd = _read_pid(self.exec_root / "containerd" / "containerd.pid")
        pid = _read_pid(self.pidfile)
        if pid != self.process.pid:
            pid = self.process.pid  # not written yet, or gone: our own child is the daemon
        _terminate(pid, self.process)
        if containerd is not None:
            _wait_gone(containerd)
        _unmount_under(self.root)


def unavailable() -> Optional[str]:
    """Why this machine cannot run the bed, or None: the tests skip with this reason."""
    if os.geteuid() != 0:
        return "a docker daemon needs root"
    if shutil.which(DOCKERD_BINARY) is None:
        return f"{DOCKERD_BINARY} is not on PATH (Debian's docker.io)"
    if not os.access(DOCKER_CLIENT, os.X_OK):
        return f"the docker CLI is not at {DOCKER_CLIENT}"
    return None


def _read_pid(path: Path) -> Optional[int]:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(pid: int, timeout: float = STOP_TIMEOUT_S) -> None:
    """Wait for a process that is not our child to exit; SIGKILL it when the wait runs out."""
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _terminate(pid: int, process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, a bounded wait for dockerd's own shutdown, then SIGKILL."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below `root`, deepest first, from this process's mountinfo."""
    prefix = str(root)
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            # Field 5 is the mount point, with spaces and the like written as octal escapes.
            point = line.split(" ")[4].encode().decode("unicode_escape")
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    return sorted(points, key=len, reverse=True)


def _unmount_under(root: Path) -> None:
    """Lazily unmount what the daemon left mounted under `root`, so it can be removed."""
    for point in mounts_under(root):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=30, check=False)
    remaining = mounts_under(root)
    if remaining:
        raise DaemonBedError(f"still mounted after the daemon stopped: {remaining}")


def storage_driver() -> str:
    """overlay2 if an overlay mount of directories under `SHORT_TMP` works here, else vfs."""
    with tempfile.TemporaryDirectory(prefix="dkd-probe-", dir=SHORT_TMP) as tmp:
        layers = {name: Path(tmp) / name for name in ("lower", "upper", "work", "merged")}
        for layer in layers.values():
            layer.mkdir()
        options = ",".join(f"{name}dir={layers[name]}" for name in ("lower", "upper", "work"))
        mounted = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", options, str(layers["merged"])],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if mounted.returncode != 0:
            return "vfs"
        _unmount_under(Path(tmp))
        return "overlay2"


def _pinged(socket_path: Path) -> bool:
    """Whether the daemon answers GET /_ping on its socket with OK."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(PING_TIMEOUT_S)
            sock.connect(str(socket_path))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
    except OSError:
        return False
    return answer.startswith(b"HTTP/1.") and answer.endswith(b"\r\n\r\nOK")


def daemon_argv(root: Path, driver: str) -> list[str]:
    """dockerd with everything of its own under `root`, and no part of the host's network."""
    return [
        DOCKERD_BINARY,
        "--data-root",
        str(root / "data"),
        "--exec-root",
        str(root / "exec"),
        "--pidfile",
        str(root / "pid"),
        "-H",
        f"unix://{root / 'sock'}",
        "--storage-driver",
        driver,
        "--iptables=false",
        "--ip6tables=false",
        "--bridge=none",
    ]


@contextlib.contextmanager
def start_daemon(driver: Optional[str] = None) -> Iterator[RunningDaemon]:
    """Run a dockerd for the duration of the `with` block: it answers before the block starts
    (bounded wait) and is stopped, its mounts undone and its directory removed, after it.

    The storage `driver` is `storage_driver()`'s choice unless one is named.
    """
    reason = unavailable()
    if reason is not None:
        raise DaemonBedError(reason)
    chosen = driver or storage_driver()
    root = Path(tempfile.mkdtemp(prefix="dkd-", dir=SHORT_TMP))
    try:
        daemon = _launch(root, chosen)
        try:
            yield daemon
        finally:
            daemon.stop()
    finally:
        _unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)


def _launch(root: Path, driver: str) -> RunningDaemon:
    """Start dockerd and wait until it answers on its socket, or fail with its log."""
    # A clean environment: DOCKER_* or proxy variables of the machine must not steer it.
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(root), "LANG": "C.UTF-8"}
    with (root / "dockerd.log").open("wb") as log_file:
        process = subprocess.Popen(
            daemon_argv(root, driver),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    daemon = RunningDaemon(root=root, process=process, driver=driver)
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if _pinged(daemon.socket_path):
                return daemon
            time.sleep(POLL_S)
    except BaseException:
        daemon.stop()
        raise
    daemon.stop()
    raise DaemonBedError(f"dockerd did not answer within {START_TIMEOUT_S} s:\n{daemon.log()}")
