"""GitHub Container Registry from the codespace's own token.

In a codespace, GITHUB_TOKEN may pull the repository's own packages from ghcr.io, so a user
needs no secret for them. It answers only ghcr.io, only with CODESPACES=true, and never
over a secret or a stored login (a personal access token stored for pushing wins).
"""

from __future__ import annotations

import os

GHCR = "ghcr.io"
ENV_DISABLE = "DOCKER_CREDENTIAL_CODESPACES_NO_GITHUB_TOKEN"
# ghcr.io accepts any user name with a token; this one says where the token came from.
DEFAULT_USER = "codespace"


def login(key: str) -> tuple[str, str] | None:
    """(user, token) for ghcr.io in a codespace with GITHUB_TOKEN, else None."""
    if key != GHCR or not applies():
        return None
    return os.environ.get("GITHUB_USER") or DEFAULT_USER, os.environ["GITHUB_TOKEN"]


def applies() -> bool:
    """Whether the codespace token is on offer at all (and not turned off)."""
    return (
        os.environ.get("CODESPACES") == "true"
        and bool(os.environ.get("GITHUB_TOKEN"))
        and os.environ.get(ENV_DISABLE, "") in ("", "0")
    )
