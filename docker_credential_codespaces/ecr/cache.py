"""The ECR token cache: one small private file per key, shared by every docker process.

A token costs an AWS call that is throttled per account, so concurrent `get`s must share one.
The key hashes everything that makes a token valid: the AWS identity (the secret key
included), the partition, region, registry and endpoint. A rotated secret or another endpoint
therefore never gets an old token, and the secret key itself is never written. The file is
plain lines, so reading it imports nothing.
"""

from __future__ import annotations

import os

from .. import files
from ..constants import (
    DEFAULT_AWS_CONFIG_FILE,
    DEFAULT_AWS_CREDENTIALS_FILE,
    ECR_FAILURE_MEMORY,
    ENV_AWS_CONFIG_FILE,
    ENV_AWS_CREDENTIALS_FILE,
    ENV_AWS_STS_ENDPOINT,
)
from ..log import debug, warn
from ..wire import HelperError
from .token import LATEST_EXPIRATION, Token

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from . import AwsIdentity, EcrRegistry

# A cache file is a few KB; anything larger is not ours.
FILE_CAP = 256 * 1024
_MAGIC = "dcc-ecr-token-v1"
_OUTCOME_MAGIC = "dcc-ecr-outcome-v1"


def _sha256_hex(data: bytes) -> str:
    """SHA-256 from CPython's built-in module: hashlib loads OpenSSL, slower to import."""
    for name in ("_sha2", "_sha256"):  # CPython 3.12+, then 3.9-3.11
        try:
            digest: str = __import__(name).sha256(data).hexdigest()
        except ImportError:
            continue
        return digest
    import hashlib

    return hashlib.sha256(data).hexdigest()


def cache_key(identity: AwsIdentity, registry: EcrRegistry) -> str:
    """A file-name-safe digest of everything that makes a token valid, as doctor looks it up.

    Besides the identity and the registry, that is every endpoint the exchange may use: the
    variables, and the AWS config files, whose profiles can set an `endpoint_url` (and, for
    a profile identity, its credentials). The files count by their size and modification
    time: a changed file costs one exchange, never a token from another endpoint or account.
    """
    parts = (
        *identity.parts(),
        registry.partition,
        registry.region,
        registry.host,
        "fips" if registry.fips else "",
        registry.endpoint(),
        os.environ.get(ENV_AWS_STS_ENDPOINT, ""),
        _file_stamp(ENV_AWS_CONFIG_FILE, DEFAULT_AWS_CONFIG_FILE),
        _file_stamp(ENV_AWS_CREDENTIALS_FILE, DEFAULT_AWS_CREDENTIALS_FILE),
    )
    return _sha256_hex("\0".join(parts).encode("utf-8"))[:40]


def _file_stamp(variable: str, default: str) -> str:
    """Which version of an AWS shared file is in force: its path, size and modification time."""
    path = os.path.expanduser(os.environ.get(variable) or default)
    try:
        info = os.stat(path)
    except OSError:
        return f"{path}:absent"
    return f"{path}:{info.st_size}:{info.st_mtime_ns}"


def encode(token: Token) -> bytes:
    """A cache file's bytes for a fetched token."""
    return f"{_MAGIC}\n{token.expires_at!r}\n{token.fetched_at!r}\n{token.password}\n".encode()


def decode(data: bytes) -> Token | None:
    """The token in a cache file, or None for anything malformed (rebuilt, never fatal)."""
    try:
        magic, expires, fetched, password, tail = data.decode("utf-8").split("\n")
        expires_at, fetched_at = float(expires), float(fetched)
    except ValueError:
        return None
    token = Token(password, expires_at, fetched_at)
    if magic != _MAGIC or tail or not password or not token.plausible() or expires_at < fetched_at:
        return None
    return token


class Outcome:
    """How the last exchange for a key ended, and when: `failure` is its one line, or "" for
    a new token. The line names variables, never values, like every ECR message."""

    __slots__ = ("at", "failure")

    def __init__(self, at: float, failure: str) -> None:
        self.at = at
        self.failure = failure

    def remembered(self, now: float) -> str | None:
        """The failure's line while it is still remembered (ECR_FAILURE_MEMORY), else None."""
        if self.failure and 0 <= now - self.at < ECR_FAILURE_MEMORY:
            return self.failure
        return None


def encode_outcome(outcome: Outcome) -> bytes:
    line = outcome.failure.replace("\n", " ")  # one line, whatever a message held
    return f"{_OUTCOME_MAGIC}\n{outcome.at!r}\n{line}\n".encode()


def decode_outcome(data: bytes) -> Outcome | None:
    """The outcome in its file, or None for anything malformed (then nothing is remembered)."""
    try:
        magic, at, failure, tail = data.decode("utf-8").split("\n")
        moment = float(at)
    except ValueError:
        return None
    if magic != _OUTCOME_MAGIC or tail or not 0 < moment < LATEST_EXPIRATION:
        return None
    return Outcome(moment, failure)


class Cache:
    """What the helper asks of a token cache, keyed by `cache_key`: the token, the lock that
    makes one process fetch while the others wait, and the outcome of the last exchange.

    Two kinds: TokenCache, files under a directory, and NullCache, the cache turned off.
    A plain class, not a typing.Protocol, as wire.Helper: typing is not imported on the hot
    path.
    """

    def read(self, key: str) -> Token | None:
        """The cached token, or None when there is none to read (a broken file is none)."""
        raise NotImplementedError

    def lock(self, key: str, timeout: float) -> files.FileLock | NoLock:
        """The lock that makes one process fetch while the others wait and re-read.

        A wait past `timeout` raises files.LockTimeout; timeout 0 tries once.
        """
        raise NotImplementedError

    def outcome(self, key: str) -> Outcome | None:
        """How the last exchange for this key ended, if one is on record."""
        raise NotImplementedError

    def record(self, key: str, outcome: Outcome) -> None:
        """Put an exchange's outcome on record, for the gets that follow and for doctor."""
        raise NotImplementedError

    def write(self, key: str, token: Token) -> None:
        """Cache a fetched token; where that fails, it is only not cached."""
        raise NotImplementedError

    def forget(self, key: str) -> None:
        """Drop the token and the outcome on record: `erase` starts the key afresh."""
        raise NotImplementedError


class TokenCache(Cache):
    """Tokens in files under one private directory; every failure degrades to "not cached".

    Degrading is said under debug, except for a directory that a setting names and other
    users can write to: that is the user's to fix, and each `get` then costs an AWS call,
    so it is said on stderr, once a run.
    """

    def __init__(self, directory: files.PrivateDir) -> None:
        self.directory = directory
        self._said = False

    @staticmethod
    def name(key: str) -> str:
        return f"ecr-{key}.token"

    def _degrade(self, what: str, error: HelperError) -> None:
        if not isinstance(error, files.UnsafeDirectory):
            debug(f"{what}: {error}")
        elif not self._said:
            self._said = True
            warn(f"the ECR token cache is off: {error}")

    def read(self, key: str) -> Token | None:
        try:
            data = self.directory.read(self.name(key), FILE_CAP)
        except HelperError as error:
            self._degrade("token cache unreadable, ignoring it", error)
            return None
        return decode(data) if data is not None else None

    def lock(self, key: str, timeout: float) -> files.FileLock | NoLock:
        try:
            self.directory.ensure()
        except HelperError as error:
            self._degrade("token cache unavailable, fetching uncached", error)
            return NoLock()
        return self.directory.lock(self.name(key), required=False, timeout=timeout)

    def outcome(self, key: str) -> Outcome | None:
        try:
            data = self.directory.read(self.outcome_name(key), FILE_CAP)
        except HelperError as error:
            self._degrade("exchange outcome unreadable, ignoring it", error)
            return None
        return decode_outcome(data) if data is not None else None

    def record(self, key: str, outcome: Outcome) -> None:
        try:
            self.directory.write(self.outcome_name(key), encode_outcome(outcome))
        except HelperError as error:
            self._degrade("exchange outcome not recorded", error)

    @staticmethod
    def outcome_name(key: str) -> str:
        return f"ecr-{key}.outcome"

    def write(self, key: str, token: Token) -> None:
        try:
            self.directory.write(self.name(key), encode(token))
        except HelperError as error:
            self._degrade("token not cached", error)

    def forget(self, key: str) -> None:
        for name in (self.name(key), self.outcome_name(key)):
            path = self.directory.file(name)
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as error:
                debug(f"cannot drop cached token {path}: {error.strerror}")


class NoLock:
    """Stands in for a lock where the cache directory cannot be used: nothing to share."""

    held = False
    fd = -1

    def __enter__(self) -> NoLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


class NullCache(Cache):
    """The cache turned off: nothing is read or written, no lock is taken, no path touched.

    Its own class, not a TokenCache over no directory: a method it did not override would
    then act on the current directory.
    """

    def read(self, key: str) -> Token | None:
        return None

    def lock(self, key: str, timeout: float) -> NoLock:
        return NoLock()

    def write(self, key: str, token: Token) -> None:
        return None

    def outcome(self, key: str) -> Outcome | None:
        return None

    def record(self, key: str, outcome: Outcome) -> None:
        return None

    def forget(self, key: str) -> None:
        return None


def open_cache(repair: bool = True) -> Cache:
    """The cache in force: off when DOCKER_CREDENTIAL_CODESPACES_NO_CACHE is on or no home.
    `repair` False (doctor) reads it without mending loose modes (files.PrivateDir)."""
    from ..settings import cache_dir

    directory = cache_dir(repair)
    return TokenCache(directory) if directory is not None else NullCache()
