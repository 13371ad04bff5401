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
    DOCKER_HUB_HELPER_KEYS,
    DOCKER_HUB_KEY,
    ENV_DOCKER_CONFIG,
    IDENTITY_TOKEN_USERNAME,
)
from .servers import docker_key, store_key
from .wire import HelperError

Config = dict[str, Any]

# A config.json larger than this is not one docker wrote.
CONFIG_CAP = 16 * 1024 * 1024
# Fields of an `auths` entry that hold a secret; never shown in a diff.
SECRET_FIELDS = ("auth", "identitytoken", "registrytoken", "password")


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
    try:
        config = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        raise HelperError(f"{path} is not valid JSON; fix it, then run this again") from None
    if not isinstance(config, dict):
        raise HelperError(f"{path} does not hold a JSON object; fix it first")
    return config


def render(config: Config) -> str:
    """config.json's text as this helper writes it: tab-indented, as docker does."""
    return json.dumps(config, indent="\t") + "\n"


def write(path: str, new: Config) -> str | None:
    """Keep the old file as `config.json.bak`, then replace config.json atomically.

    Returns the backup's path, or None when there was no file to back up.
    """
    real = os.path.realpath(path)
    os.makedirs(os.path.dirname(real), mode=0o700, exist_ok=True)
    backup = None
    if os.path.exists(real):
        backup = real + CONFIG_BACKUP_SUFFIX
        files.atomic_write(backup, files.read_regular(real, CONFIG_CAP) or b"")
    files.atomic_write(real, render(new).encode("utf-8"))
    return backup


def inline_logins(config: Config) -> dict[str, dict[str, str]]:
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


def inline_entry(login: dict[str, str]) -> dict[str, str]:
    """The `auths` entry docker reads for a stored login: an identity token, or `auth`."""
    import base64

    if login["Username"] == IDENTITY_TOKEN_USERNAME:
        return {"identitytoken": login["Secret"]}
    pair = f"{login['Username']}:{login['Secret']}".encode()
    return {"auth": base64.b64encode(pair).decode("ascii")}


def masked(config: Config) -> Config:
    """A copy of config.json with every secret in `auths` replaced by `<hidden>`."""
    copy: Config = json.loads(json.dumps(config))
    auths = copy.get("auths")
    for entry in (auths if isinstance(auths, dict) else {}).values():
        if isinstance(entry, dict):
            for field in SECRET_FIELDS:
                if field in entry:
                    entry[field] = "<hidden>"
    return copy


def helper_keys(registries: list[str]) -> list[str]:
    """credHelpers keys for docker keys, Docker Hub under both its names, Hub OAuth keys left out.

    containers/image has no credsStore and no wildcard, so every registry needs its own entry.
    """
    keys: list[str] = []
    for registry in registries:
        if docker_key(registry) != registry:
            continue
        for key in DOCKER_HUB_HELPER_KEYS if registry == DOCKER_HUB_KEY else (registry,):
            if key not in keys:
                keys.append(key)
    return keys
