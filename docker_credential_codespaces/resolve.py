"""Resolution: which source answers a request, in the order secret, local store, not found.

This is the Helper that the wire module serves. It decides, and leaves reading the
sources to the modules named for them.
"""

from __future__ import annotations

from . import env_secrets, store
from .constants import ECR_TOKEN_USERNAME, SECRET_SERVER
from .errors import CredentialsNotFound, HelperError
from .log import debug, warn
from .servers import docker_key, ecr_registry, store_key


def _invalid(server_url: str) -> HelperError:
    shown = server_url if len(server_url) <= 100 else server_url[:100] + "..."
    return HelperError(f"invalid server URL {shown!r}: expected [https://]host[:port][/path]")


class CodespacesHelper:
    """Credentials from the secrets first, then from the local store."""

    def get(self, server_url: str) -> tuple[str, str]:
        """Username and secret for a registry, or CredentialsNotFound."""
        key = docker_key(server_url)
        if key is not None:
            secret = env_secrets.find(key)
            if secret is not None:
                return self._from_secret(secret)
        skey = store_key(server_url)
        if skey is not None:
            login = store.lookup(skey)
            if login is not None:
                return login["Username"], login["Secret"]
        debug(f"no secret and no stored login for {key or server_url!r}")
        raise CredentialsNotFound

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
        key = docker_key(server_url)
        covering = env_secrets.find(key) if key is not None else None
        if covering is not None:
            warn(
                f"{key} is covered by the secret {covering.variable(SECRET_SERVER)}; "
                "its credentials are used and nothing was stored"
            )
            return
        skey = store_key(server_url)
        if skey is None:
            raise _invalid(server_url)
        store.put(skey, username, secret)

    def delete(self, server_url: str) -> None:
        """Forget a stored login; a secret-covered registry only loses its cached ECR token."""
        key = docker_key(server_url)
        covering = env_secrets.find(key) if key is not None else None
        if covering is not None:
            registry = ecr_registry(covering.key)
            if registry is not None:
                from . import ecr

                ecr.forget(covering, registry)
            return
        skey = store_key(server_url)
        if skey is None:
            raise _invalid(server_url)
        store.remove(skey)

    def list(self) -> dict[str, str]:
        """Docker key to username for every registry known; no secret and no network."""
        known = store.usernames()
        from_secrets: dict[str, str] = {}
        for secret in env_secrets.triples():
            username = ECR_TOKEN_USERNAME if ecr_registry(secret.key) else secret.user
            from_secrets.setdefault(secret.key, username)
        known.update(from_secrets)
        return known
