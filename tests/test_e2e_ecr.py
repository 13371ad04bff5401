"""End to end through an ECR host name: skopeo pulls, the helper swaps an AWS key for a token.

The helper only does the ECR exchange for a name its parser accepts as ECR, and an ECR name has
no port (`123456789012.dkr.ecr.us-east-1.amazonaws.com:5000` is not an ECR host). So the test
registry must answer on port 443 under that exact name, without touching the machine:

- A holder process (`unshare --net --mount --pid --fork --kill-child sh`) owns a private network
  namespace, a private mount namespace in which a test hosts file is bind-mounted over
  /etc/hosts (mapping the ECR name to 127.0.0.1), and a PID namespace whose init is that `sh`.
- The registry (TLS, a certificate for the ECR name), skopeo and the helper skopeo starts all run
  inside, entered with `nsenter`. Port 443 there belongs to this test alone: nothing is bound on
  the machine's own loopback, so a busy host port can neither break nor skip the test.
- FakeECR and the image push stay in this process: a short-lived thread `setns`es into the
  private network namespace and creates the sockets there; a socket keeps the namespace it was
  created in, so FakeECR's listener then serves the helper from inside while the test still
  reads its call counter directly.
- Cleanup cannot be skipped: closing the holder's stdin (which also happens if pytest dies) ends
  its `sh`, the PID namespace's init, and the kernel then kills every process left inside.

The registry's htpasswd user is `AWS` and its password is the first token FakeECR will mint
(`fake-ecr-000001-<key id>`, see `beds.aws.FakeECR._issue`); the test checks that prediction
against what FakeECR actually issued before blaming anything else.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import secrets
import select
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TypeVar

import pytest

from beds import registry as bed
from beds.aws import FakeECR, decode_token
from beds.client import HELPER, PROGRAM, run_text
from beds.environment import add_secret
from beds.values import ECR_HOST, ECR_REGION, KEY_ID, SECRET_KEY
from docker_credential_codespaces.constants import HELPER_NAME

pytestmark = pytest.mark.e2e

T = TypeVar("T")

# A canary random per run, so a leak can never be a coincidence.
WRONG_SECRET_KEY = "CANARY-ecr-wrong-" + secrets.token_hex(12)
SECRET_PREFIX = "ECR"
REPO, TAG = "team/app", "v1"

CMD_TIMEOUT_S = 30.0
READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
THREAD_TIMEOUT_S = 30.0

# <linux/sched.h> and <linux/sockios.h>, <net/if.h>: only what this file needs.
CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFREQ = "16sh22x"  # struct ifreq on 64-bit Linux: the name, then ifr_flags in a 24-byte union

# The holder: map the ECR name in a private /etc/hosts, say so, then live until stdin closes.
HOLDER_SCRIPT = 'mount --bind "$1" /etc/hosts || exit 97; echo ready; read -r _ || true'


def first_token_password(key_id: str) -> str:
    """The registry password in the first token a fresh FakeECR mints for *key_id*.

    Predicted rather than read back because the registry needs its htpasswd before the helper
    ever asks; `assert_first_token` checks the prediction against FakeECR's records.
    """
    return f"fake-ecr-000001-{key_id}"


# --------------------------------------------------------------------------------------------
# Preconditions: skip only for what this machine cannot do, with the reason shown by `-ra`.


def tools() -> dict[str, str]:
    """Absolute paths of the binaries this test drives; skip when one is missing."""
    wanted = ("unshare", "nsenter", "mount", "skopeo", bed.REGISTRY_BINARY, "htpasswd", "openssl")
    found = {name: shutil.which(name) for name in wanted}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        pytest.skip(f"ECR e2e needs {', '.join(missing)} on PATH; not found")
    return {name: path for name, path in found.items() if path is not None}


def need_root() -> None:
    """Skip unless root: only root may unshare and bind-mount without a user namespace."""
    if os.geteuid() != 0:
        pytest.skip("ECR e2e needs root: it creates network, mount and PID namespaces")


# --------------------------------------------------------------------------------------------
# The namespace: a holder process, commands entered with nsenter, work done from a thread.


def _setns(fd: int, nstype: int) -> None:
    """setns(2) for the calling thread (os.setns exists only from Python 3.12)."""
    native = getattr(os, "setns", None)
    if native is not None:
        native(fd, nstype)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, nstype) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def _bring_up_loopback() -> None:
    """`ip link set lo up` by ioctl, so the test does not also depend on iproute2."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        answer = fcntl.ioctl(sock, SIOCGIFFLAGS, struct.pack(IFREQ, b"lo", 0))
        flags = struct.unpack(IFREQ, answer)[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP))


@dataclass
class Namespace:
    """The private namespaces of one holder process, and ways to work inside them."""

    holder: subprocess.Popen[bytes]
    root: Path
    nsenter: str
    background: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def ns_path(self, name: str) -> str:
        """The holder's namespace file *name*; unshare itself sits in the new net and mnt."""
        return f"/proc/{self.holder.pid}/ns/{name}"

    def command(self, args: list[str]) -> list[str]:
        """*args* run inside: private network, private /etc/hosts, the holder's PID namespace."""
        return [
            self.nsenter,
            f"--net={self.ns_path('net')}",
            f"--mount={self.ns_path('mnt')}",
            f"--pid={self.ns_path('pid_for_children')}",
            f"--wd={self.root}",
            "--",
            *args,
        ]

    def run(self, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        """Run a command inside and wait for it (bounded); both outputs as text."""
        return run_text(self.command(args), env, timeout=CMD_TIMEOUT_S)

    def spawn(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        """Start a server inside; it dies with the PID namespace, at the latest in `stop`."""
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                self.command(args),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.background.append(process)
        return process

    def inside(self, work: Callable[[], T]) -> T:
        """Run *work* in a fresh thread that has joined the private network namespace.

        Only network namespaces can be joined by one thread of a threaded process; the thread
        ends afterwards, so no other code of this process ever runs in the namespace, while the
        sockets *work* created (a listener, say) stay in it.
        """
        results: list[T] = []
        errors: list[BaseException] = []

        def target() -> None:
            try:
                with open(self.ns_path("net"), "rb") as namespace:
                    _setns(namespace.fileno(), CLONE_NEWNET)
                results.append(work())
            except BaseException as error:  # handed to the calling thread below
                errors.append(error)

        thread = threading.Thread(target=target, name="in-private-netns", daemon=True)
        thread.start()
        thread.join(THREAD_TIMEOUT_S)
        if thread.is_alive():
            raise TimeoutError(
                f"work in the private network namespace took over {THREAD_TIMEOUT_S} s"
            )
        if errors:
            raise errors[0]
        return results[0]

    def stop(self) -> None:
        """End the holder, and with it every process in its PID namespace; bounded waits."""
        if self.holder.stdin is not None and not self.holder.stdin.closed:
            self.holder.stdin.close()
        try:
            self.holder.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.holder.kill()  # --kill-child: the namespace's init gets SIGKILL in turn
            self.holder.wait(timeout=STOP_TIMEOUT_S)
        for process in self.background:  # nsenter parents exit once their child is gone
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)
        if self.holder.stdout is not None:
            self.holder.stdout.close()


def _wait_ready(holder: subprocess.Popen[bytes]) -> bool:
    """Whether the holder printed its ready line within READY_TIMEOUT_S."""
    assert holder.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT_S
    seen = b""
    while time.monotonic() < deadline and b"\n" not in seen:
        readable, _, _ = select.select([holder.stdout], [], [], 0.1)
        if readable:
            chunk = os.read(holder.stdout.fileno(), 64)
            if not chunk:
                break
            seen += chunk
    return seen.startswith(b"ready\n")


@contextlib.contextmanager
def private_namespace(root: Path, paths: dict[str, str]) -> Iterator[Namespace]:
    """A network + mount + PID namespace where ECR_HOST is 127.0.0.1; skips if not permitted."""
    hosts = root / "hosts"
    hosts.write_text(f"127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.0.1\t{ECR_HOST}\n")
    errors = root / "holder.err"
    with errors.open("wb") as error_file:
        holder = subprocess.Popen(
            [
                paths["unshare"],
                "--net",
                "--mount",
                "--propagation=private",
                "--pid",
                "--fork",
                "--kill-child",
                "--",
                "/bin/sh",
                "-c",
                HOLDER_SCRIPT,
                "holder",
                str(hosts),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=error_file,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
    namespace = Namespace(holder=holder, root=root, nsenter=paths["nsenter"])
    try:
        if not _wait_ready(holder):
            namespace.stop()
            why = errors.read_text(errors="replace").strip() or f"exit status {holder.returncode}"
            pytest.skip(f"cannot create private namespaces (unshare/mount not permitted): {why}")
        try:
            namespace.inside(_bring_up_loopback)
        except PermissionError as error:
            pytest.skip(f"cannot join the private network namespace: {error}")
        yield namespace
    finally:
        namespace.stop()


# --------------------------------------------------------------------------------------------
# The registry inside: TLS on 127.0.0.1:443 with a certificate for the ECR name.


def _wait_for_registry(registry: bed.RunningRegistry) -> bool:
    """Poll /v2/ from inside until it challenges (401); False if it died or stayed silent."""
    context = bed._ssl_context(registry.ca_cert)
    deadline = time.monotonic() + bed.START_TIMEOUT_S
    while time.monotonic() < deadline and registry.process.poll() is None:
        if bed._ping_status(registry.url, context) == 401:
            return True
        time.sleep(0.05)
    return False


@dataclass
class EcrBed:
    """The namespace, the registry in it, and the image the tests pull."""

    namespace: Namespace
    registry: bed.RunningRegistry
    cert_dir: Path
    ref: str
    digest: str


@pytest.fixture(scope="module")
def ecr_bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EcrBed]:
    """One namespace and registry for the module (about a second); always torn down."""
    need_root()
    paths = tools()
    root = tmp_path_factory.mktemp("ecr-bed")
    with private_namespace(root, paths) as namespace:
        password = first_token_password(KEY_ID)
        (root / "data").mkdir()
        (root / "htpasswd").write_text(bed.htpasswd_line("AWS", password))
        cert, key = bed.self_signed_cert(root, ECR_HOST, f"DNS:{ECR_HOST},IP:127.0.0.1")
        config = root / "config.yml"
        config.write_text(bed._registry_config(root, 443, (cert, key)))
        process = namespace.spawn(
            [paths[bed.REGISTRY_BINARY], "serve", str(config)],
            # A clean environment: REGISTRY_* variables would override the config file.
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root)},
            log=root / "registry.log",
        )
        registry = bed.RunningRegistry(
            host="127.0.0.1:443",
            user="AWS",
            password=password,
            root=root,
            process=process,
            log_path=root / "registry.log",
            tls=True,
            ca_cert=cert,
        )
        assert namespace.inside(lambda: _wait_for_registry(registry)), registry.log()
        ref = namespace.inside(lambda: bed.push_tiny_image(registry, REPO, TAG))
        digest = namespace.inside(lambda: bed.manifest_digest(registry, ref))
        yield EcrBed(namespace, registry, cert.parent, ref, digest)
    assert ECR_HOST not in Path("/etc/hosts").read_text(), "the machine's /etc/hosts was changed"


# --------------------------------------------------------------------------------------------
# Per test: the FakeECR of the `fake` fixture, moved inside the namespace.


@pytest.fixture(autouse=True)
def fake_inside(ecr_bed: EcrBed, fake: FakeECR, env: dict[str, str], tmp_path: Path) -> None:
    """The test's FakeECR, fresh (its first token is always seq 1), listening inside: started
    again from a thread in the namespace, before `ecr_env` names its endpoint; and the test's
    own TMPDIR for what runs inside."""
    fake.stop()
    ecr_bed.namespace.inside(fake.start)
    env["TMPDIR"] = str(tmp_path)


def configure(ecr_bed: EcrBed, env: dict[str, str]) -> None:
    """Run `configure` and check that skopeo will ask the helper for the port-less ECR name."""
    done = ecr_bed.namespace.run([str(HELPER), "configure"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    config = json.loads((Path(env["DOCKER_CONFIG"]) / "config.json").read_text())
    assert config.get("credHelpers") == {ECR_HOST: HELPER_NAME}


def skopeo_inspect(ecr_bed: EcrBed, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    image = f"docker://{ECR_HOST}/{ecr_bed.ref}"
    return ecr_bed.namespace.run(
        ["skopeo", "inspect", f"--cert-dir={ecr_bed.cert_dir}", image], env
    )


def skopeo_copy(
    ecr_bed: EcrBed, env: dict[str, str], dest: str
) -> subprocess.CompletedProcess[str]:
    image = f"docker://{ECR_HOST}/{ecr_bed.ref}"
    return ecr_bed.namespace.run(
        ["skopeo", "copy", f"--src-cert-dir={ecr_bed.cert_dir}", image, dest], env
    )


def helper_get(ecr_bed: EcrBed, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`get` for the ECR name, run inside like skopeo runs it, with debug hints on."""
    debug_env = dict(env, DOCKER_CREDENTIAL_CODESPACES_DEBUG="1")
    return ecr_bed.namespace.run(
        ["sh", "-c", 'printf %s "$1" | "$0" get', str(HELPER), ECR_HOST], debug_env
    )


def assert_first_token(fake: FakeECR) -> None:
    """FakeECR minted exactly the password the registry was given, for our key and region."""
    calls = fake.calls
    assert calls, "the helper never called FakeECR"
    first = calls[0]
    assert (first.service, first.region, first.key_id, first.status) == (
        "ecr",
        ECR_REGION,
        KEY_ID,
        200,
    ), first
    assert first.token is not None
    assert decode_token(first.token) == ("AWS", first_token_password(KEY_ID)), (
        "FakeECR's token format changed; update first_token_password()"
    )


# --------------------------------------------------------------------------------------------
# The tests.


def test_skopeo_pulls_from_an_ecr_host_with_one_token_exchange(
    ecr_bed: EcrBed, fake: FakeECR, ecr_env: dict[str, str], tmp_path: Path
) -> None:
    """inspect and copy both authenticate through the helper; the token is fetched once."""
    configure(ecr_bed, ecr_env)

    inspected = skopeo_inspect(ecr_bed, ecr_env)
    assert_first_token(fake)
    assert inspected.returncode == 0, inspected.stderr + ecr_bed.registry.log()
    assert json.loads(inspected.stdout)["Digest"] == ecr_bed.digest

    copied = skopeo_copy(ecr_bed, ecr_env, f"dir:{tmp_path / 'out'}")
    assert copied.returncode == 0, copied.stderr
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["schemaVersion"] == 2

    assert fake.count() == 1, [(call.seq, call.status, call.error) for call in fake.calls]

    # The helper on its own, debug hints on: the cached token, no second exchange.
    got = helper_get(ecr_bed, ecr_env)
    assert got.returncode == 0, got.stdout + got.stderr
    assert json.loads(got.stdout) == {
        "ServerURL": ECR_HOST,
        "Username": "AWS",
        "Secret": first_token_password(KEY_ID),
    }
    assert fake.count() == 1

    for done in (inspected, copied):
        assert PROGRAM not in done.stderr, "the helper must be silent on success"
    for done in (inspected, copied, got):
        assert SECRET_KEY not in done.stdout + done.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET_KEY.encode() not in path.read_bytes(), f"secret key written to {path}"


def test_wrong_secret_key_fails_skopeo_with_the_helpers_one_line(
    ecr_bed: EcrBed, fake: FakeECR, ecr_env: dict[str, str], tmp_path: Path
) -> None:
    """AWS rejects the signature; skopeo shows the helper's sentence naming the variable."""
    add_secret(ecr_env, SECRET_PREFIX, ECR_HOST, KEY_ID, WRONG_SECRET_KEY)
    configure(ecr_bed, ecr_env)

    got = helper_get(ecr_bed, ecr_env)
    assert got.returncode == 1
    line = got.stdout
    assert line.count("\n") == 1 and line.endswith("\n"), line
    assert "AWS rejected the secret key in ECR_CONTAINER_REGISTRY_PASSWORD" in line
    assert fake.calls and fake.calls[0].error == "InvalidSignatureException"

    inspected = skopeo_inspect(ecr_bed, ecr_env)
    copied = skopeo_copy(ecr_bed, ecr_env, f"dir:{tmp_path / 'out'}")
    for done in (inspected, copied):
        assert done.returncode != 0
        assert "error getting credentials" in done.stderr, done.stderr
        assert f"out: `{line.rstrip()}`" in done.stderr, done.stderr
    assert not (tmp_path / "out" / "manifest.json").exists()
    assert all(call.error == "InvalidSignatureException" for call in fake.calls)
    assert fake.count(ok=True) == 0

    for done in (got, inspected, copied):
        for canary in (WRONG_SECRET_KEY, SECRET_KEY):
            assert canary not in done.stdout + done.stderr
