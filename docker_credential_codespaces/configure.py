"""`configure` and `unconfigure`: wire config.json to this helper and back, losing no login.

docker reads `credsStore`; containers/image (skopeo, podman, buildah) ignores it and reads
only `credHelpers`, so each registry a secret names, and each stored login, gets an entry
there too. Once `credsStore` is set, docker stops reading the logins inline in `auths`, so on
every run those are first copied into the logins store (the local store, or the fallback
store: a `credsStore` the user already had, which keeps every login it holds). What
`configure` changed is recorded, so `unconfigure` undoes exactly that. The file is rewritten
atomically, with a backup, and only when it changes or is missing.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from . import dockerconfig, fallback, store
from .chain import FALLBACK_RECORD_CAP, chain, logins, secrets
from .commands import Parser
from .constants import FALLBACK_FILE, HELPER_NAME, HELPER_PROGRAM_PREFIX, PROGRAM, STATE_FILE
from .dockerconfig import Config
from .log import warn
from .secrets import TripleEntry
from .servers import docker_key, store_key
from .settings import store_dir
from .wire import Entry, HelperError, Source


class Change:
    """One run's plan: the new config, what else to write, and a line per change. Planning
    touches nothing; `apply` carries it out and says how it went in a Result."""

    def __init__(self, path: str, old: Config) -> None:
        self.path = path
        self.old = old
        self.new = json.loads(json.dumps(old))
        self.notes: list[str] = []
        self.fallback: str | None = None  # a fallback store name to record
        self.drop_fallback = False
        self.logins: dict[str, dict[str, str]] = {}  # inline logins to copy into `target`
        self.uncarried: dict[str, str] = {}  # inline logins no store can be given, and why
        self.target: Source | None = None
        # Whether a failed copy must stop the run: it would set the credsStore that makes
        # docker stop reading those logins inline.
        self.carry_required = False
        self.unreadable: HelperError | None = None  # why the logins store could not be read
        self.create = not os.path.exists(path)  # configure writes a missing config.json
        self.record: dict[str, Any] | None = None  # the state record for this config.json

    def diff(self) -> str:
        """The change to config.json as a unified diff, with every secret masked."""
        import difflib

        old = dockerconfig.render(dockerconfig.masked(self.old))
        new = dockerconfig.render(dockerconfig.masked(self.new))
        lines = difflib.unified_diff(
            old.splitlines(True), new.splitlines(True), self.path, self.path + " (new)"
        )
        return "".join(lines)


class Result:
    """How applying a plan went: a line per thing done, and a line per login that could not
    be copied (then the run exits 1, though the rest was done)."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.failures: list[str] = []


def load_state() -> dict[str, Any]:
    """What configure did, per config.json: the credsStore it replaced and the keys it added."""
    try:
        data = store_dir().read(STATE_FILE, dockerconfig.CONFIG_CAP)
        state = json.loads(data) if data else {}
    except (HelperError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _cred_helpers(config: Config) -> dict[str, str]:
    helpers = config.get("credHelpers")
    if not isinstance(helpers, dict):
        helpers = config["credHelpers"] = {}
    return helpers


def plan_configure(
    path: str, config: Config, state: dict[str, Any], registries_only: bool
) -> Change:
    """Decide everything configure will do, without touching anything.

    What the helper knows comes from the chain, as `get` and `list` see it, but with the
    logins in the store they will live in once this run is applied: the credsStore the user
    had becomes the fallback store.
    """
    change = Change(path, config)
    record = dict(state.get(os.path.realpath(path)) or {})
    record.setdefault("credHelpers", [])
    record.setdefault("createdCredHelpers", not isinstance(config.get("credHelpers"), dict))
    previous = config.get("credsStore") or None
    store: Source | None = None
    if not registries_only:
        if previous != HELPER_NAME:
            record["credsStore"] = previous
            change.new["credsStore"] = HELPER_NAME
            change.notes.append(f"credsStore: {HELPER_NAME}")
        if isinstance(previous, str) and fallback.valid_name(previous):
            change.fallback = previous
            change.notes.append(f"{HELPER_PROGRAM_PREFIX}{previous} keeps its logins, as fallback")
        store = logins(previous if isinstance(previous, str) else None)
    elif previous == HELPER_NAME:
        store = logins()
    if store is None:
        entries: list[Entry] = secrets().entries()
    else:
        # Only the store of logins can fail to say what it holds: then copying into it would
        # fail too, which _carry says.
        entries, failures = chain(logins_store=store).survey()
        change.unreadable = failures[0] if failures else None
    covered = [entry.key for entry in entries if isinstance(entry, TripleEntry)]
    registries = list(covered)
    if store is not None:
        held = {entry.key for entry in entries if entry.source is store}
        _plan_carry(change, store, held, covered)
        change.carry_required = previous is None
        if not registries_only:
            registries = [entry.key for entry in entries] + sorted(change.logins)
    helpers = _cred_helpers(change.new)
    for key in dockerconfig.helper_keys(registries):
        current = dockerconfig.credential_helper(change.new, key, store=False)
        if current is None:
            helpers[key] = HELPER_NAME
            record["credHelpers"].append(key)
            change.notes.append(f"credHelpers: {key} -> {HELPER_NAME}")
        elif current != HELPER_NAME:
            change.notes.append(
                f"credHelpers sends {key} to {HELPER_PROGRAM_PREFIX}{current}; left as it is"
            )
    if not helpers:
        del change.new["credHelpers"]
    change.record = record
    return change


def _plan_carry(change: Change, source: Source, held: set[str], covered: list[str]) -> None:
    """Plan to copy into `source` every inline login docker stops reading under our credsStore.

    That is every run, not only the one that sets credsStore: Codespaces writes its
    registries into config.json after the codespace is created, next to a credsStore that
    names this helper already. Logins for registries a secret covers stay out (the secret
    answers), and so do those the store already holds: a login made through the helper since
    is newer than the one left inline.
    """
    held_keys = {store_key(key) for key in held}
    change.target = source
    logins, uncarried = dockerconfig.inline_logins(change.old)
    change.logins = {
        key: login
        for key, login in logins.items()
        if docker_key(key) not in covered and key not in held_keys
    }
    change.uncarried = {
        key: why
        for key, why in uncarried.items()
        if docker_key(key) not in covered and key not in held_keys
    }


def plan_unconfigure(path: str, config: Config, state: dict[str, Any]) -> Change:
    """Decide how to put config.json back: the old credsStore, without our credHelpers."""
    change = Change(path, config)
    change.create = False  # nothing to put back in a file that is not there
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
    auths = change.new.get("auths")
    if not isinstance(auths, dict):
        auths = {}
    inline, _ = dockerconfig.inline_logins(change.new)
    for key, login in sorted(store.load().items()):
        if store_key(key) != key or inline.get(key) == login:
            continue
        auths[key] = dockerconfig.inline_entry(login)
        change.notes.append(f"the login for {key} is kept inline in auths again")
    if auths:
        change.new["auths"] = auths


def _carry(change: Change, result: Result) -> None:
    """Copy the planned inline logins into their store, a line in `result` for each one.

    A copy that fails stops the run, before config.json changes, when this run would make
    docker stop reading the login inline; otherwise docker stopped long ago, and the failure
    is one line in `result.failures` while the rest of the run goes on. Either way the login
    stays inline in config.json.
    """
    target = change.target
    if target is None:
        return
    where = f"the {target.description}"
    for key, why in change.uncarried.items():  # a copy that cannot be, as one that failed
        _carry_failed(change, result, key, where, HelperError(why))
    if not change.logins:
        if change.unreadable is not None:
            warn(str(change.unreadable))  # as `list` says it; nothing depends on it here
        return
    if change.unreadable is not None:
        _carry_failed(change, result, ", ".join(change.logins), where, change.unreadable)
        return
    if isinstance(target, store.LocalStore):
        try:
            added = store.put_many(change.logins)
        except HelperError as error:
            _carry_failed(change, result, ", ".join(change.logins), where, error)
            return
        result.done += [f"copied the login for {key} into {where}" for key in added]
        return
    for key, login in change.logins.items():
        try:
            target.add(key, login["Username"], login["Secret"])
        except HelperError as error:
            _carry_failed(change, result, key, where, error)
        else:
            result.done.append(f"copied the login for {key} into {where}")


def _carry_failed(
    change: Change, result: Result, keys: str, where: str, error: HelperError
) -> None:
    """Stop the run on a copy that must not fail, else put the failure on record."""
    line = f"cannot copy the login for {keys} into {where}: {error}"
    if change.carry_required:
        raise HelperError(f"{line}; {change.path} is left as it is") from None
    result.failures.append(f"{line}; it stays inline in {change.path}, which docker ignores")


def apply(change: Change, state: dict[str, Any]) -> Result:
    """Write what the plan says: logins, fallback record, config.json, state."""
    result = Result()
    _carry(change, result)
    directory = store_dir()
    real = os.path.realpath(change.path)
    if change.fallback or change.drop_fallback or state.get(real) != change.record:
        directory.ensure()
        with directory.lock(STATE_FILE):
            if change.fallback:
                record = f"{change.fallback}\n".encode()
                directory.write(FALLBACK_FILE, record, FALLBACK_RECORD_CAP)
            elif change.drop_fallback:
                try:
                    os.unlink(directory.file(FALLBACK_FILE))
                except FileNotFoundError:
                    pass
            if change.record is not None:
                state[real] = change.record
            else:
                state.pop(real, None)
            text = json.dumps(state, indent=2)
            directory.write(STATE_FILE, text.encode(), dockerconfig.CONFIG_CAP)
    if change.new != change.old or change.create:
        backup = dockerconfig.write(change.path, change.new)
        wrote = f"wrote {change.path}" + (f" (backup in {backup})" if backup else "")
        result.done += [*change.notes, wrote]
    if not result.done:
        result.done.append(f"{change.path}: nothing to change")
    return result


def main(argv: list[str], undo: bool = False) -> int:
    """`configure` or `unconfigure` for people and install.sh: lines on stdout, errors on stderr."""
    command = "unconfigure" if undo else "configure"
    parser = Parser(
        command,
        (
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
        path = dockerconfig.config_path()
        config = dockerconfig.load(path)
        state = load_state()
        if undo:
            change = plan_unconfigure(path, config, state)
        else:
            change = plan_configure(path, config, state, args.registries)
        if args.dry_run:
            diff = change.diff()
            if change.create:
                print(f"would create {path}")
            if diff or not change.create:
                print(diff or f"{path}: nothing to change\n", end="")
            where = change.target.description if change.target else ""
            for key in change.logins:
                print(f"would copy the login for {key} into the {where}")
            for key, why in change.uncarried.items():
                print(f"could not copy the login for {key} into the {where}: {why}")
            return 0
        result = apply(change, state)
    except HelperError as error:
        print(f"{PROGRAM}: {error}", file=sys.stderr)
        return 1
    for line in result.done:
        print(line)
    for line in result.failures:
        print(f"{PROGRAM}: {line}", file=sys.stderr)
    return 1 if result.failures else 0
