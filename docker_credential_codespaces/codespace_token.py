"""GitHub Container Registry from the codespace's own token.

In a codespace, GITHUB_TOKEN may pull the repository's own packages from ghcr.io, so a user
needs no secret for them. Codespaces renews it in the secrets file, so that copy wins. It
answers only ghcr.io, only with CODESPACES=true, and comes last in the chain: a secret or a
stored login (a personal access token stored for pushing) wins.
"""

from __future__ import annotations

import os

from .constants import (
    CODESPACE_TOKEN_USER,
    ENV_CODESPACES,
    ENV_GITHUB_TOKEN,
    ENV_GITHUB_USER,
    ENV_NO_GITHUB_TOKEN,
    GHCR,
)
from .log import flag
from .servers import docker_key
from .wire import Credential, Entry, Source


def _is_token_name(name: str) -> bool:
    return name == ENV_GITHUB_TOKEN


def _login() -> Credential | None:
    """The codespace's login: the secrets file's GITHUB_TOKEN, which Codespaces keeps fresh,
    else the environment's copy, which goes stale in a shell opened hours ago (a stale token
    is refused by ghcr.io even for public images). Registry triples keep the opposite rule,
    the environment over the file: there the user sets them on purpose."""
    if os.environ.get(ENV_CODESPACES) != "true" or flag(ENV_NO_GITHUB_TOKEN):
        return None
    from .secrets import read_file, secrets_file_path

    live = read_file(secrets_file_path(), _is_token_name).get(ENV_GITHUB_TOKEN)
    token = live or os.environ.get(ENV_GITHUB_TOKEN)
    if not token:
        return None
    return Credential(os.environ.get(ENV_GITHUB_USER) or CODESPACE_TOKEN_USER, token)


class CodespaceToken(Source):
    """ghcr.io from GITHUB_TOKEN; it stores nothing, so logins go to the next source."""

    description = "Codespaces token"

    def get(self, server_url: str) -> Credential | None:
        return _login() if docker_key(server_url) == GHCR else None

    def entries(self) -> list[Entry]:
        login = _login()
        if login is None:
            return []
        return [Entry(GHCR, login.username, self, self.description, ENV_GITHUB_TOKEN)]
