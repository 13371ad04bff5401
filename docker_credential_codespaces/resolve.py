"""Resolution: the order in which sources answer, written once, and the Helper docker is served.

First the secrets; then the logins (the fallback store the user had, or else the local
store); then, for ghcr.io in a codespace, the codespace's GITHUB_TOKEN; then not found. The
chain walks them in that order and knows nothing of what is inside each.
"""

from __future__ import annotations

from .errors import CredentialsNotFound, HelperError
from .log import debug
from .servers import docker_key, shown
from .sources import Chain, Source
from .sources.secrets import Secrets
from .wire import Helper


def _logins() -> Source:
    from .sources.logins import logins

    return logins()


def _codespace_token() -> Source:
    from .sources.codespace_token import CodespaceToken

    return CodespaceToken()


# The order of the sources. Each is built only when the chain reaches it.
ORDER = (Secrets, _logins, _codespace_token)


class CodespacesHelper(Helper):
    """docker-credential-helpers' four verbs over the chain of sources."""

    def __init__(self) -> None:
        self.chain = Chain(ORDER)

    def get(self, server_url: str) -> tuple[str, str]:
        """Username and secret for a registry, or CredentialsNotFound."""
        found = self.chain.get(server_url)
        if found is None:
            debug(
                f"no secret and no stored login for {docker_key(server_url) or shown(server_url)}"
            )
            raise CredentialsNotFound
        return found

    def add(self, server_url: str, username: str, secret: str) -> None:
        """Store a login, unless a secret covers the registry: the secret stays the truth."""
        if not self.chain.add(server_url, username, secret):
            raise HelperError(f"nothing can store a login for {shown(server_url)}")

    def delete(self, server_url: str) -> None:
        """Forget a stored login; a secret-covered registry only loses its cached ECR token."""
        self.chain.delete(server_url)

    def list(self) -> dict[str, str]:
        """Docker key to username for every registry known; no secret and no network."""
        return self.chain.list()
