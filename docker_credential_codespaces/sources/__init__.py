"""Where credentials come from: sources behind one protocol, and the chain that is one too.

Every source (the secrets, the logins, the codespace token) offers docker-credential-helpers'
four verbs. The chain asks its sources in order and is itself a source, so the helper never
knows whether it talks to one or to several; the order is written once, in `resolve`. A chain
builds each source only when it is first asked, so a `get` that the secrets answer never
loads the modules of the stores behind them.
"""

from __future__ import annotations

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
