"""The local store: logins for registries that no secret covers, kept in one private JSON file.

`docker login` to such a registry must survive a restart, so it is written here; a secret
always wins over it. The file is `credentials.json` in the user data directory, and a corrupt
file is never overwritten: the user's logins in it would be lost.
"""

from __future__ import annotations

from . import files, settings
from .constants import LOCK_TIMEOUT, STORE_FILE
from .log import warn
from .servers import redacted, store_key
from .wire import Credential, Entry, HelperError, Source

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Entries = dict[str, dict[str, str]]

# Far above any plausible number of logins; stops a planted huge file from eating memory.
FILE_CAP = 16 * 1024 * 1024
FORMAT_VERSION = 1


class StoreCorrupt(HelperError):
    """The store file exists but cannot be understood; the message names the file."""


def load(repair: bool = True) -> dict[str, dict[str, str]]:
    """Every stored login, key to {"Username", "Secret"}; empty when there is no file."""
    directory = settings.store_dir(repair)
    entries: dict[str, dict[str, str]] = _read_document(directory).get("credentials", {})
    return entries


def _read_document(directory: files.PrivateDir) -> dict[str, Any]:
    """The whole store file, checked; {} when there is none.

    A file of another format version is refused like a corrupt one: read as this version and
    rewritten, it could lose what a newer helper keeps in it. Keys it does not know are kept
    by `_update`, for the same reason.
    """
    path = directory.file(STORE_FILE)
    data = directory.read(STORE_FILE, FILE_CAP)
    if data is None:
        return {}
    try:
        document = files.json_value(data, f"the store {path}", "fix or move it")
    except HelperError as error:
        raise StoreCorrupt(str(error)) from None
    if not isinstance(document, dict):
        raise StoreCorrupt(f"the store {path} has an unexpected layout; fix or move it")
    version = document.get("version", FORMAT_VERSION)
    if isinstance(version, bool) or version != FORMAT_VERSION:
        import json

        shown_version = json.dumps(version)[:20]
        raise StoreCorrupt(
            f"the store {path} has format version {shown_version}, which this helper does not "
            "read; upgrade docker-credential-codespaces, or move the file"
        )
    entries = document.get("credentials")
    if not isinstance(entries, dict) or not all(_valid_entry(e) for e in entries.values()):
        raise StoreCorrupt(f"the store {path} has an unexpected layout; fix or move it")
    return document


def _valid_entry(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("Username"), str)
        and isinstance(entry.get("Secret"), str)
    )


def invalid_server_url(server_url: str) -> HelperError:
    """The error for a server URL that names no registry, shortened for one line."""
    return HelperError(
        f"invalid server URL {redacted(server_url)}: expected [https://]host[:port][/path]"
    )


class LocalStore(Source):
    """The logins source when no fallback store is configured: this module's own file, whose
    lock a change waits for `lock_timeout` seconds at most (LOCK_TIMEOUT, shorter in tests)."""

    description = "local store"

    def __init__(self, repair: bool = True, lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.repair = repair  # False for doctor, which never changes the disk
        self.lock_timeout = lock_timeout

    def get(self, server_url: str) -> Credential | None:
        """The stored login, or None; an unreadable store is warned about, as in `list`."""
        key = store_key(server_url)
        if key is None:
            return None
        try:
            login = load(self.repair).get(key)
        except HelperError as error:
            warn(str(error))
            return None
        return Credential(login["Username"], login["Secret"]) if login is not None else None

    def add(self, server_url: str, username: str, secret: str) -> None:
        key = store_key(server_url)
        if key is None:
            raise invalid_server_url(server_url)
        put(key, username, secret, self.lock_timeout)

    def delete(self, server_url: str) -> None:
        key = store_key(server_url)
        if key is None:
            raise invalid_server_url(server_url)
        remove(key, self.lock_timeout)

    def entries(self) -> list[Entry]:
        logins = load(self.repair)
        return [
            Entry(key, logins[key]["Username"], self, self.description) for key in sorted(logins)
        ]


def put(key: str, username: str, secret: str, lock_timeout: float) -> None:
    """Store a login, replacing any under the same key."""

    def change(entries: dict[str, dict[str, str]]) -> bool:
        entries[key] = {"Username": username, "Secret": secret}
        return True

    _update(change, lock_timeout)


def remove(key: str, lock_timeout: float) -> None:
    """Forget the login under `key`; nothing to forget is success, as docker logout expects."""
    _update(lambda entries: entries.pop(key, None) is not None, lock_timeout)


def put_many(logins: dict[str, dict[str, str]]) -> list[str]:
    """Store logins that are not stored yet (used by `configure`); returns the keys added."""
    added: list[str] = []

    def change(entries: dict[str, dict[str, str]]) -> bool:
        for key, login in logins.items():
            if key not in entries:
                entries[key] = login
                added.append(key)
        return bool(added)

    _update(change)
    return added


def _update(change: Callable[[Entries], bool], lock_timeout: float = LOCK_TIMEOUT) -> None:
    """Read, change and rewrite the store under its lock, waited for `lock_timeout` seconds at
    most, so concurrent logins lose nothing.

    `change` mutates the entries and says whether anything changed; nothing is written if not.
    """
    directory = settings.store_dir()
    directory.ensure()
    with directory.lock(STORE_FILE, timeout=lock_timeout):
        document = _read_document(directory) or {"credentials": {}}
        if not change(document["credentials"]):
            return
        import json

        document["version"] = FORMAT_VERSION
        text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        directory.write(STORE_FILE, text.encode("utf-8"), FILE_CAP)
