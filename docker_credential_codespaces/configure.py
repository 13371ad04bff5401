"""`configure` and `unconfigure`: wire config.json to this helper and back, losing no login.

docker reads `credsStore`; containers/image (skopeo, podman, buildah) ignores it and reads
only `credHelpers`, so each registry a secret names, and each stored login, gets an entry
there too. Once `credsStore` is set, docker stops reading the passwords inline in `auths`, so
those logins are first copied into the local store; a `credsStore` the user already had
becomes the fallback store instead, and keeps every login it holds. What `configure` changed
is recorded, so `unconfigure` undoes exactly that. The file is rewritten atomically, with a
backup, and only when it changes.
"""

from __future__ import annotations

import json
import os
import sys

from . import env_secrets, fallback, files, github_token, store
from .commands import Parser
from .constants import DOCKER_HUB_KEY, HELPER_NAME, IDENTITY_TOKEN_USERNAME, PROGRAM
from .errors import HelperError
from .paths import store_dir
from .resolve import logins
from .servers import docker_key, store_key

CONFIG_CAP = 16 * 1024 * 1024
BACKUP_SUFFIX = ".bak"
STATE_FILE = "configured.json"
# containers/image looks Docker Hub up in credHelpers as "docker.io", docker as its v1 URL.
_HUB_HELPER_KEYS = (DOCKER_HUB_KEY, "docker.io")
# Fields of an `auths` entry that hold a secret; never shown in a diff.
_SECRET_FIELDS = ("auth", "identitytoken", "registrytoken", "password")


def config_path() -> str:
    """config.json in DOCKER_CONFIG, or in ~/.docker as docker itself decides."""
    directory = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(directory, "config.json")


def load_config(path: str) -> dict:
    """The parsed config.json, {} when missing; anything unreadable is an error, not a reset."""
    data = files.read_regular(path, CONFIG_CAP)
    if data is None or not data.strip():
        return {}
    try:
        config = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        raise HelperError(f"{path} is not valid JSON; fix it, then run this again") from None
    if not isinstance(config, dict):
        raise HelperError(f"{path} does not hold a JSON object; fix it first")
    return config


def render(config: dict) -> str:
    """config.json's text as this helper writes it: tab-indented, as docker does."""
    return json.dumps(config, indent="\t") + "\n"


def inline_logins(config: dict) -> dict[str, dict[str, str]]:
    """The logins stored inline in `auths`, by store key, as the local store keeps them."""
    from binascii import Error, a2b_base64

    logins = {}
    auths = config.get("auths")
    for server, entry in (auths if isinstance(auths, dict) else {}).items():
        key = store_key(server) if isinstance(server, str) else None
        if key is None or not isinstance(entry, dict):
            continue
        token = entry.get("identitytoken")
        if isinstance(token, str) and token:
            logins[key] = {"Username": IDENTITY_TOKEN_USERNAME, "Secret": token}
            continue
        auth = entry.get("auth")
        if not isinstance(auth, str) or not auth:
            continue
        try:
            username, sep, secret = a2b_base64(auth.encode("ascii")).decode("utf-8").partition(":")
        except (Error, ValueError):
            continue
        if sep and username:
            logins[key] = {"Username": username, "Secret": secret}
    return logins


def helper_keys(registries: list[str]) -> list[str]:
    """credHelpers keys for docker keys, Docker Hub under both its names, Hub OAuth keys left out.

    containers/image has no credsStore and no wildcard, so every registry needs its own entry.
    """
    keys: list[str] = []
    for registry in registries:
        if docker_key(registry) != registry:
            continue
        for key in _HUB_HELPER_KEYS if registry == DOCKER_HUB_KEY else (registry,):
            if key not in keys:
                keys.append(key)
    return keys


class Change:
    """One run's plan: the new config, what else to write, and a line per change."""

    def __init__(self, path: str, old: dict) -> None:
        self.path = path
        self.old = old
        self.new = json.loads(json.dumps(old))
        self.notes: list[str] = []
        self.fallback: str | None = None  # a fallback store name to record
        self.drop_fallback = False
        self.logins: dict[str, dict[str, str]] = {}  # logins to copy into the local store
        self.record: dict | None = None  # the state record for this config.json

    def diff(self) -> str:
        """The change to config.json as a unified diff, with every secret masked."""
        import difflib

        old, new = render(_masked(self.old)), render(_masked(self.new))
        lines = difflib.unified_diff(
            old.splitlines(True), new.splitlines(True), self.path, self.path + " (new)"
        )
        return "".join(lines)


def _masked(config: dict) -> dict:
    masked = json.loads(json.dumps(config))
    auths = masked.get("auths")
    for entry in (auths if isinstance(auths, dict) else {}).values():
        if isinstance(entry, dict):
            for field in _SECRET_FIELDS:
                if field in entry:
                    entry[field] = "<hidden>"
    return masked


def _state_path() -> str:
    return os.path.join(store_dir(), STATE_FILE)


def load_state() -> dict:
    """What configure did, per config.json: the credsStore it replaced and the keys it added."""
    try:
        data = files.read_private(_state_path(), CONFIG_CAP)
        state = json.loads(data) if data else {}
    except (HelperError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _cred_helpers(config: dict) -> dict:
    helpers = config.get("credHelpers")
    if not isinstance(helpers, dict):
        helpers = config["credHelpers"] = {}
    return helpers


def plan_configure(path: str, config: dict, state: dict, registries_only: bool) -> Change:
    """Decide everything configure will do, without touching anything."""
    change = Change(path, config)
    record = dict(state.get(os.path.realpath(path)) or {})
    record.setdefault("credHelpers", [])
    record.setdefault("createdCredHelpers", not isinstance(config.get("credHelpers"), dict))
    covered = [secret.key for secret in env_secrets.triples()]
    registries = list(covered)
    if not registries_only:
        previous = config.get("credsStore") or None
        if previous != HELPER_NAME:
            record["credsStore"] = previous
            change.new["credsStore"] = HELPER_NAME
            change.notes.append(f"credsStore: {HELPER_NAME}")
        if isinstance(previous, str) and fallback.valid_name(previous):
            change.fallback = previous
            change.notes.append(f"docker-credential-{previous} keeps its logins, as fallback")
            source: store.Logins = fallback.FallbackStore(previous)
        else:
            if previous is None:
                change.logins = {
                    key: login
                    for key, login in inline_logins(config).items()
                    if docker_key(key) not in covered
                }
            source = logins()  # configured before: the fallback it recorded, or the store
        registries += sorted(set(source.list()) | set(change.logins))
        if github_token.applies():
            registries.append(github_token.GHCR)
    helpers = _cred_helpers(change.new)
    for key in helper_keys(registries):
        current = helpers.get(key)
        if current is None:
            helpers[key] = HELPER_NAME
            record["credHelpers"].append(key)
            change.notes.append(f"credHelpers: {key} -> {HELPER_NAME}")
        elif current != HELPER_NAME:
            change.notes.append(
                f"credHelpers sends {key} to docker-credential-{current}; left as it is"
            )
    if not helpers:
        del change.new["credHelpers"]
    change.record = record
    return change


def plan_unconfigure(path: str, config: dict, state: dict) -> Change:
    """Decide how to put config.json back: the old credsStore, without our credHelpers."""
    change = Change(path, config)
    record = state.get(os.path.realpath(path))
    if not isinstance(record, dict):  # never configured here: undo whatever names this helper
        helpers = config.get("credHelpers")
        ours = [
            k for k, v in (helpers if isinstance(helpers, dict) else {}).items() if v == HELPER_NAME
        ]
        record = {"credsStore": None, "credHelpers": ours, "createdCredHelpers": False}
    if change.new.get("credsStore") == HELPER_NAME:
        previous = record.get("credsStore")
        if previous:
            change.new["credsStore"] = previous
            change.notes.append(f"credsStore: {previous} again")
        else:
            del change.new["credsStore"]
            change.notes.append("credsStore removed")
            _restore_inline_logins(change)
    helpers = change.new.get("credHelpers")
    if isinstance(helpers, dict):
        for key in record.get("credHelpers", []):
            if helpers.get(key) == HELPER_NAME:
                del helpers[key]
                change.notes.append(f"credHelpers: {key} removed")
        if not helpers and record.get("createdCredHelpers"):
            del change.new["credHelpers"]
    change.drop_fallback = True
    return change


def _restore_inline_logins(change: Change) -> None:
    """Without a credsStore docker reads logins inline, so the local store's go back there."""
    import base64

    auths = change.new.get("auths")
    if not isinstance(auths, dict):
        auths = {}
    inline = inline_logins(change.new)
    for key, login in sorted(store.load(store.store_path()).items()):
        if docker_key(key) != key or inline.get(key) == login:
            continue
        if login["Username"] == IDENTITY_TOKEN_USERNAME:
            auths[key] = {"identitytoken": login["Secret"]}
        else:
            pair = f"{login['Username']}:{login['Secret']}".encode()
            auths[key] = {"auth": base64.b64encode(pair).decode("ascii")}
        change.notes.append(f"the login for {key} is kept inline in auths again")
    if auths:
        change.new["auths"] = auths


def apply(change: Change, state: dict) -> list[str]:
    """Write what the plan says: logins, fallback record, config.json, state. Returns lines."""
    done = [
        f"copied the login for {key} into the local store" for key in store.put_many(change.logins)
    ]
    directory = store_dir()
    real = os.path.realpath(change.path)
    if change.fallback or change.drop_fallback or state.get(real) != change.record:
        files.ensure_private_dir(directory)
        with files.FileLock(os.path.join(directory, STATE_FILE)):
            if change.fallback:
                files.atomic_write(fallback.record_path(), f"{change.fallback}\n".encode())
            elif change.drop_fallback:
                try:
                    os.unlink(fallback.record_path())
                except FileNotFoundError:
                    pass
            if change.record is not None:
                state[real] = change.record
            else:
                state.pop(real, None)
            files.atomic_write(_state_path(), json.dumps(state, indent=2).encode())
    if change.new != change.old:
        backup = write_config(change.path, change.new)
        wrote = f"wrote {change.path}" + (f" (backup in {backup})" if backup else "")
        done += [*change.notes, wrote]
    return done or [f"{change.path}: nothing to change"]


def write_config(path: str, new: dict) -> str | None:
    """Keep the old file as `config.json.bak`, then replace config.json atomically.

    Returns the backup's path, or None when there was no file to back up.
    """
    real = os.path.realpath(path)
    os.makedirs(os.path.dirname(real), mode=0o700, exist_ok=True)
    backup = None
    if os.path.exists(real):
        backup = real + BACKUP_SUFFIX
        files.atomic_write(backup, files.read_regular(real, CONFIG_CAP) or b"")
    files.atomic_write(real, render(new).encode("utf-8"))
    return backup


def main(argv: list[str], undo: bool = False) -> int:
    """`configure` or `unconfigure` for people and install.sh: lines on stdout, errors on stderr."""
    command = "unconfigure" if undo else "configure"
    parser = Parser(
        prog=f"{PROGRAM} {command}",
        description=(
            "Put $DOCKER_CONFIG/config.json (or ~/.docker/config.json) back as it was before "
            "configure."
            if undo
            else "Make this helper docker's credsStore and the credHelpers entry of every registry "
            "the secrets name or the store holds, in $DOCKER_CONFIG/config.json "
            "(or ~/.docker/config.json)."
        ),
    )
    if not undo:
        parser.add_argument(
            "--registries",
            action="store_true",
            help="only write credHelpers entries for the registries the secrets name",
        )
    parser.add_argument("--dry-run", action="store_true", help="print the change as a diff")
    args = parser.parse_args(argv)
    try:
        path = config_path()
        config = load_config(path)
        state = load_state()
        if undo:
            change = plan_unconfigure(path, config, state)
        else:
            change = plan_configure(path, config, state, args.registries)
        if args.dry_run:
            print(change.diff() or f"{path}: nothing to change\n", end="")
            for key in change.logins:
                print(f"would copy the login for {key} into the local store")
            return 0
        for line in apply(change, state):
            print(line)
    except HelperError as error:
        print(f"{PROGRAM}: {error}", file=sys.stderr)
        return 1
    return 0
