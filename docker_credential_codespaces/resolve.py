"""Resolution: which source answers a request.

The order is: a secret; then the logins (the fallback store the user had, or else the local
store); then, for ghcr.io in a codespace, the codespace's GITHUB_TOKEN; then not found. This
is the Helper that the wire module serves. It decides, and leaves reading the sources to the
modules named for them.
"""

from __future__ import annotations

from . import env_secrets
from .constants import ECR_TOKEN_USERNAME, SECRET_SERVER
from .errors import CredentialsNotFound
from .log import debug, warn
from .servers import docker_key, ecr_registry, shown

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only type checkers need it
if TYPE_CHECKING:
    from .store import Logins


def logins() -> Logins:
    """Where logins live: the recorded fallback store, or the helper's own file.

    Imported here, not at the top: a `get` that a secret answers never needs either.
    """
    from . import fallback, store

    return fallback.configured() or store.LocalStore()


def _covering(server_url: str) -> env_secrets.Secret | None:
    key = docker_key(server_url)
    return env_secrets.find(key) if key is not None else None


class CodespacesHelper:
    """Credentials from the secrets first, then from the logins, then the codespace token."""

    def get(self, server_url: str) -> tuple[str, str]:
        """Username and secret for a registry, or CredentialsNotFound."""
        key = docker_key(server_url)
        secret = env_secrets.find(key) if key is not None else None
        if secret is not None:
            return self._from_secret(secret)
        login = logins().get(server_url)
        if login is None and key is not None:
            from . import github_token

            login = github_token.login(key)
        if login is None:
            debug(f"no secret and no stored login for {key or shown(server_url)}")
            raise CredentialsNotFound
        return login

    def _from_secret(self, secret: env_secrets.Secret) -> tuple[str, str]:
        registry = ecr_registry(secret.key)
        if registry is None:
            return secret.user, secret.password
        from . import ecr

        if secret.user == ECR_TOKEN_USERNAME:
            ecr.check_token(secret)
            return secret.user, secret.password
        return ECR_TOKEN_USERNAME, ecr.registry_password(secret, registry)

    def add(self, server_url: str, username: str, secret: str) -> None:
        """Store a login, unless a secret covers the registry: the secret stays the truth."""
        covering = _covering(server_url)
        if covering is not None:
            warn(
                f"{covering.key} is covered by the secret {covering.variable(SECRET_SERVER)}; "
                "its credentials are used and nothing was stored"
            )
            return
        logins().add(server_url, username, secret)

    def delete(self, server_url: str) -> None:
        """Forget a stored login; a secret-covered registry only loses its cached ECR token."""
        covering = _covering(server_url)
        if covering is None:
            logins().delete(server_url)
            return
        registry = ecr_registry(covering.key)
        if registry is not None:
            from . import ecr

            ecr.forget(covering, registry)

    def list(self) -> dict[str, str]:
        """Docker key to username for every registry known; no secret and no network."""
        from . import github_token

        known = logins().list()
        codespace = github_token.login(github_token.GHCR)
        if codespace is not None:
            known.setdefault(github_token.GHCR, codespace[0])
        for secret in reversed(env_secrets.triples()):  # the first by prefix wins
            if secret.misplaced_access_key() is None:  # as in `find`: never answered
                username = ECR_TOKEN_USERNAME if ecr_registry(secret.key) else secret.user
                known[secret.key] = username
        return known
