"""The secrets: `<X>_CONTAINER_REGISTRY_SERVER`, `_USER` and `_PASSWORD` triples.

They are read at every request, from the process environment laid over the Codespaces
secrets file, so rotated secrets apply at once and shells without the variables (ssh, tmux,
cron) see them too.
"""

from __future__ import annotations

import os
import stat  # loaded by os already
import sys

# The bytes dict that os.environ is a view of (writes to os.environ land in it too). A `get`
# scans it instead of os.environ, which decodes every name in Python code as it iterates:
# about 2 ms for the 3,000 variables of 1,000 triples, most of the helper's own cost there.
from posix import environ

from .constants import (
    DEFAULT_SECRETS_FILE,
    DOCKER_HUB_KEY,
    ENV_SECRETS_FILE,
    SECRET_MARK,
    SECRET_PASSWORD,
    SECRET_SERVER,
    SECRET_USER,
)
from .log import debug, warn
from .servers import docker_key, ecr_registry

# The secrets file holds every secret of the codespace; a few MiB is far beyond a real one.
SECRETS_FILE_CAP = 4 * 1024 * 1024
_SUFFIXES = (SECRET_SERVER, SECRET_USER, SECRET_PASSWORD)
_ENCODING = sys.getfilesystemencoding()


class Secret:
    """One complete triple and the docker key its SERVER names. Its repr hides the password."""

    __slots__ = ("key", "password", "prefix", "server", "user")

    def __init__(self, prefix: str, server: str, user: str, password: str, key: str) -> None:
        self.prefix = prefix
        self.server = server
        self.user = user
        self.password = password
        self.key = key

    def __repr__(self) -> str:
        return f"Secret(prefix={self.prefix!r}, key={self.key!r})"

    def variable(self, suffix: str) -> str:
        """The full name of one of this triple's variables, for messages."""
        return self.prefix + suffix

    def misplaced_access_key(self) -> str | None:
        """Why this triple must not be answered, or None: an AWS key for a host that is not ECR.

        An access key is only ever exchanged for an ECR token, signed. Answered as a plain
        password, its secret key would go as such to whatever a mistyped SERVER names, and no
        registry would take it anyway.
        """
        if not is_access_key_id(self.user) or ecr_registry(self.key) is not None:
            return None
        server = self.variable(SECRET_SERVER)
        return (
            f"{self.variable(SECRET_USER)} holds an AWS access key id, but {server} names "
            f"{self.key}, which is not an ECR registry host; fix {server} "
            "(<account>.dkr.ecr.<region>.amazonaws.com or public.ecr.aws): an AWS secret key "
            "is never sent anywhere else"
        )


def is_access_key_id(user: str) -> bool:
    """Whether a USER is an AWS access key id: AKIA (long-term) or ASIA (temporary) + 16."""
    return (
        len(user) == 20
        and user.startswith(("AKIA", "ASIA"))
        and user.isascii()
        and user.isalnum()
        and user == user.upper()
    )


def secrets_file_path() -> str:
    """The Codespaces secrets file, or the one DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE names."""
    return os.environ.get(ENV_SECRETS_FILE) or DEFAULT_SECRETS_FILE


def _is_secret_name(name: str) -> bool:
    return SECRET_MARK in name and name.endswith(_SUFFIXES)


def read_file(path: str) -> dict[str, str]:
    """The registry variables in a secrets file of `NAME=<base64 of value>` lines.

    Lines that are not of that form are skipped: a half-written or foreign file must not stop
    the secrets in the environment from working. Neither may a file that cannot be read, or a
    FIFO in its place, which would otherwise hang every docker command.
    """
    try:
        data = _read_regular(path)
    except OSError as error:
        if not isinstance(error, FileNotFoundError):  # outside a codespace: nothing to say
            debug(f"ignoring the secrets file {path}: {error.strerror or error}")
        return {}
    if len(data) > SECRETS_FILE_CAP:
        debug(f"ignoring the secrets file {path}: it is larger than {SECRETS_FILE_CAP} bytes")
        return {}
    from binascii import Error, a2b_base64

    found = {}
    for line in data.splitlines():
        name, sep, value = line.partition(b"=")
        try:
            text = name.strip().decode("ascii")
        except UnicodeDecodeError:
            continue
        if not sep or not _is_secret_name(text):
            continue
        try:
            found[text] = a2b_base64(value.strip(), strict_mode=True).decode("utf-8")
        except (UnicodeDecodeError, Error, ValueError):
            debug(f"{text} in the secrets file is not base64 of UTF-8 text; ignoring it")
    return found


def _read_regular(path: str) -> bytes:
    """Up to one byte past the cap of a file, or OSError if it cannot be read or is no file.

    As files.read_regular, but a `get` reads this file in every codespace, and that module
    costs more to import than the whole read: only `os` and `stat` (loaded by `os`) are used.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("not a regular file")
    except OSError:
        os.close(fd)
        raise
    with open(fd, "rb") as stream:
        return stream.read(SECRETS_FILE_CAP + 1)


def variables() -> dict[str, str]:
    """Every registry variable: the secrets file's, overridden by the process environment."""
    found = read_file(secrets_file_path())
    for name, value in os.environ.items():
        if _is_secret_name(name):
            found[name] = value
    return found


def triples(found: dict[str, str] | None = None, key: str | None = None) -> list[Secret]:
    """Every complete triple whose SERVER names a registry, sorted by prefix.

    `found` is the variables to use (default: the file's, with the environment laid over).
    With `key`, only the triples for that docker key: a SERVER that does not even contain
    the key's host is never decoded or parsed, so a `get` costs little even with a thousand
    secrets. A triple with a missing or empty part, or a SERVER that cannot be parsed, is
    skipped and said under debug by name, never by value.
    """
    needle = _host_of(key) if key is not None else ""
    if found is None:
        file_values = read_file(secrets_file_path())
        servers = {
            n: v
            for n, v in file_values.items()
            if n.endswith(SECRET_SERVER) and needle in v.lower()
        }
        # The environment's SERVER variables, scanned as bytes (see `environ` above) with a
        # slice comparison, cheaper than bytes.endswith, which parses its arguments on every
        # call. A value that is not ASCII stays a candidate, since bytes.lower() folds ASCII
        # letters only; every candidate is checked again as text below.
        suffix, target = _encode(SECRET_SERVER), _encode(needle)
        tail = -len(suffix)
        in_environment = {n: v for n, v in environ.items() if n[tail:] == suffix}
        for name in [n for n in servers if _encode(n) in in_environment]:
            del servers[name]  # the environment overrides the file, match or not
        servers.update(
            (_decode(n), _decode(v))
            for n, v in in_environment.items()
            if target in v.lower() or not v.isascii()
        )

        def value(name: str) -> str:
            present = environ.get(_encode(name))
            return file_values.get(name, "") if present is None else _decode(present)

    else:
        servers = {
            n: v for n, v in found.items() if n.endswith(SECRET_SERVER) and needle in v.lower()
        }

        def value(name: str) -> str:
            return found.get(name, "")

    result = []
    for name in sorted(servers, key=lambda name: name[: -len(SECRET_SERVER)]):
        server = servers[name]
        prefix = name[: -len(SECRET_SERVER)]
        if not prefix or needle not in server.lower():
            continue
        parts = (
            (SECRET_USER, value(prefix + SECRET_USER)),
            (SECRET_PASSWORD, value(prefix + SECRET_PASSWORD)),
        )
        missing = [prefix + suffix for suffix, part in parts if not part]
        if missing:
            debug(f"{' and '.join(missing)} not set; ignoring {name}")
            continue
        server_key = docker_key(server)
        if server_key is None:
            debug(f"{name} does not name a registry host; ignoring it")
            continue
        if key is None or server_key == key:
            result.append(Secret(prefix, server, parts[0][1], parts[1][1], server_key))
    return result


def _encode(text: str) -> bytes:
    """Text as the environment holds it: os.environ's own encoding."""
    return text.encode(_ENCODING, "surrogateescape")


def _decode(data: bytes) -> str:
    """Environment bytes as text, exactly as os.environ would give them."""
    return data.decode(_ENCODING, "surrogateescape")


def _host_of(key: str) -> str:
    """What any SERVER naming `key` must contain, lower-cased: its host, or "docker.io"."""
    if key == DOCKER_HUB_KEY:
        return "docker.io"  # every Docker Hub alias contains it
    if key.startswith("["):
        return key[: key.index("]") + 1]
    return key.partition(":")[0]


def find(key: str) -> Secret | None:
    """The secret for a docker key: the first by prefix when two name the same registry.

    A triple that must not be answered (see `Secret.misplaced_access_key`) is said on stderr
    each time, since until it is fixed pulls go anonymous, and is passed over as if unset.
    """
    matches = []
    for secret in triples(key=key):
        misplaced = secret.misplaced_access_key()
        if misplaced is None:
            matches.append(secret)
        else:
            warn(misplaced)
    if len(matches) > 1:
        names = ", ".join(m.variable(SECRET_SERVER) for m in matches)
        both = "both" if len(matches) == 2 else "all"
        debug(f"{names} {both} name {key}; using {matches[0].variable(SECRET_SERVER)}")
    return matches[0] if matches else None
