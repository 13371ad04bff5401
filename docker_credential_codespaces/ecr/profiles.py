"""AWS profiles as doctor reads them without the network: does one exist, and when does the
SSO session it uses expire.

Only `doctor` imports this, and nothing here decides a credential: botocore resolves a
profile for the exchange itself (ecr/exchange.py). The files are found as botocore finds
them, and the SSO token cache is the one `aws sso login` writes. Every one is read as the
secrets file is (files.read_regular): regular files only, never blocking, so a FIFO in place
of one never hangs doctor.
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
from ..files import read_regular
from ..wire import HelperError

# The SSO token cache of the AWS CLI and botocore: one JSON file per session or start URL.
SSO_CACHE_DIR = "~/.aws/sso/cache"
# An AWS config or credentials file, or a cached SSO login, is a few KB; more is none of them.
FILE_CAP = 1024 * 1024


def _read(variable: str, default: str) -> configparser.RawConfigParser:
    """One AWS shared file, parsed; empty when it does not exist. HelperError names the file
    and what is wrong with one that cannot be read (not a regular file, say) or parsed."""
    path = os.path.expanduser(os.environ.get(variable) or default)
    parser = configparser.RawConfigParser()
    data = read_regular(path, FILE_CAP)
    if data is None:
        return parser
    try:
        parser.read_string(data.decode("utf-8"), source=path)
    except (configparser.Error, UnicodeDecodeError):
        raise HelperError(f"{path} cannot be parsed") from None
    return parser


def profile(name: str) -> dict[str, str] | None:
    """The settings of a profile in the config or credentials file, or None if it has none.

    HelperError names a file that cannot be read or parsed, which botocore would not read
    either."""
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
        data = read_regular(path, FILE_CAP)
        if data is None:
            return 0.0
        expires = json.loads(data.decode("utf-8"))["expiresAt"]
        moment = datetime.fromisoformat(str(expires).replace("Z", "+00:00").replace("UTC", ""))
    except (HelperError, ValueError, KeyError, TypeError, RecursionError):
        return 0.0  # no usable token cached (none, not a regular file): as good as expired
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
