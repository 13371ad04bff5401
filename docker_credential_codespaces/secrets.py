"""The secrets: `<X>_CONTAINER_REGISTRY_SERVER`, `_USER` and `_PASSWORD` triples.

They are read at every request, from the process environment laid over the Codespaces
secrets file, so rotated secrets apply at once and shells without the variables (ssh, tmux,
cron) see them too. `scan` is the one function that decides which triple answers which
registry, and why every other triple does not; the `Secrets` source, first in the chain, is
how every command reads its result.
"""

from __future__ import annotations

import os
import stat  # loaded by os already
import sys

# The bytes dict that os.environ is a view of (writes to os.environ land in it too). A `get`
# scans it instead of os.environ, which decodes every name in Python code as it iterates:
# most of the helper's own cost with a thousand triples.
from posix import environ

from . import ecr
from .constants import (
    DEFAULT_SECRETS_FILE,
    ECR_TOKEN_USERNAME,
    ENV_SECRETS_FILE,
    SECRET_AWS_COMPANIONS,
    SECRET_AWS_PROFILE,
    SECRET_MARK,
    SECRET_PASSWORD,
    SECRET_SERVER,
    SECRET_USER,
)
from .log import debug, warn
from .servers import docker_key, host_part
from .wire import Credential, Declined, Entry, Source

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from collections.abc import Callable

    from .ecr import AwsIdentity, EcrRegistry
    from .ecr.answer import RegistryToken

# The secrets file holds every secret of the codespace; a few MiB is far beyond a real one.
SECRETS_FILE_CAP = 4 * 1024 * 1024
# How it is opened (as files.read_regular opens files): read only; without blocking, so a
# FIFO in its place never hangs docker; never made the controlling terminal, should a
# terminal be put in its place; and never inherited by a program started meanwhile.
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
# Names the secrets file is read for: the triple's, and its AWS companions'.
_SUFFIXES = (SECRET_SERVER, SECRET_USER, SECRET_PASSWORD, *SECRET_AWS_COMPANIONS)
_ENCODING = sys.getfilesystemencoding()
_BASE64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

# Why a triple does not answer, as `PassedOver.reason`.
INCOMPLETE = "incomplete"
NO_HOST = "no host"
MISPLACED_KEY = "access key for a host that is not ECR"
SHADOWED = "shadowed"
CONFLICT = "both a profile and a key"
# Why a line of the secrets file does not decode, for doctor.
UNDECODABLE = "not base64 of UTF-8 text"
PADDING_CUT = "base64 with its trailing '=' padding cut off"


class Triple:
    """One complete triple, the docker key its SERVER names, and what its credentials are.

    `registry` is the ECR registry of the key, if it is one, and `aws` the AWS credential the
    triple holds for it (the ecr package decides). Its repr hides the values.
    """

    __slots__ = ("aws", "key", "password", "prefix", "registry", "server", "user")

    def __init__(
        self,
        prefix: str,
        server: str,
        user: str,
        password: str,
        key: str,
        registry: EcrRegistry | None,
        companion: Callable[[str], str],
    ) -> None:
        self.prefix, self.server, self.key, self.registry = prefix, server, key, registry
        self.user, self.password = user, password
        self.aws: AwsIdentity | None = ecr.identity(prefix, user, password, registry, companion)

    def __repr__(self) -> str:
        return f"Triple(prefix={self.prefix!r}, key={self.key!r})"

    def variable(self, suffix: str) -> str:
        """The full name of one of this triple's variables, for messages."""
        return self.prefix + suffix

    def username(self) -> str:
        """The user name docker is given: `AWS` for every ECR registry, else USER as written."""
        return ECR_TOKEN_USERNAME if self.aws is not None else self.user


class PassedOver:
    """A triple that answers no registry: its prefix, why (`reason`), the line to show, and
    the docker key its SERVER names (None when it names none, or is not set)."""

    __slots__ = ("key", "message", "prefix", "reason")

    def __init__(self, prefix: str, reason: str, message: str, key: str | None = None) -> None:
        self.prefix = prefix
        self.reason = reason
        self.message = message
        self.key = key

    def __repr__(self) -> str:
        return f"PassedOver(prefix={self.prefix!r}, reason={self.reason!r})"


class Scan:
    """What the secrets say: the triple that answers each docker key, and the rest with why."""

    __slots__ = ("answers", "passed_over")

    def __init__(self) -> None:
        self.answers: dict[str, Triple] = {}
        self.passed_over: list[PassedOver] = []


def scan(key: str | None = None) -> Scan:
    """Read the secrets once and decide, for each docker key, which triple answers it.

    A triple answers when its three parts are set and not empty, its SERVER names a registry
    host, and it holds no AWS access key for a host that is not ECR; of two that name one
    registry, the first by prefix answers. With `key`, only the triples whose SERVER could
    name that key are looked at (one that does not even contain the key's host is never
    decoded or parsed), so a `get` costs little even with a thousand secrets.
    """
    servers, value, orphans = _read(host_part(key) if key is not None else "", key is None)
    result = Scan()
    for prefix in sorted({name[: -len(SECRET_SERVER)] for name in servers} | orphans):
        if not prefix:
            continue
        judged = _judge(prefix, servers.get(prefix + SECRET_SERVER), value)
        if isinstance(judged, PassedOver):
            # Asked for one key, a triple for another (its SERVER only contains the key's
            # host) is none of this request's business.
            if key is None or judged.key in (key, None):
                result.passed_over.append(judged)
        elif key is not None and judged.key != key:
            continue
        elif judged.key in result.answers:
            first = result.answers[judged.key].variable(SECRET_SERVER)
            this = judged.variable(SECRET_SERVER)
            message = f"{first} and {this} both name {judged.key}; {first} is used"
            result.passed_over.append(PassedOver(prefix, SHADOWED, message, judged.key))
        else:
            result.answers[judged.key] = judged
    return result


def _judge(
    prefix: str, server: str | None, value: Callable[[str], str | None]
) -> Triple | PassedOver:
    """One prefix's triple: the Triple it makes, or why it makes none.

    An ECR SERVER with the companion AWS_PROFILE and no USER or PASSWORD is complete too:
    the named profile is its identity.
    """
    user, password = value(prefix + SECRET_USER), value(prefix + SECRET_PASSWORD)
    key = docker_key(server) if server else None
    registry = ecr.registry(key) if key is not None else None

    def companion(suffix: str) -> str:
        return value(prefix + suffix) or ""

    if registry is not None and ecr.aws_value(companion(SECRET_AWS_PROFILE)):
        assert server is not None and key is not None  # a registry comes from a SERVER
        if user or password:
            message = (
                f"{prefix + SECRET_AWS_PROFILE} and {prefix + SECRET_USER}/"
                f"{prefix + SECRET_PASSWORD} are both set; keep the profile or the key, not both"
            )
            return PassedOver(prefix, CONFLICT, message, key)
        return Triple(prefix, server, "", "", key, registry, companion)
    if registry is not None:
        # ecr.identity reads an ECR triple's key trimmed: white space alone is empty there too,
        # and said so here, never taken for a profile no variable names
        user, password = (
            None if part is None else ecr.aws_value(part) for part in (user, password)
        )
    if not (server and user and password):
        parts = ((SECRET_SERVER, server), (SECRET_USER, user), (SECRET_PASSWORD, password))
        missing = [
            f"{prefix + suffix} {'is not set' if part is None else 'is empty'}"
            for suffix, part in parts
            if not part
        ]
        message = f"{' and '.join(missing)}, so the {prefix} triple is not used"
        return PassedOver(prefix, INCOMPLETE, message, key)
    if key is None:
        message = f"{prefix + SECRET_SERVER} does not name a registry host"
        return PassedOver(prefix, NO_HOST, message)
    if ecr.misplaced_key(user, registry):
        from .ecr import messages

        return PassedOver(prefix, MISPLACED_KEY, messages.misplaced_key(prefix, key), key)
    return Triple(prefix, server, user, password, key, registry, companion)


def _read(
    needle: str, every_prefix: bool
) -> tuple[dict[str, str], Callable[[str], str | None], set[str]]:
    """The registry variables a scan needs, the environment laid over the secrets file.

    Returns the SERVER variables whose value contains `needle` (lower-cased), a look-up for
    any other variable (None when it is not set), and, with `every_prefix`, the prefixes
    that have a USER or PASSWORD but no SERVER at all.
    """
    file_values = read_file(secrets_file_path())
    servers = {
        n: v for n, v in file_values.items() if n.endswith(SECRET_SERVER) and needle in v.lower()
    }
    # The environment's SERVER variables, scanned as bytes (see `environ` above) with a
    # slice comparison, cheaper than bytes.endswith, which parses its arguments on every
    # call. A value that is not ASCII stays a candidate, since bytes.lower() folds ASCII
    # letters only; every candidate is checked again as text by _judge.
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
    servers = {n: v for n, v in servers.items() if needle in v.lower()}

    def value(name: str) -> str | None:
        present = environ.get(_encode(name))
        return file_values.get(name) if present is None else _decode(present)

    orphans: set[str] = set()
    if every_prefix:  # the same slices, for USER and PASSWORD: which have no SERVER at all
        unmatched: set[bytes] = set()
        for part in (SECRET_USER, SECRET_PASSWORD):
            cut, encoded = -len(part), _encode(part)
            unmatched.update(n[:cut] for n in environ if n[cut:] == encoded)
            orphans.update(n[:cut] for n in file_values if n.endswith(part))
        unmatched.difference_update(n[:tail] for n in in_environment)
        orphans.update(_decode(n) for n in unmatched)
        orphans.difference_update(n[:tail] for n in servers)  # with every_prefix, every SERVER
    return servers, value, orphans


def _encode(text: str) -> bytes:
    """Text as the environment holds it: os.environ's own encoding."""
    return text.encode(_ENCODING, "surrogateescape")


def _decode(data: bytes) -> str:
    """Environment bytes as text, exactly as os.environ would give them."""
    return data.decode(_ENCODING, "surrogateescape")


def secrets_file_path() -> str:
    """The Codespaces secrets file, or the one DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE names."""
    return os.environ.get(ENV_SECRETS_FILE) or DEFAULT_SECRETS_FILE


def _is_secret_name(name: str) -> bool:
    return SECRET_MARK in name and name.endswith(_SUFFIXES)


def read_file(
    path: str,
    wanted: Callable[[str], bool] = _is_secret_name,
    damaged: list[tuple[str, str]] | None = None,
) -> dict[str, str]:
    """The variables in a secrets file of `NAME=<base64 of value>` lines whose names are
    `wanted`: by default the registry variables.

    Lines that are not of that form are skipped: a half-written or foreign file must not stop
    the secrets in the environment from working. Neither may a file that cannot be read, or a
    FIFO in its place, which would otherwise hang every docker command. A value is split off
    at the first `=` only, so base64 padding at its end is kept. Each registry variable whose
    value does not decode is added to `damaged` with why (UNDECODABLE or PADDING_CUT), for
    doctor to name; never with its value.
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
    found = {}
    for line in data.splitlines():
        name, sep, value = line.partition(b"=")
        try:
            text = name.strip().decode("ascii")
        except UnicodeDecodeError:
            continue
        if not sep or not wanted(text):
            continue
        decoded = strict_base64(value.strip())
        try:
            if decoded is not None:
                found[text] = decoded.decode("utf-8")
                continue
        except UnicodeDecodeError:
            pass
        debug(f"{text} in the secrets file is not base64 of UTF-8 text; ignoring it")
        if damaged is not None:
            damaged.append((text, _why_undecodable(value.strip())))
    return found


def _why_undecodable(value: bytes) -> str:
    """PADDING_CUT when the value decodes once its `=` padding is put back, else UNDECODABLE.

    Shell loaders that split a line on every `=` (`IFS== read`) write values back so.
    """
    padded = value + b"=" * (-len(value) % 4)
    if padded != value and strict_base64(padded) is not None:
        return PADDING_CUT
    return UNDECODABLE


def strict_base64(value: bytes) -> bytes | None:
    """Standard base64 with its padding, or None: nothing skipped, as Python 3.11's strict_mode
    and Go's StdEncoding (docker's decoder of config.json's `auth`) decode it.

    Python 3.9 and 3.10 have no strict_mode, and their decoder silently drops bytes outside
    the alphabet, which would turn a damaged line into a wrong secret.
    """
    body = value.rstrip(b"=")
    if len(value) % 4 or len(value) - len(body) > 2 or not _BASE64.issuperset(body):
        return None
    from binascii import Error, a2b_base64

    try:
        return a2b_base64(value)
    except Error:
        return None


def _read_regular(path: str) -> bytes:
    """Up to one byte past the cap of a file, or OSError if it cannot be read or is no file.

    As files.read_regular, but a `get` reads this file in every codespace, and that module
    costs more to import than the whole read: only `os` and `stat` (loaded by `os`) are used.
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("not a regular file")
    except OSError:
        os.close(fd)
        raise
    with open(fd, "rb") as stream:
        return stream.read(SECRETS_FILE_CAP + 1)


class TripleEntry(Entry):
    """A registry a secret answers, with the triple, for doctor's hints about it."""

    __slots__ = ("triple",)

    def __init__(self, triple: Triple, source: Source) -> None:
        super().__init__(
            triple.key,
            triple.username(),
            source,
            f"secret {triple.prefix}",
            triple.variable(SECRET_PASSWORD),
        )
        self.triple = triple


class Secrets(Source):
    """The secrets as a source: they answer first, and `docker login` never overrides them.

    With `young`, an ECR token past its refresh point is replaced before it is answered: a
    document (`export`) cannot refresh what it holds.
    """

    description = "secrets"

    def __init__(self, young: bool = False, repair: bool = True) -> None:
        self.young = young
        self.repair = repair  # False for doctor: the token cache is read, never mended
        self._everything: Scan | None = None

    def survey(self) -> Scan:
        """The whole scan, read once for this source's life (a command's run): what doctor
        lists as passed over is the scan that made the entries."""
        if self._everything is None:
            self._everything = scan()
        return self._everything

    @staticmethod
    def _covering(server_url: str) -> Triple | None:
        """The triple that answers the registry a request names; what is passed over is said.

        A misplaced access key is said on stderr each time, since until it is fixed pulls go
        anonymous; everything else only under debug.
        """
        key = docker_key(server_url)
        if key is None:
            return None
        found = scan(key)
        for skipped in found.passed_over:
            (warn if skipped.reason == MISPLACED_KEY else debug)(skipped.message)
        return found.answers.get(key)

    def get(self, server_url: str) -> Credential | None:
        triple = self._covering(server_url)
        if triple is None:
            return None
        token = registry_token(triple, self.repair)
        if token is None:
            return Credential(triple.user, triple.password)
        return token.answer(young=self.young)

    def add(self, server_url: str, username: str, secret: str) -> None:
        """A registry a secret covers stores nothing: the secret stays the truth, and rotates."""
        triple = self._covering(server_url)
        if triple is None:
            raise Declined
        warn(
            f"{triple.key} is covered by the secret {triple.variable(SECRET_SERVER)}; "
            "its credentials are used and nothing was stored"
        )

    def delete(self, server_url: str) -> None:
        """`docker logout` from a secret-covered ECR registry drops its cached token; the
        secret itself is the user's to remove, so there is nothing else here to forget.
        (Forgetting removes the token's files by name: the cache directory is neither read
        nor mended, so `repair` has nothing to say here.)"""
        triple = self._covering(server_url)
        token = registry_token(triple) if triple is not None else None
        if token is None:
            raise Declined
        token.forget()

    def entries(self) -> list[Entry]:
        return [TripleEntry(triple, self) for triple in self.survey().answers.values()]


def registry_token(triple: Triple, repair: bool = True) -> RegistryToken | None:
    """The ECR token object of a triple that holds an AWS credential, or None for a triple
    answered as written. `repair` False (doctor) reads the token cache without mending it."""
    if triple.registry is None or triple.aws is None:
        return None
    from .ecr.answer import RegistryToken
    from .ecr.cache import open_cache

    return RegistryToken(triple.registry, triple.aws, cache=open_cache(repair))
