"""AWS profiles as doctor reads them without the network: does one exist, and when does the
SSO session it uses expire.

Only `doctor` imports this, and nothing here decides a credential: botocore resolves a
profile for the exchange itself (ecr/exchange.py). The files are found as botocore finds
them, and the SSO token cache is the one `aws sso login` writes.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
from datetime import datetime, timezone

from ..constants import (
    DEFAULT_AWS_CONFIG_FILE,
    DEFAULT_AWS_CREDENTIALS_FILE,
    ENV_AWS_CONFIG_FILE,
    ENV_AWS_CREDENTIALS_FILE,
)

# The SSO token cache of the AWS CLI and botocore: one JSON file per session or start URL.
SSO_CACHE_DIR = "~/.aws/sso/cache"


def _read(variable: str, default: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    try:
        parser.read(os.path.expanduser(os.environ.get(variable) or default), encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        pass  # botocore will say what is wrong when the exchange reads it
    return parser


def profile(name: str) -> dict[str, str] | None:
    """The settings of a profile in the config or credentials file, or None if it has none."""
    config = _read(ENV_AWS_CONFIG_FILE, DEFAULT_AWS_CONFIG_FILE)
    credentials = _read(ENV_AWS_CREDENTIALS_FILE, DEFAULT_AWS_CREDENTIALS_FILE)
    section = "default" if name == "default" else f"profile {name}"
    found: dict[str, str] | None = None
    if config.has_section(section):
        found = dict(config.items(section))
        session = found.get("sso_session")
        if session and config.has_section(f"sso-session {session}"):
            found.update({f"session:{k}": v for k, v in config.items(f"sso-session {session}")})
    if credentials.has_section(name):
        found = {**(found or {}), **dict(credentials.items(name))}
    return found


def sso_expiry(settings: dict[str, str]) -> float | None:
    """When the cached SSO token of a profile expires, or None if it uses no SSO or none is
    cached (then the exchange says what to run)."""
    key = settings.get("sso_session") or settings.get("sso_start_url")
    if not key:
        return None
    name = hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()  # botocore's
    path = os.path.join(os.path.expanduser(SSO_CACHE_DIR), f"{name}.json")
    try:
        with open(path, encoding="utf-8") as stream:
            expires = json.load(stream)["expiresAt"]
        moment = datetime.fromisoformat(str(expires).replace("Z", "+00:00").replace("UTC", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0  # no usable token cached: as good as expired
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
