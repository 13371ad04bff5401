"""config.json, as docker and containers/image read it: where it is, reading, writing, `auths`.

`configure` changes it and `doctor` reads it; both take these rules from here. The file is
rewritten atomically, through a symlinked file to its target, with a backup of what was there.
"""

from __future__ import annotations

import json
import os
from typing import Any

from . import files
from .constants import (
    CONFIG_BACKUP_SUFFIX,
    CONFIG_FILE,
    ENV_DOCKER_CONFIG,
    IDENTITY_TOKEN_USERNAME,
)
from .servers import containers_key, docker_key, store_key
from .wire import HelperError

Config = dict[str, Any]

# A config.json larger than this is not one docker wrote.
CONFIG_CAP = 16 * 1024 * 1024
# Fields of an `auths` entry that hold a secret; never shown in a diff.
SECRET_FIELDS = ("auth", "identitytoken", "registrytoken", "password")
# Top-level keys whose every value may be a secret (an Authorization header, a token).
HEADERS_FIELD = "httpheaders"
# Top-level key whose proxy URLs may carry `user:password@`.
PROXIES_FIELD = "proxies"
HIDDEN = "<hidden>"
# Go's encoding/json matches a key to a field name case-insensitively, with Unicode simple
# folding: for the ASCII names docker uses, the only other runes that match are the long s
# and the Kelvin sign.
_GO_FOLD = str.maketrans({"\u017f": "s", "\u212a": "k"})


def config_path() -> str:
    """config.json in DOCKER_CONFIG, or in ~/.docker as docker itself decides."""
    directory = os.environ.get(ENV_DOCKER_CONFIG) or os.path.join(
        os.path.expanduser("~"), ".docker"
    )
    return os.path.join(directory, CONFIG_FILE)


def load(path: str) -> Config:
    """The parsed config.json, {} when missing; anything unreadable is an error, not a reset."""
    data = files.read_regular(path, CONFIG_CAP)
    if data is None or not data.strip():
        return {}
    config = files.json_value(data, path, "fix it, then run this again")
    if not isinstance(config, dict):
        raise HelperError(f"{path} does not hold a JSON object; fix it first")
    return config


def render(config: Config) -> str:
    """config.json's text as this helper writes it: tab-indented, as docker does."""
    return json.dumps(config, indent="\t") + "\n"


def write(path: str, new: Config) -> str | None:
    """Keep the old file as `config.json.bak`, then replace config.json atomically.

    Both are written where the path really leads: through a symlinked config.json or a
    symlinked directory (in a codespace `~/.docker` is a link into the persisted share), so
    the links stay links. Both keep the old file's owner, or the directory's for a new file:
    root wiring a user's config.json must not leave the user unable to `docker login`.
    Returns the backup's path, or None when there was no file to back up.
    """
    text = render(new).encode()
    if len(text) > CONFIG_CAP:  # it could not be read back, by configure or by unconfigure
        raise HelperError(
            f"{path} would be {len(text)} bytes, more than the {CONFIG_CAP} it is read back "
            "with; it is left as it was"
        )
    real = os.path.realpath(path)
    directory = os.path.dirname(real)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        info = os.stat(real if os.path.exists(real) else directory)
    except OSError as error:
        raise HelperError(f"cannot write {path}: {error.strerror}") from None
    owner = (info.st_uid, info.st_gid)
    backup = None
    if os.path.exists(real):
        backup = real + CONFIG_BACKUP_SUFFIX
        files.atomic_write(backup, files.read_regular(real, CONFIG_CAP) or b"", owner=owner)
    files.atomic_write(real, text, owner=owner)
    return backup


def go_fields(document: dict[str, Any], name: str) -> list[str]:
    """The keys of a JSON object that docker reads as its field `name` (lower case).

    docker decodes config.json with Go's encoding/json, which matches names without regard to
    case (`Auth` and `AUTH` are `auth`); of several such keys the last one wins.
    """
    return [key for key in document if key.translate(_GO_FOLD).lower() == name]


def go_field(document: dict[str, Any], name: str) -> object:
    """The value docker reads for the field `name` of a JSON object, or None."""
    keys = go_fields(document, name)
    return document[keys[-1]] if keys else None


# Why a login docker has inline cannot be carried into a store of logins.
_UNCARRIED = "which a credential helper's JSON cannot carry"


def inline_logins(config: Config) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The logins stored inline in `auths`, by store key, as the local store keeps them; and
    the logins docker has there that no store can be given, by key, each with the reason.

    Every spelling docker honours counts: `auth` (base64 of `user:password`, which wins over
    the separate fields, as docker decodes it over them), `username` with `password`, and
    `identitytoken`, which docker sends before either, each in any case. An `auth` that is
    not strict base64 is no login: docker refuses the whole file over it, and a lenient
    decoder would carry a login docker never had.

    docker keeps the bytes an `auth` decodes to as they are, UTF-8 or not, and a JSON string
    may hold an unpaired surrogate escape; the protocol's JSON carries neither, so such a
    login can only stay inline. It is named, never dropped: a caller that made docker stop
    reading it inline would otherwise lose it unsaid.
    """
    from .secrets import strict_base64

    logins: dict[str, dict[str, str]] = {}
    kept: dict[str, str] = {}
    auths = config.get("auths")
    for server, entry in (auths if isinstance(auths, dict) else {}).items():
        key = store_key(server)
        if key is None or not isinstance(entry, dict):
            continue
        login: dict[str, str] | None = None
        token = go_field(entry, "identitytoken")
        auth = go_field(entry, "auth")
        user, password = go_field(entry, "username"), go_field(entry, "password")
        if isinstance(token, str) and token:
            login = {"Username": IDENTITY_TOKEN_USERNAME, "Secret": token}
        elif isinstance(auth, str) and auth:
            # one that is not ASCII is no base64 (docker refuses it too) and may not encode
            decoded = strict_base64(auth.encode()) if auth.isascii() else None
            if decoded is None:
                continue
            username, sep, secret = decoded.partition(b":")
            if not sep or not username:
                continue
            try:
                login = {"Username": username.decode(), "Secret": secret.decode()}
            except UnicodeDecodeError:
                kept[key] = f"its `auth` is not UTF-8, {_UNCARRIED}"
                continue
        elif isinstance(user, str) and user and isinstance(password, str) and password:
            login = {"Username": user, "Secret": password}
        if login is None:
            continue
        try:
            (login["Username"] + login["Secret"]).encode()
        except UnicodeEncodeError:
            kept[key] = f"it holds an unpaired surrogate escape, {_UNCARRIED}"
            continue
        logins[key] = login
    return logins, kept


def inline_entry(login: dict[str, str]) -> dict[str, str]:
    """The `auths` entry docker reads for a stored login: an identity token, or `auth`."""
    import base64

    if login["Username"] == IDENTITY_TOKEN_USERNAME:
        return {"identitytoken": login["Secret"]}
    pair = f"{login['Username']}:{login['Secret']}".encode()
    return {"auth": base64.b64encode(pair).decode()}


def masked(config: Config) -> Config:
    """A copy of config.json with every secret replaced by `<hidden>`, for `--dry-run`.

    Hidden: the secret fields of `auths` entries, every `HttpHeaders` value, and the
    `user:password@` of proxy URLs, in whatever case docker would read their names.
    """
    copy: Config = json.loads(json.dumps(config))
    for name in go_fields(copy, "auths"):
        auths = copy[name]
        for entry in (auths if isinstance(auths, dict) else {}).values():
            if isinstance(entry, dict):
                for field in SECRET_FIELDS:
                    for key in go_fields(entry, field):
                        entry[key] = HIDDEN
    for name in go_fields(copy, HEADERS_FIELD):
        headers = copy[name]
        if isinstance(headers, dict):
            copy[name] = dict.fromkeys(headers, HIDDEN)
    for name in go_fields(copy, PROXIES_FIELD):
        copy[name] = _without_userinfo(copy[name])
    return copy


def _without_userinfo(value: object) -> object:
    """`value` with the userinfo of every URL in it hidden, however deep it sits."""
    if isinstance(value, dict):
        return {key: _without_userinfo(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_userinfo(item) for item in value]
    if not isinstance(value, str):
        return value
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "", value
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return value
    host = authority[authority.rindex("@") :]
    return f"{scheme}{sep}{HIDDEN}{host}{slash}{path}"


def credential_helper(config: Config, key: str, store: bool = True) -> str | None:
    """The helper docker runs for a registry's key: its credHelpers entry, else (with `store`)
    the credsStore; None when it reads the login inline. containers/image has no credsStore:
    ask it with `store=False`. doctor and configure both decide wiring by this alone."""
    helpers = config.get("credHelpers")
    named = helpers.get(key) if isinstance(helpers, dict) else None
    if isinstance(named, str) and named:
        return named
    creds_store = config.get("credsStore")
    return creds_store if store and isinstance(creds_store, str) and creds_store else None


def helper_keys(registries: list[str]) -> list[str]:
    """credHelpers keys for docker keys, Docker Hub under both its names, Hub OAuth keys left out.

    containers/image has no credsStore and no wildcard, so every registry needs its own entry.
    """
    keys: list[str] = []
    for registry in registries:
        if docker_key(registry) != registry:
            continue
        for key in (registry, containers_key(registry)):
            if key not in keys:
                keys.append(key)
    return keys
