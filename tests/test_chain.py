"""The sources' one protocol, in process: one contract run against every store of logins and
the chain, as python-keyring tests its backends; then the chain's own rules, and the order
it is assembled in."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from beds.client import run_helper
from beds.environment import add_secret
from beds.fake_store import put_on_path
from beds.sources import Fixed, Unreadable
from docker_credential_codespaces import chain as assembly
from docker_credential_codespaces.chain import Chain
from docker_credential_codespaces.codespace_token import CodespaceToken
from docker_credential_codespaces.fallback import FallbackStore
from docker_credential_codespaces.secrets import Secrets
from docker_credential_codespaces.store import LocalStore
from docker_credential_codespaces.wire import Credential, Declined, HelperError, Source


@pytest.fixture
def fallback_on_path(use_env: dict[str, str], tmp_path: Path) -> None:
    put_on_path(os.environ, tmp_path, "contract")


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
    store.add("r.example", "u", "CANARY-p")
    store.add("q.example:5000", "<token>", "id-token")
    assert store.get("r.example") == Credential("u", "CANARY-p")
    assert store.get("q.example:5000") == Credential("<token>", "id-token")
    assert store.list() == {"r.example": "u", "q.example:5000": "<token>"}
    assert [(e.key, e.username) for e in store.entries()] == [
        ("q.example:5000", "<token>"),
        ("r.example", "u"),
    ]
    store.delete("r.example")
    assert store.get("r.example") is None
    assert store.list() == {"q.example:5000": "<token>"}


def test_contract_add_replaces(store: Source) -> None:
    store.add("r.example", "u", "one")
    store.add("r.example", "v", "two")
    assert store.get("r.example") == Credential("v", "two")
    assert store.list() == {"r.example": "v"}


def test_contract_deleting_what_is_not_there_succeeds(store: Source) -> None:
    """docker logout erases every spelling of a host and expects no error for the others."""
    store.delete("never.example")


def test_contract_an_answer_hides_its_secret(store: Source) -> None:
    store.add("r.example", "u", "CANARY-p")
    found = store.get("r.example")
    assert found is not None and "CANARY" not in repr(found)
    assert found.expires is False and found.expires_at is None


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
    assert chain.get("a.example") == Credential("first", "1")
    assert built == ["first"]  # the second source was never needed, so never built
    assert chain.get("b.example") == Credential("second", "3")
    assert chain.get("c.example") is None
    assert built == ["first", "second"]  # each built once
    assert chain.list() == {"a.example": "first", "b.example": "second"}  # earlier wins
    assert [e.username for e in chain.entries()] == ["first", "second"]


def test_chain_gives_a_login_to_the_first_source_that_takes_it() -> None:
    reader, store = Fixed({}), Fixed({}, takes_logins=True)
    chain = Chain([lambda: reader, lambda: store])
    chain.add("r.example", "u", "p")
    assert store.known == {"r.example": ("u", "p")} and reader.known == {}
    with pytest.raises(Declined):
        Chain([lambda: Fixed({})]).add("r.example", "u", "p")


def test_chain_erases_from_every_source_not_only_the_first_that_takes_it() -> None:
    """`docker logout` past a secret: the secret's source drops its token and says it took
    the request, and the stored login behind it must go too (it used to stay)."""
    first = Fixed({"r.example": ("secret", "1")})
    second = Fixed({"r.example": ("login", "2")})
    Chain([lambda: first, lambda: second]).delete("r.example")
    assert first.deleted == ["r.example"] and second.deleted == ["r.example"]


def test_a_source_that_cannot_erase_never_stops_the_chain() -> None:
    """A failing source is said, but only after every other one has forgotten the login."""
    behind = Fixed({"r.example": ("login", "2")})
    with pytest.raises(HelperError, match="broken"):
        Chain([Unreadable, lambda: behind]).delete("r.example")
    assert behind.deleted == ["r.example"]
    with pytest.raises(Declined):  # nothing anywhere to forget: docker logout's success
        Chain([lambda: Fixed({})]).delete("r.example")


def test_an_unreadable_source_is_said_in_list_and_the_rest_still_answer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    chain = Chain([Unreadable, lambda: Fixed({"b.example": ("u", "p")})])
    assert chain.list() == {"b.example": "u"}
    assert "broken" in capsys.readouterr().err
    entries, failures = chain.survey()
    assert [e.key for e in entries] == ["b.example"] and len(failures) == 1
    with pytest.raises(HelperError):  # export --all must not leave a store out unsaid
        chain.entries()


def test_threads_sharing_a_chain_build_each_source_once() -> None:
    """doctor --check asks one chain from a thread per registry. A factory that releases
    the GIL (as an import does) let threads see a half-built chain: some got not found."""
    built: list[int] = []

    def slow_factory() -> Source:
        time.sleep(0.05)
        built.append(1)
        return Fixed({"ghcr.io": ("u", "p")})

    chain = Chain([lambda: Fixed({}), slow_factory])
    answers: list[Credential | None] = []
    threads = [
        threading.Thread(target=lambda: answers.append(chain.get("ghcr.io"))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert answers == [Credential("u", "p")] * 4
    assert built == [1]


def test_the_order_is_secrets_then_logins_then_the_codespace_token(
    use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one place the order is written, as every command gets it."""
    sources = list(assembly.chain().sources())
    assert [type(s) for s in sources] == [Secrets, LocalStore, CodespaceToken]
    monkeypatch.setenv("CODESPACES", "true")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_from_the_codespace")
    add = Chain([lambda: sources[0], lambda: sources[1], lambda: sources[2]])
    sources[1].add("ghcr.io", "stored", "pat")
    assert add.get("ghcr.io") == Credential("stored", "pat")  # a login beats the token


def test_the_logins_store_is_the_recorded_fallback_else_the_local_store(
    use_env: dict[str, str], fallback_on_path: None
) -> None:
    assert type(assembly.logins()) is LocalStore
    assert type(assembly.logins("contract")) is FallbackStore
    assert type(assembly.logins("codespaces")) is LocalStore  # never ourselves
    from docker_credential_codespaces.settings import store_dir

    store_dir().write("fallback-store", b"contract\n")
    found = assembly.logins()
    assert isinstance(found, FallbackStore) and found.name == "contract"


def test_logout_forgets_a_stored_login_that_a_secret_covers(env: dict[str, str]) -> None:
    """The steps of the report: docker login, a secret for the same registry, docker logout,
    then the secret removed: `get` must not answer the login the user logged out of."""
    body = json.dumps({"ServerURL": "r.example", "Username": "u", "Secret": "CANARY-old"})
    assert run_helper(env, "store", stdin=body.encode()).returncode == 0
    add_secret(env, "R", "r.example", "su", "from-secret")
    erased = run_helper(env, "erase", stdin=b"r.example")
    assert (erased.returncode, erased.stdout) == (0, b"")
    for name in list(env):
        if name.startswith("R_CONTAINER_REGISTRY_"):
            del env[name]
    result = run_helper(env, "get", stdin=b"r.example")
    assert result.returncode == 1
    assert result.stdout == b"credentials not found in native keychain\n"
