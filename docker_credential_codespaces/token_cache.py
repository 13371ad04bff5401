"""The ECR token cache: one small private file per key, shared by every docker process.

A token costs an AWS call that is throttled per account, so concurrent `get`s must share one.
The key hashes the access key id, the secret key, the partition, region, registry and
endpoint, so a rotated secret or another endpoint never gets an old token, and the secret key
itself is never written. The file format is plain lines, so reading it imports nothing.
"""

from __future__ import annotations

import os

from . import files
from .errors import HelperError
from .log import debug

# A cache file is a few KB; anything larger is not ours.
FILE_CAP = 256 * 1024
_MAGIC = "dcc-ecr-token-v1"


def _sha256_hex(data: bytes) -> str:
    """SHA-256 from CPython's built-in module: hashlib loads OpenSSL, ~8 ms per process."""
    try:
        from _sha2 import sha256  # CPython 3.12+
    except ImportError:
        try:
            from _sha256 import sha256  # CPython 3.9-3.11
        except ImportError:
            from hashlib import sha256
    return sha256(data).hexdigest()


def cache_key(*parts: str) -> str:
    """A file-name-safe digest of everything that makes a token valid."""
    return _sha256_hex("\0".join(parts).encode("utf-8"))[:40]


class Token:
    """A registry password with the times that decide whether to serve or refresh it."""

    __slots__ = ("expires_at", "fetched_at", "password")

    def __init__(self, password: str, expires_at: float, fetched_at: float) -> None:
        self.password = password
        self.expires_at = expires_at
        self.fetched_at = fetched_at

    def __repr__(self) -> str:
        return f"Token(expires_at={self.expires_at}, fetched_at={self.fetched_at})"

    def serialise(self) -> bytes:
        return f"{_MAGIC}\n{self.expires_at!r}\n{self.fetched_at!r}\n{self.password}\n".encode()

    @classmethod
    def parse(cls, data: bytes) -> Token | None:
        """The token in a cache file, or None for anything malformed (rebuilt, never fatal)."""
        try:
            magic, expires, fetched, password, tail = data.decode("utf-8").split("\n")
            token = cls(password, float(expires), float(fetched))
        except ValueError:
            return None
        if magic != _MAGIC or tail or not password or token.fetched_at > token.expires_at:
            return None
        return token


class TokenCache:
    """Tokens in files under one 0700 directory; every failure degrades to "not cached"."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def path(self, key: str) -> str:
        return os.path.join(self.directory, f"ecr-{key}.token")

    def read(self, key: str) -> Token | None:
        try:
            data = files.read_private(self.path(key), FILE_CAP)
        except HelperError as error:
            debug(f"token cache unreadable, ignoring it: {error}")
            return None
        return Token.parse(data) if data is not None else None

    def lock(self, key: str) -> files.FileLock | NoLock:
        """The lock that makes one process fetch while the others wait and re-read."""
        try:
            files.ensure_private_dir(self.directory)
        except HelperError as error:
            debug(f"token cache unavailable, fetching uncached: {error}")
            return NoLock()
        return files.FileLock(self.path(key), required=False)

    def write(self, key: str, token: Token) -> None:
        path = self.path(key)
        try:
            files.ensure_private_dir(self.directory)
            files.remove_stale_temps(path)
            files.atomic_write(path, token.serialise())
        except HelperError as error:
            debug(f"token not cached: {error}")

    def forget(self, key: str) -> None:
        try:
            os.unlink(self.path(key))
        except FileNotFoundError:
            pass
        except OSError as error:
            debug(f"cannot drop cached token {self.path(key)}: {error.strerror}")


class NoLock:
    """Stands in for a lock where the cache directory cannot be used: nothing to share."""

    def __enter__(self) -> NoLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


class NullCache(TokenCache):
    """The cache turned off: nothing is read or written, and no lock is taken."""

    def __init__(self) -> None:
        super().__init__("")

    def read(self, key: str) -> Token | None:
        return None

    def lock(self, key: str) -> NoLock:
        return NoLock()

    def write(self, key: str, token: Token) -> None:
        return None

    def forget(self, key: str) -> None:
        return None


def open_cache() -> TokenCache:
    """The cache in force: off when DOCKER_CREDENTIAL_CODESPACES_NO_CACHE is set or no home."""
    from .paths import cache_dir

    directory = cache_dir()
    return TokenCache(directory) if directory else NullCache()
