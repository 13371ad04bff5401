"""`configure`: make this helper the one docker, skopeo and podman call, losing no login.

docker reads `credsStore`; containers/image (skopeo, podman, buildah) ignores it and reads
only `credHelpers`, so each registry a secret names, and each stored login, gets an entry
there too. Once `credsStore` is set, docker stops reading the passwords inline in `auths`, so
those logins are first copied into the local store. The file is rewritten atomically, with a
backup, and only when it changes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import env_secrets, files, store
from .constants import DOCKER_HUB_KEY, HELPER_NAME, IDENTITY_TOKEN_USERNAME, PROGRAM
from .errors import HelperError
from .servers import docker_key, store_key

CONFIG_CAP = 16 * 1024 * 1024
BACKUP_SUFFIX = ".bak"
# containers/image looks Docker Hub up in credHelpers as "docker.io", docker as its v1 URL.
_HUB_HELPER_KEYS = (DOCKER_HUB_KEY, "docker.io")


def config_path() -> str:
    """config.json in DOCKER_CONFIG, or in ~/.docker as docker itself decides."""
    directory = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(directory, "config.json")


def load_config(path: str) -> dict:
    """The parsed config.json, {} when missing; anything unreadable is an error, not a reset."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(CONFIG_CAP + 1)
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise HelperError(f"cannot read {path}: {error.strerror}") from None
    if not data.strip():
        return {}
    try:
        config = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        raise HelperError(f"{path} is not valid JSON; fix it, then run configure again") from None
    if not isinstance(config, dict):
        raise HelperError(f"{path} does not hold a JSON object; fix it first")
    return config


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


def plan(config: dict, registries: list[str]) -> tuple[dict, list[str]]:
    """The new config and one line per change, without touching anything."""
    new = json.loads(json.dumps(config))
    notes: list[str] = []
    previous = new.get("credsStore")
    if previous != HELPER_NAME:
        if previous:
            notes.append(f"credsStore was {previous!r}; it is kept in the backup")
        new["credsStore"] = HELPER_NAME
        notes.append(f"credsStore: {HELPER_NAME}")
    helpers = new.get("credHelpers")
    if not isinstance(helpers, dict):
        helpers = new["credHelpers"] = {}
    for key in helper_keys(registries):
        current = helpers.get(key)
        if current is None:
            helpers[key] = HELPER_NAME
            notes.append(f"credHelpers: {key} -> {HELPER_NAME}")
        elif current != HELPER_NAME:
            notes.append(f"credHelpers sends {key} to docker-credential-{current}; left as it is")
    if not helpers:
        del new["credHelpers"]
    return new, notes


def write_config(path: str, new: dict) -> None:
    """Keep the old file as `config.json.bak`, then replace config.json atomically."""
    real = os.path.realpath(path)
    directory = os.path.dirname(real)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    if os.path.exists(real):
        with open(real, "rb") as stream:
            files.atomic_write(real + BACKUP_SUFFIX, stream.read())
    files.atomic_write(real, (json.dumps(new, indent="\t") + "\n").encode("utf-8"))


def configure(dry_run: bool = False) -> list[str]:
    """Wire config.json and move inline logins; returns what was done, one line each."""
    path = config_path()
    config = load_config(path)
    covered = [secret.key for secret in env_secrets.triples()]
    logins = {}
    if config.get("credsStore") in (None, ""):
        logins = {
            key: login
            for key, login in inline_logins(config).items()
            if docker_key(key) not in covered
        }
    stored = sorted(set(store.usernames()) | set(logins))
    new, notes = plan(config, covered + stored)
    if dry_run:
        return [f"would set {note}" for note in notes] + [
            f"would copy the login for {key} into the local store" for key in logins
        ]
    done = [f"copied the login for {key} into the local store" for key in store.put_many(logins)]
    if new != config:
        write_config(path, new)
        done += [*notes, f"wrote {path} (backup in {path}{BACKUP_SUFFIX})"]
    return done or [f"{path} already uses {PROGRAM}; nothing to change"]


def main(argv: list[str]) -> int:
    """The `configure` command for people and install.sh: lines on stdout, errors on stderr."""
    parser = argparse.ArgumentParser(
        prog=f"{PROGRAM} configure",
        description="Make this helper docker's credsStore and the credHelpers entry of every "
        "registry the secrets name, in $DOCKER_CONFIG/config.json (or ~/.docker/config.json).",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would change, change nothing"
    )
    args = parser.parse_args(argv)
    try:
        for line in configure(dry_run=args.dry_run):
            print(line)
    except HelperError as error:
        print(f"{PROGRAM}: {error}", file=sys.stderr)
        return 1
    return 0
