"""What every bed's server needs: a loopback port to listen on, and a stop that is bounded."""

from __future__ import annotations

import socket
import subprocess


def free_port() -> int:
    """A loopback port that was free a moment ago; servers retry if another process takes it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Terminate, then kill after a bounded wait: a bed must never leave a server behind."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)
