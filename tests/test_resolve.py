"""The sources' one protocol, in process: one contract run against every store of logins and
the chain, as python-keyring tests its backends; then the chain's own rules."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from docker_credential_codespaces.fallback import FallbackStore
from docker_credential_codespaces.resolve import Chain, Source
from docker_credential_codespaces.store import LocalStore

FAKE_STORE = Path(__file__).parent / "fake_credential_store.py"


@pytest.fixture
def fallback_on_path(use_env: dict[str, str], tmp_path: Path) -> None:
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    script = bin_dir / "docker-credential-contract"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_STORE}" "$@"\n')
    script.chmod(0o755)
    os.environ["FAKE_STORE_FILE"] = str(tmp_path / "fake-store.json")
    os.environ["FAKE_STORE_LOG"] = str(tmp_path / "fake-store.log")
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


STORES: dict[str, Callable[[], Source]] = {
    "local store": LocalStore,
    "fallback store": lambda: FallbackStore("contract"),
    "chain of the local store": lambda: Chain([LocalStore]),
}


@pytest.fixture(params=list(STORES))
def store(
    request: pytest.FixtureRequest, use_env: dict[str, str], fallback_on_path: None
) -> Source:
    return STORES[request.param]()


def test_contract_empty(store: Source) -> None:
    assert store.get("r.example") is None
    assert store.list() == {}


def test_contract_add_get_list_delete(store: Source) -> None:
    assert store.add("r.example", "u", "CANARY-p") is True
    assert store.add("q.example:5000", "<token>", "id-token") is True
    assert store.get("r.example") == ("u", "CANARY-p")
    assert store.get("q.example:5000") == ("<token>", "id-token")
    assert store.list() == {"r.example": "u", "q.example:5000": "<token>"}
    assert store.delete("r.example") is True
    assert store.get("r.example") is None
    assert store.list() == {"q.example:5000": "<token>"}


def test_contract_add_replaces(store: Source) -> None:
    store.add("r.example", "u", "one")
    store.add("r.example", "v", "two")
    assert store.get("r.example") == ("v", "two")
    assert store.list() == {"r.example": "v"}


def test_contract_deleting_what_is_not_there_succeeds(store: Source) -> None:
    """docker logout erases every spelling of a host and expects no error for the others."""
    assert store.delete("never.example") is True


class Fixed(Source):
    """A source that knows what it is given, and counts what it is asked."""

    def __init__(self, known: dict[str, tuple[str, str]], takes_logins: bool = False) -> None:
        self.known = known
        self.takes_logins = takes_logins
        self.asked: list[str] = []

    def get(self, server_url: str) -> tuple[str, str] | None:
        self.asked.append(server_url)
        return self.known.get(server_url)

    def add(self, server_url: str, username: str, secret: str) -> bool:
        if self.takes_logins:
            self.known[server_url] = (username, secret)
        return self.takes_logins

    def list(self) -> dict[str, str]:
        return {key: user for key, (user, _) in self.known.items()}


def test_chain_asks_in_order_and_builds_a_source_only_when_it_gets_there() -> None:
    first = Fixed({"a.example": ("first", "1")})
    second = Fixed({"a.example": ("second", "2"), "b.example": ("second", "3")})
    built: list[str] = []

    def make(name: str, source: Source) -> Callable[[], Source]:
        def factory() -> Source:
            built.append(name)
            return source

        return factory

    chain = Chain([make("first", first), make("second", second)])
    assert chain.get("a.example") == ("first", "1")
    assert built == ["first"]  # the second source was never needed, so never built
    assert chain.get("b.example") == ("second", "3")
    assert chain.get("c.example") is None
    assert built == ["first", "second"]  # each built once
    assert chain.list() == {"a.example": "first", "b.example": "second"}  # earlier wins


def test_chain_gives_a_login_to_the_first_source_that_takes_it() -> None:
    reader, store = Fixed({}), Fixed({}, takes_logins=True)
    chain = Chain([lambda: reader, lambda: store])
    assert chain.add("r.example", "u", "p") is True
    assert store.known == {"r.example": ("u", "p")} and reader.known == {}
    assert Chain([lambda: Fixed({})]).add("r.example", "u", "p") is False
