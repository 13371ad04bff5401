"""Sources of the protocol that live in memory, for driving `wire.serve` and the chain in
process: one that knows what it is given, and one that cannot be read."""

from __future__ import annotations

from docker_credential_codespaces.wire import Credential, Declined, Entry, HelperError, Source


class Fixed(Source):
    """A source that knows what it is given, and counts what it is asked."""

    def __init__(self, known: dict[str, tuple[str, str]], takes_logins: bool = False) -> None:
        self.known = known
        self.takes_logins = takes_logins
        self.asked: list[str] = []
        self.deleted: list[str] = []

    def get(self, server_url: str) -> Credential | None:
        self.asked.append(server_url)
        found = self.known.get(server_url)
        return Credential(*found) if found is not None else None

    def add(self, server_url: str, username: str, secret: str) -> None:
        if not self.takes_logins:
            raise Declined
        self.known[server_url] = (username, secret)

    def delete(self, server_url: str) -> None:
        if server_url not in self.known:
            raise Declined
        self.deleted.append(server_url)

    def entries(self) -> list[Entry]:
        return [Entry(key, user, self, "fixed") for key, (user, _) in self.known.items()]


class Unreadable(Source):
    """A store that cannot say what it holds, nor forget anything."""

    def get(self, server_url: str) -> Credential | None:
        return None

    def delete(self, server_url: str) -> None:
        raise HelperError("the store CANARY-path is broken")

    def entries(self) -> list[Entry]:
        raise HelperError("the store CANARY-path is broken")
