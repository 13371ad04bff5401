"""A throwaway Docker registry on 127.0.0.1 for the end-to-end tests, and a tiny image to put in it.

The real clients (skopeo, the docker CLI, docker-py) only ask a credential helper when a
registry challenges them, so the end-to-end tests need a registry with basic auth. The Debian
`docker-registry` (distribution 2.8) is started per test on a free port with an htpasswd file,
and an image is built by hand and pushed over the registry HTTP API: no engine, no internet.
Plain importable helpers; the tests wrap them in fixtures.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from beds.servers import free_port, stop_process

REGISTRY_BINARY = "docker-registry"
HTPASSWD_BINARY = "htpasswd"

DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG_V1 = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST_V1 = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG_V1 = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

START_TIMEOUT_S = 15.0
HTTP_TIMEOUT_S = 5.0
#: Where `push_tiny_image` puts the image unless told otherwise, as "repo:tag".
TINY_REPO, TINY_TAG = "bed/tiny", "v1"
TINY_IMAGE = f"{TINY_REPO}:{TINY_TAG}"


class RegistryBedError(RuntimeError):
    """The test registry could not be started or did not accept an upload."""


@dataclass
class RunningRegistry:
    """A registry process started by `start_registry`, with what a test needs to reach it."""

    host: str
    user: str
    password: str
    root: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    tls: bool = False
    ca_cert: Optional[Path] = None
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        """The base URL, so tests can talk HTTP to it without guessing the scheme."""
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def port(self) -> int:
        """The TCP port, for tests that build their own host strings."""
        return int(self.host.rsplit(":", 1)[1])

    def log(self) -> str:
        """The registry's own output, to explain a failure in an assertion message."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the process now (idempotent), so a test can check behaviour when it is down."""
        if self._stopped:
            return
        self._stopped = True
        stop_process(self.process)


@dataclass
class Registries:
    """The registries of the clients' end-to-end tests, each holding the tiny image
    (`TINY_IMAGE`): one a secret covers, one for logins, one open to anyone."""

    secret: RunningRegistry
    login: RunningRegistry
    open: RunningRegistry
    ref: str = TINY_IMAGE


def tools_missing() -> list[str]:
    """Binaries this bed needs that are not on PATH, so tests can skip with a reason."""
    wanted = [REGISTRY_BINARY, HTPASSWD_BINARY]
    return [name for name in wanted if shutil.which(name) is None]


def htpasswd_line(user: str, password: str) -> str:
    """A bcrypt htpasswd entry (distribution 2.8 accepts only bcrypt); password via stdin."""
    done = subprocess.run(
        [HTPASSWD_BINARY, "-nBi", user],
        input=password.encode(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        raise RegistryBedError(f"htpasswd failed: {done.stderr.decode(errors='replace')}")
    return done.stdout.decode().strip() + "\n"


def self_signed_cert(
    directory: Path, name: str = "127.0.0.1", alt_names: str = "IP:127.0.0.1"
) -> tuple[Path, Path]:
    """A self-signed certificate for `name`, for a registry reached over TLS.

    The certificate is alone in `certs/ca.crt`, so `skopeo --cert-dir=<that dir>` trusts it
    and verifies the registry by that name instead of switching verification off.
    """
    (directory / "certs").mkdir()
    (directory / "key").mkdir(mode=0o700)
    cert, key = directory / "certs" / "ca.crt", directory / "key" / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName={alt_names}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        timeout=60,
        check=True,
    )
    return cert, key


def _registry_config(
    root: Path, port: int, tls: Optional[tuple[Path, Path]], anonymous: bool = False
) -> str:
    """The registry's YAML (JSON is valid YAML), with auth unless `anonymous`, a private storage
    dir and quiet logs."""
    http: dict[str, object] = {
        "addr": f"127.0.0.1:{port}",
        "secret": secrets.token_hex(16),
        "headers": {"X-Content-Type-Options": ["nosniff"]},
    }
    if tls is not None:
        http["tls"] = {"certificate": str(tls[0]), "key": str(tls[1])}
    config = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(root / "data")},
            "delete": {"enabled": True},
        },
        "http": http,
        "health": {"storagedriver": {"enabled": False}},
    }
    if not anonymous:
        config["auth"] = {"htpasswd": {"realm": "basic-realm", "path": str(root / "htpasswd")}}
    return json.dumps(config, indent=2)


def _ping_status(url: str, context: object = None) -> Optional[int]:
    """The HTTP status of GET /v2/, or None while nothing answers yet."""
    try:
        with urllib.request.urlopen(  # noqa: S310 - a URL we built ourselves, loopback only
            f"{url}/v2/", timeout=1.0, context=context
        ) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (OSError, ValueError):
        return None


def _ssl_context(ca_cert: Optional[Path]) -> object:
    """An SSL context trusting only our own certificate, or None for plain HTTP."""
    if ca_cert is None:
        return None
    import ssl

    return ssl.create_default_context(cafile=str(ca_cert))


@contextlib.contextmanager
def start_registry(
    user: str = "bed-user",
    password: Optional[str] = None,
    *,
    tls: bool = False,
    anonymous: bool = False,
    attempts: int = 3,
) -> Iterator[RunningRegistry]:
    """Run an authenticating registry on 127.0.0.1 for the duration of the `with` block.

    `anonymous` runs an open one instead, that challenges nobody: what a client does after the
    helper answers not found (go on without credentials) then succeeds, as on a public registry.

    It answers before the block starts (bounded wait) and is always stopped after it. Plain
    HTTP by default: skopeo (`--tls-verify=false`) and the docker CLI (127.0.0.0/8 is insecure by
    default; `--insecure` for `manifest inspect`) both accept it.
    """
    missing = tools_missing()
    if missing:
        raise RegistryBedError(f"missing tools: {', '.join(missing)}")
    password = password if password is not None else "pw-" + secrets.token_urlsafe(12)
    with tempfile.TemporaryDirectory(prefix="registry-bed-") as tmp:
        root = Path(tmp)
        (root / "data").mkdir()
        (root / "htpasswd").write_text(htpasswd_line(user, password))
        cert_key = self_signed_cert(root) if tls else None
        ca_cert = cert_key[0] if cert_key else None
        registry = _launch(root, user, password, cert_key, ca_cert, attempts, anonymous)
        try:
            yield registry
        finally:
            registry.stop()


def _launch(
    root: Path,
    user: str,
    password: str,
    cert_key: Optional[tuple[Path, Path]],
    ca_cert: Optional[Path],
    attempts: int,
    anonymous: bool = False,
) -> RunningRegistry:
    """Start the process and wait for it; retry on a new port if it died (the port was taken)."""
    last_log = ""
    for attempt in range(attempts):
        port = free_port()
        config_path = root / "config.yml"
        config_path.write_text(_registry_config(root, port, cert_key, anonymous))
        log_path = root / f"registry-{attempt}.log"
        # A clean environment: REGISTRY_* variables would override the config file.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root)}
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [REGISTRY_BINARY, "serve", str(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        registry = RunningRegistry(
            host=f"127.0.0.1:{port}",
            user=user,
            password=password,
            root=root,
            process=process,
            log_path=log_path,
            tls=cert_key is not None,
            ca_cert=ca_cert,
        )
        context = _ssl_context(ca_cert)
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while time.monotonic() < deadline and process.poll() is None:
                if _ping_status(registry.url, context) in (200, 401):
                    return registry
                time.sleep(0.05)
        except BaseException:
            registry.stop()
            raise
        last_log = registry.log()
        registry.stop()
    raise RegistryBedError(f"registry did not start after {attempts} attempts:\n{last_log}")


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tiny_layer(content: bytes = b"hello from the registry bed\n") -> tuple[bytes, str]:
    """One reproducible gzip tar layer holding one file; returns (blob, diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        info.mode = 0o644
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    blob = gzip.compress(tar_bytes, mtime=0)
    return blob, _digest(tar_bytes)


def tiny_image(
    oci: bool = False, content: Optional[bytes] = None
) -> tuple[bytes, str, list[bytes]]:
    """A minimal single-layer linux/amd64 image: (manifest, manifest media type, blobs)."""
    layer, diff_id = tiny_layer() if content is None else tiny_layer(content)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/hello.txt"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "created": "2024-01-01T00:00:00Z",
            "history": [{"created_by": "beds/registry.py"}],
        },
        separators=(",", ":"),
    ).encode()
    media = (
        (OCI_MANIFEST_V1, OCI_CONFIG_V1, OCI_LAYER_GZIP)
        if oci
        else (DOCKER_MANIFEST_V2, DOCKER_CONFIG_V1, DOCKER_LAYER_GZIP)
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": media[0],
        "config": {"mediaType": media[1], "size": len(config), "digest": _digest(config)},
        "layers": [{"mediaType": media[2], "size": len(layer), "digest": _digest(layer)}],
    }
    return json.dumps(manifest, indent=2).encode(), media[0], [config, layer]


def _request(
    registry: RunningRegistry,
    method: str,
    url: str,
    body: Optional[bytes] = None,
    headers: Optional[dict[str, str]] = None,
    auth: bool = True,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP call to the bed with basic auth: (status, headers, body); 4xx does not raise."""
    if not url.startswith(("http://", "https://")):
        url = registry.url + url
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    if auth:
        token = base64.b64encode(f"{registry.user}:{registry.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(  # noqa: S310
            request, timeout=HTTP_TIMEOUT_S, context=_ssl_context(registry.ca_cert)
        ) as response:
            return int(response.status), dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), dict(error.headers.items()), error.read()


def upload_blob(registry: RunningRegistry, repo: str, blob: bytes) -> str:
    """Upload one blob monolithically (POST then PUT ?digest=); returns its digest."""
    digest = _digest(blob)
    status, _, _ = _request(registry, "HEAD", f"/v2/{repo}/blobs/{digest}")
    if status == 200:
        return digest
    status, headers, text = _request(registry, "POST", f"/v2/{repo}/blobs/uploads/", body=b"")
    location = headers.get("Location") or headers.get("location")
    if status != 202 or not location:
        raise RegistryBedError(f"blob upload start: {status} {text!r}")
    location = urllib.parse.urljoin(registry.url + "/", location)
    separator = "&" if "?" in location else "?"
    status, _, text = _request(
        registry,
        "PUT",
        f"{location}{separator}digest={urllib.parse.quote(digest)}",
        body=blob,
        headers={"Content-Type": "application/octet-stream"},
    )
    if status != 201:
        raise RegistryBedError(f"blob upload {digest}: {status} {text!r}")
    return digest


def push_tiny_image(
    registry: RunningRegistry,
    repo: str = TINY_REPO,
    tag: str = TINY_TAG,
    *,
    oci: bool = False,
    content: Optional[bytes] = None,
) -> str:
    """Put a hand-built image in the bed through the HTTP API, no engine; returns "repo:tag"."""
    manifest, media_type, blobs = tiny_image(oci=oci, content=content)
    for blob in blobs:
        upload_blob(registry, repo, blob)
    status, _, text = _request(
        registry,
        "PUT",
        f"/v2/{repo}/manifests/{tag}",
        body=manifest,
        headers={"Content-Type": media_type},
    )
    if status != 201:
        raise RegistryBedError(f"manifest upload: {status} {text!r}")
    return f"{repo}:{tag}"


def manifest_digest(registry: RunningRegistry, repo_tag: str) -> str:
    """The registry's digest for a pushed tag, so tests can compare what a client read."""
    repo, tag = repo_tag.rsplit(":", 1)
    status, headers, text = _request(
        registry,
        "HEAD",
        f"/v2/{repo}/manifests/{tag}",
        headers={"Accept": f"{DOCKER_MANIFEST_V2}, {OCI_MANIFEST_V1}"},
    )
    if status != 200:
        raise RegistryBedError(f"manifest head: {status} {text!r}")
    lower = {k.lower(): v for k, v in headers.items()}
    return lower["docker-content-digest"]


class TokenRegistry:
    """A registry of our own on 127.0.0.1 for what Debian's cannot be made to do.

    It challenges with a Bearer token service at `/token` (as ghcr.io, Docker Hub and ECR
    Public do) that takes `user:password` as Basic auth, answers a good login with
    `token_status` (200, or a 403 as ghcr.io gives for a package not shared with the
    repository), and serves /v2/ to the token it issued. Over TLS (`tls_name`), with a
    certificate for that name alone, in `ca_cert`. With `drip`, every answer is written a
    byte every `drip` seconds, as a registry that never lets a socket timeout expire.
    `realm_host` is the host its challenge names (its own by default; `ghcr.io` when it is
    reached as ghcr.io through beds.proxy). `requests` holds every request line it received,
    with its Authorization header, for tests that check where credentials went.
    """

    SERVICE = "bearer-test"
    TOKEN = "registry-token"
    DRIP_BYTES = 30  # a bound on how long one dripping answer lasts

    def __init__(
        self,
        user: str,
        password: str,
        *,
        token_status: int = 200,
        tls_name: Optional[str] = None,
        realm_host: Optional[str] = None,
        drip: float = 0.0,
    ) -> None:
        import http.server
        import ssl
        import threading

        self.user, self.password, self.token_status = user, password, token_status
        self.drip = drip
        self.requests: list[tuple[str, str]] = []
        self.stopping = threading.Event()
        self._tmp = tempfile.TemporaryDirectory(prefix="token-registry-")
        self.ca_cert: Optional[Path] = None
        context = None
        if tls_name is not None:
            alt = f"IP:{tls_name}" if tls_name.replace(".", "").isdigit() else f"DNS:{tls_name}"
            cert, key = self_signed_cert(Path(self._tmp.name), tls_name, alt)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            self.ca_cert = cert
        bed = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                bed.requests.append((self.requestline, self.headers.get("Authorization", "")))
                if self.path.startswith("/token"):
                    expected = "Basic " + base64.b64encode(
                        f"{bed.user}:{bed.password}".encode()
                    ).decode("ascii")
                    if self.headers.get("Authorization") != expected:
                        return self._answer(401, {})
                    if f"service={bed.SERVICE}" not in self.path:
                        return self._answer(400, {})
                    if bed.token_status != 200:
                        return self._answer(bed.token_status, {})
                    return self._answer(200, {"token": bed.TOKEN})
                if self.headers.get("Authorization") == f"Bearer {bed.TOKEN}":
                    return self._answer(200, {})
                realm = f"{bed.scheme}://{bed.realm_host}/token"
                challenge = f'Bearer realm="{realm}",service="{bed.SERVICE}"'
                return self._answer(401, {}, {"WWW-Authenticate": challenge})

            def _answer(self, status: int, body: dict, headers: Optional[dict] = None) -> None:
                data = json.dumps(body).encode()
                head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
                head += [f"{k}: {v}" for k, v in (headers or {}).items()]
                head += [f"Content-Length: {len(data)}", "Connection: close", "", ""]
                raw = "\r\n".join(head).encode() + data
                self.close_connection = True
                if not bed.drip:
                    self.wfile.write(raw)
                    return
                for byte in raw[: bed.DRIP_BYTES]:
                    if bed.stopping.wait(bed.drip):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()

            def log_message(self, *args: object) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def finish_request(self, request: Any, client_address: Any) -> None:
                """The TLS handshake in the request's own thread, never in the accept loop."""
                if context is not None:
                    request.settimeout(HTTP_TIMEOUT_S)
                    try:
                        request = context.wrap_socket(request, server_side=True)
                    except OSError:  # a client that does not trust the certificate
                        return
                super().finish_request(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.host = f"127.0.0.1:{self.port}"
        self.scheme = "https" if context is not None else "http"
        self.realm_host = realm_host or self.host
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TokenRegistry:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=HTTP_TIMEOUT_S)
        self._tmp.cleanup()
