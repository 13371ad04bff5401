"""Where credentials come from: the sources' one protocol, their chain, and its order.

Every source (the secrets, the logins, the codespace token) offers docker-credential-helpers'
four verbs. The chain asks its sources in order and is itself a source, so the helper never
knows whether it talks to one or to several. The order is written once, below: first the
secrets; then the logins (the fallback store the user had, or else the local store); then,
for ghcr.io in a codespace, the codespace's GITHUB_TOKEN; then not found. A chain builds each
source only when it is first asked, so a `get` that the secrets answer never loads the
modules of the stores behind them.
"""

from __future__ import annotations

from .log import debug
from .servers import docker_key, shown
from .wire import CredentialsNotFound, Helper, HelperError

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence


class Source:
    """One place credentials come from. Subclasses override what they can do.

    `add` and `delete` say whether the source took the request: a source that does not store
    logins leaves them to the next one.
    """

    description = "source"

    def get(self, server_url: str) -> tuple[str, str] | None:
        """(username, secret) for the registry a request names, or None if unknown here."""
        raise NotImplementedError

    def add(self, server_url: str, username: str, secret: str) -> bool:
        """Store a login; False leaves it to the next source."""
        return False

    def delete(self, server_url: str) -> bool:
        """Forget a login; False leaves it to the next source."""
        return False

    def list(self) -> dict[str, str]:
        """Docker key to username for every registry this source knows; never fails."""
        return {}


class Chain(Source):
    """Sources asked in order: the first that knows a registry answers, and wins in `list`."""

    description = "chain"

    def __init__(self, factories: Sequence[Callable[[], Source]]) -> None:
        self._factories = tuple(factories)
        self._built: list[Source] = []

    def _in_order(self) -> Iterator[Source]:
        """Each source in turn, built the first time the chain gets to it."""
        for index, factory in enumerate(self._factories):
            if index == len(self._built):
                self._built.append(factory())
            yield self._built[index]

    def get(self, server_url: str) -> tuple[str, str] | None:
        for source in self._in_order():
            found = source.get(server_url)
            if found is not None:
                return found
        return None

    def add(self, server_url: str, username: str, secret: str) -> bool:
        return any(source.add(server_url, username, secret) for source in self._in_order())

    def delete(self, server_url: str) -> bool:
        return any(source.delete(server_url) for source in self._in_order())

    def list(self) -> dict[str, str]:
        known: dict[str, str] = {}
        for source in reversed(list(self._in_order())):
            known.update(source.list())
        return known


def _secrets() -> Source:
    from .secrets import Secrets

    return Secrets()


def _logins() -> Source:
    from .logins import logins

    return logins()


def _codespace_token() -> Source:
    from .codespace_token import CodespaceToken

    return CodespaceToken()


# The order of the sources. Each is built only when the chain reaches it.
ORDER = (_secrets, _logins, _codespace_token)


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
