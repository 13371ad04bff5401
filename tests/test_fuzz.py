# ruff: noqa: S311  (seeded randomness chooses test cases; nothing here is cryptographic)
"""Hostile input: generated stdin for every verb, and server-name matching as properties.

Whatever a caller pipes in (random bytes, almost-valid or monstrous JSON, NUL bytes, bytes
that are not UTF-8, any Unicode category in a server URL, nothing at all), the helper must
answer as docker expects: exit 0 or 1, at most one line on stdout that is JSON on success,
never a traceback, and every login stored before the request is still there afterwards.

Host matching is checked against an independent parse (urllib.parse): a request answered with a
registry's credentials must name that registry's host and port, and every look-alike
construction of a registry's name is never answered.

The default run is modest; `-m deep` runs more than 10,000 generated cases:

    .venv/bin/python -m pytest tests/test_fuzz.py -m deep
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Callable, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beds.aws import FakeECR, endpoint_env
from beds.client import HELPER, interpreter_command, run_command, run_helper
from beds.environment import add_secret, isolated_environ
from beds.values import AWS_KEYS, ECR_HOST, HUB, KEY_ID, SECRET_KEY, TOKEN_HOST, store_body
from docker_credential_codespaces.chain import chain
from docker_credential_codespaces.servers import docker_key
from docker_credential_codespaces.wire import serve

VERBS = ("get", "store", "erase", "list", "version")
CAP = 1024 * 1024
HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")
OAUTH_KEYS = (
    "https://index.docker.io/v1/access-token",
    "https://index.docker.io/v1/refresh-token",
)

# Registries a secret covers in the fuzz environment, and what each answers.
SECRETS = {
    "ghcr.io": ("GH", "octocat", "secret-ghcr"),
    "myco.azurecr.io": ("AZ", "azuser", "secret-azure"),
    "localhost:5000": ("LOCAL", "localuser", "secret-local"),
    TOKEN_HOST: ("ECRTOKEN", "AWS", "opaque-ecr-token"),
    ECR_HOST: ("ECR", KEY_ID, SECRET_KEY),
}
# Logins stored before every example; each must survive anything but its own store or erase.
SEEDS = {
    "seed.example": ("seeduser", "seed-secret-1"),
    "seed.example:8443": ("seedport", "seed-secret-2"),
    HUB: ("hubuser", "seed-hub-secret"),
    OAUTH_KEYS[0]: ("oauth", "seed-access-token"),
}
KNOWN_NAMES = (
    *SECRETS,
    *SEEDS,
    *HUB_HOSTS,
    "public.ecr.aws",
    "https://ghcr.io/v2/octo/app",
    "http://seed.example",
    "SEED.EXAMPLE:8443/ns/repo",
    "[::1]:5000",
    "127.0.0.1:5000",
    "https://index.docker.io/v1/refresh-token",
)

# Every Unicode general category, surrogates and unassigned code points included.
CATEGORIES = (
    "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe",
    "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn",
)  # fmt: skip

IN_PROCESS_EXAMPLES = 300  # per verb: 1,500 cases in the default run
EXECUTABLE_EXAMPLES = 20  # per verb, through the real executable
DEEP_IN_PROCESS_EXAMPLES = 2200  # per verb: 11,000 cases
DEEP_EXECUTABLE_EXAMPLES = 200  # per verb: 1,000 processes

# How many cases each test really ran, printed at the end of the module (pytest -s shows it).
CASES: dict[str, int] = {}


# --- strategies ------------------------------------------------------------------------------


def any_char() -> st.SearchStrategy[str]:
    """One character of a chosen Unicode category, so rare categories are drawn as often."""
    return st.sampled_from(CATEGORIES).flatmap(lambda c: st.characters(categories=[c]))


URL_JUNK = st.sampled_from(list(".-_:[]@%\\/?#~!$&'()*+,;= \t\n\x00\x7f"))


@st.composite
def server_urls(draw: st.DrawFn) -> str:
    """Server names a client could send, near misses of them, and junk in every category."""
    scheme = draw(
        st.sampled_from(
            ["", "", "", "https://", "http://", "HTTPS://", "HtTp://", "ftp://", "https:/",
             "//", "file:///", "docker://", "https:\\\\", "\u0068ttps://"]
        )
    )  # fmt: skip
    userinfo = draw(st.sampled_from(["", "", "", "", "user@", "u:p@", "@", "seed.example@"]))
    host = draw(
        st.one_of(
            st.sampled_from(KNOWN_NAMES),
            st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789.-_"), max_size=25),
            st.text(st.one_of(any_char(), URL_JUNK), max_size=25),
            st.sampled_from(KNOWN_NAMES).flatmap(mutated_text),
        )
    )
    port = draw(
        st.sampled_from(
            ["", "", "", ":5000", ":8443", ":0", ":65536", ":", ":05000", ":+1", ":\u0665", ":443"]
        )
    )
    path = draw(
        st.one_of(
            st.sampled_from(["", "", "/", "//", "/v1/", "/v1/access-token", "/ns/repo", "/.."]),
            st.text(st.one_of(any_char(), URL_JUNK), max_size=15).map(lambda t: "/" + t),
        )
    )
    tail = draw(st.sampled_from(["", "", "", "?x=1", "#frag", "\\evil.example", "%2f", "."]))
    padding = draw(st.sampled_from(["", "", " ", "\n", "\t \r\n", "\u00a0", "\u2028", "\x00"]))
    text = f"{padding}{scheme}{userinfo}{host}{port}{path}{tail}{padding[::-1]}"
    if draw(st.booleans()):
        text = mixed_case(text, draw(st.randoms(use_true_random=False)), ascii_only=False)
    return text


def mutated_text(text: str) -> st.SearchStrategy[str]:
    """`text` with one character inserted, replaced or deleted somewhere."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        index = draw(st.integers(0, len(text)))
        char = draw(st.one_of(any_char(), URL_JUNK))
        how = draw(st.sampled_from(["insert", "replace", "delete"]))
        if how == "insert":
            return text[:index] + char + text[index:]
        if how == "replace":
            return text[:index] + char + text[index + 1 :]
        return text[:index] + text[index + 1 :]

    return build()


def mixed_case(text: str, rng: random.Random, ascii_only: bool = True) -> str:
    """Random upper and lower case; only ASCII letters unless asked, since Unicode case
    mapping can turn a look-alike into the real name (dotless i, Kelvin sign, long s)."""
    return "".join(
        (c.upper() if rng.random() < 0.5 else c.lower()) if c.isascii() or not ascii_only else c
        for c in text
    )


def encoded(text: str) -> bytes:
    """UTF-8, with surrogates passed through as the (invalid) bytes they would be."""
    return text.encode("utf-8", "surrogatepass")


NOT_UTF8 = st.sampled_from(
    [b"\xff", b"\xfe\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80", b"\xe2\x82"]
)


@st.composite
def server_url_bytes(draw: st.DrawFn) -> bytes:
    """A server name as bytes, sometimes with NUL or non-UTF-8 bytes spliced in."""
    data = encoded(draw(server_urls()))
    splice = draw(st.sampled_from([None, None, b"\x00", NOT_UTF8]))
    if splice is not None:
        piece = splice if isinstance(splice, bytes) else draw(splice)
        index = draw(st.integers(0, len(data)))
        data = data[:index] + piece + data[index:]
    return data


def huge_inputs() -> st.SearchStrategy[bytes]:
    """Inputs at, just below and just above the 1 MiB cap, and nesting as deep as it fits."""
    sizes = st.sampled_from([CAP - 1, CAP, CAP + 1, 4 * CAP, 200_000])
    depth = st.sampled_from([1000, 100_000, 500_000, CAP // 2 + 1])
    return st.one_of(
        sizes.map(lambda n: b"[" * (n // 2) + b"]" * (n - n // 2)),
        depth.map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
        depth.map(
            lambda n: (
                b'{"ServerURL":"r.example","Username":"u","Secret":"s","x":'
                + b"[" * n
                + b"]" * n
                + b"}"
            )
        ),
        sizes.map(lambda n: b"a" * n),
        sizes.map(lambda n: b" " * (n - len(b"seed.example")) + b"seed.example"),
        sizes.map(
            lambda n: b'{"ServerURL":"r.example","Username":"u","Secret":"' + b"s" * n + b'"}'
        ),
        sizes.map(lambda n: b"\x00" * n),
    )


def json_values(depth: int = 3) -> st.SearchStrategy[object]:
    """Any JSON value, with strings from every Unicode category (lone surrogates included)."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(any_char(), max_size=20),
        server_urls(),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=depth * 3,
    )


@st.composite
def store_requests(draw: st.DrawFn) -> bytes:
    """Valid and almost-valid store requests: wrong types, extra keys, broken JSON."""
    request: dict[str, object] = {}
    for field in ("ServerURL", "Username", "Secret"):
        choice = draw(st.integers(0, 9))
        if choice == 0:
            continue  # missing
        if choice == 1:
            request[field] = draw(json_values())
        elif field == "ServerURL":
            request[field] = draw(server_urls())
        else:
            request[field] = draw(st.one_of(st.text(any_char(), max_size=30), st.just("")))
    if draw(st.booleans()):
        request.update(draw(st.dictionaries(st.text(max_size=8), json_values(), max_size=3)))
    text = json.dumps(request, ensure_ascii=draw(st.booleans()))
    damage = draw(
        st.sampled_from(
            ["none", "none", "none", "truncate", "flip", "insert", "bom", "trailing", "dup",
             "surrogate", "single-quotes", "nan", "bigint"]
        )
    )  # fmt: skip
    data = encoded(text)
    if damage == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif damage == "flip" and data:
        index = draw(st.integers(0, len(data) - 1))
        data = data[:index] + bytes([draw(st.integers(0, 255))]) + data[index + 1 :]
    elif damage == "insert":
        index = draw(st.integers(0, len(data)))
        data = data[:index] + draw(st.binary(min_size=1, max_size=4)) + data[index:]
    elif damage == "bom":
        data = b"\xef\xbb\xbf" + data
    elif damage == "trailing":
        data += draw(st.sampled_from([b"x", b"}", b"\x00", b"\n\n{}", b" "]))
    elif damage == "dup":
        data = data.replace(b"{", b'{"ServerURL":"seed.example","ServerURL":7,', 1)
    elif damage == "surrogate":
        data = data.replace(b'":', b'\\udc80":', 1).replace(b'"', b'"\\ud800', 2)
    elif damage == "single-quotes":
        data = data.replace(b'"', b"'")
    elif damage == "nan":
        data = data.replace(b"{", b'{"n":NaN,"i":-Infinity,', 1)
    elif damage == "bigint":
        data = data.replace(b"{", b'{"n":' + b"9" * 5000 + b",", 1)
    return data


def stdin_for(verb: str) -> st.SearchStrategy[bytes]:
    """Everything a hostile caller could pipe into `verb`."""
    common = st.one_of(
        st.just(b""),
        st.sampled_from([b" ", b"\n", b"\x00", b"\t\r\n ", b"\xef\xbb\xbf"]),
        st.binary(max_size=200),
        st.binary(max_size=40).map(lambda b: b + b"\x00" + b"seed.example"),
    )
    if verb == "store":
        specific = st.one_of(store_requests(), store_requests(), store_requests())
    else:
        specific = st.one_of(server_url_bytes(), server_url_bytes(), store_requests())
    return st.one_of(common, specific, specific, specific, huge_inputs())


# --- the independent parse -------------------------------------------------------------------


def independent_registry(name: str) -> Optional[tuple[str, Optional[int]]]:
    """(host, port) that `name` names by urllib.parse, with Docker Hub's aliases as one.

    Docker trims whitespace from the request, so it is trimmed here too. None when urllib
    cannot find a host.
    """
    text = name.strip()
    if "://" not in text:
        text = "//" + text
    try:
        parts = urllib.parse.urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    if host in HUB_HOSTS and port is None:
        return ("docker hub", None)
    return host, port


def is_plain(name: str) -> bool:
    """What the README promises is the only shape ever answered: plain printable ASCII."""
    text = name.strip()
    return (
        text.isascii()
        and text.isprintable()
        and not any(c in text for c in "@?#\\% ")
        and not any(ord(c) < 32 for c in text)
    )


# --- the environment -------------------------------------------------------------------------


def fuzz_environ(root: Path, fake_url: str) -> dict[str, str]:
    """A private environment with a few secrets, the ECR exchange pointed at FakeECR."""
    values = isolated_environ(root)
    values.update(
        # Every AWS call goes to the loopback fake; nothing may ever leave the machine.
        AWS_ENDPOINT_URL=fake_url,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    values.update(endpoint_env(fake_url))
    for server, (prefix, user, password) in SECRETS.items():
        add_secret(values, prefix, server, user, password)
    return values


_ENVIRON_LOCK = threading.Lock()


@contextlib.contextmanager
def applied_environ(values: dict[str, str]) -> Iterator[None]:
    """os.environ replaced by `values` for the block: the helper reads it at every request."""
    with _ENVIRON_LOCK:
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(values)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One environment for a whole property test: hypothesis runs many examples in it, so
    its FakeECR (knowing `beds.values.AWS_KEYS`) serves the whole module."""
    with FakeECR(AWS_KEYS) as fake:
        yield fuzz_environ(tmp_path_factory.mktemp("fuzz"), fake.endpoint_url)


def run_in_process(verb: str, data: bytes) -> tuple[int, str, str]:
    """serve() on byte streams, with stderr captured; any exception escaping it fails."""
    out = io.StringIO()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = serve(chain(), ["docker-credential-codespaces", verb], io.BytesIO(data), out)
    return code, out.getvalue(), err.getvalue()


def seed(runner: Callable[[str, bytes], tuple[int, str, str]]) -> None:
    for key, (user, secret) in SEEDS.items():
        assert runner("store", store_body(key, user, secret))[0] == 0


def oauth_path(name: str) -> Optional[str]:
    """The Hub OAuth key's path that `name` names (any scheme, trailing slashes), or None."""
    named = independent_registry(name)
    if named != ("docker hub", None):
        return None
    text = name.strip()
    path = urllib.parse.urlsplit(text if "://" in text else "//" + text).path.rstrip("/")
    return path if path in ("/v1/access-token", "/v1/refresh-token") else None


def names_seed(name: str, key: str) -> bool:
    """Whether a request for `name` addresses the seeded login under `key`."""
    if key in OAUTH_KEYS:
        return oauth_path(name) == urllib.parse.urlsplit(key).path
    return independent_registry(name) == independent_registry(key) and oauth_path(name) is None


def addressed_name(verb: str, data: bytes) -> Optional[str]:
    """The server a store or erase request names, if any."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if verb == "store":
        try:
            request = json.loads(text)
        except (ValueError, RecursionError):
            return None
        server = request.get("ServerURL") if isinstance(request, dict) else None
        text = server if isinstance(server, str) else ""
    return text


def check_answer(verb: str, data: bytes, code: int, stdout: str, stderr: str) -> None:
    """The protocol's promises for one run, whatever the input."""
    assert code in (0, 1), (verb, data[:200], code)
    assert "Traceback" not in stderr, stderr
    assert "Traceback" not in stdout, stdout
    lines = stdout.splitlines()
    assert len(lines) <= 1 and (not stdout or stdout.endswith("\n")), repr(stdout[:500])
    assert stdout.count("\n") <= 1, repr(stdout[:500])
    if code == 0 and verb in ("get", "list"):
        answer = json.loads(stdout)
        assert isinstance(answer, dict)
    if code == 1:
        assert stdout.strip(), "a failure must say why on stdout"
    if code == 0 and verb in ("store", "erase"):
        assert stdout == ""
    if code == 0 and verb == "get":
        check_get_answer(data, json.loads(stdout))


def check_get_answer(data: bytes, answer: dict[str, str]) -> None:
    """A successful get echoes the request and answers with the credentials of its host."""
    request = data.decode("utf-8").strip()
    assert answer["ServerURL"] == request
    assert is_plain(request), request
    named = independent_registry(request)
    pair = (answer["Username"], answer["Secret"])
    owners = [
        server
        for server, (_prefix, user, password) in SECRETS.items()
        if (user, password) == pair
        or (server == ECR_HOST and pair[0] == "AWS" and pair[1].startswith("fake-ecr-"))
    ]
    if oauth_path(request):
        assert pair != SEEDS[HUB], request
    owners += [
        key for key, login in SEEDS.items() if login == (answer["Username"], answer["Secret"])
    ]
    if not owners:  # a login stored by an earlier generated request: its host is unknown
        return
    assert any(
        names_seed(request, owner) if owner in SEEDS else named == independent_registry(owner)
        for owner in owners
    ), (request, owners)


def check_seeds(
    runner: Callable[[str, bytes], tuple[int, str, str]], verb: str, data: bytes, code: int
) -> None:
    """Every seeded login is intact, unless this very request stored or erased its registry."""
    listed = json.loads(runner("list", b"")[1])
    named = addressed_name(verb, data) if code == 0 and verb in ("store", "erase") else None
    reseed = False
    for key, (_user, secret) in SEEDS.items():
        got = runner("get", key.encode())
        intact = got[0] == 0 and json.loads(got[1])["Secret"] == secret and key in listed
        if not intact:
            assert named is not None and names_seed(named, key), (key, verb, data[:300], got)
            reseed = True
    if reseed:
        seed(runner)


def fuzz_one(verb: str, data: bytes) -> None:
    code, stdout, stderr = run_in_process(verb, data)
    check_answer(verb, data, code, stdout, stderr)
    check_seeds(run_in_process, verb, data, code)


# --- the protocol fuzz -----------------------------------------------------------------------

FUZZ_SETTINGS = {
    "deadline": None,
    "database": None,
    "suppress_health_check": list(HealthCheck),
}


def in_process_fuzz(verb: str, env: dict[str, str], examples: int) -> int:
    count = 0

    @settings(max_examples=examples, **FUZZ_SETTINGS)  # type: ignore[arg-type]
    @given(data=stdin_for(verb))
    def run(data: bytes) -> None:
        nonlocal count
        count += 1
        fuzz_one(verb, data)

    with applied_environ(env):
        seed(run_in_process)
        run()
    return count


@pytest.mark.parametrize("verb", VERBS)
def test_fuzz_in_process(verb: str, fuzz_env: dict[str, str]) -> None:
    """serve() with generated stdin keeps every promise of the protocol."""
    CASES[f"in-process {verb}"] = in_process_fuzz(verb, fuzz_env, IN_PROCESS_EXAMPLES)


@pytest.fixture
def deep_only(request: pytest.FixtureRequest) -> None:
    """The deep run only when asked for with `-m deep`, even where addopts does not exclude it."""
    expression = request.config.option.markexpr or ""
    if "deep" not in expression or "not deep" in expression:
        pytest.skip("the deep fuzz run is on demand: pytest -m deep tests/test_fuzz.py")


@pytest.mark.deep
@pytest.mark.usefixtures("deep_only")
@pytest.mark.parametrize("verb", VERBS)
def test_fuzz_in_process_deep(verb: str, fuzz_env: dict[str, str]) -> None:
    """The same with over 10,000 cases in all; on demand (`-m deep`)."""
    CASES[f"deep in-process {verb}"] = in_process_fuzz(verb, fuzz_env, DEEP_IN_PROCESS_EXAMPLES)


def run_executable(env: dict[str, str], verb: str, data: bytes) -> tuple[int, str, str]:
    result = run_helper(env, verb, stdin=data, timeout=30)
    return (
        result.returncode,
        result.stdout.decode("utf-8", "surrogateescape"),
        result.stderr.decode("utf-8", "replace"),
    )


def executable_fuzz(verb: str, env: dict[str, str], examples: int) -> int:
    count = 0

    @settings(max_examples=examples, **FUZZ_SETTINGS)  # type: ignore[arg-type]
    @given(data=stdin_for(verb))
    def run(data: bytes) -> None:
        nonlocal count
        count += 1
        code, stdout, stderr = run_executable(env, verb, data)
        check_answer(verb, data, code, stdout, stderr)
        listed = json.loads(run_executable(env, "list", b"")[1])
        named = addressed_name(verb, data) if code == 0 and verb in ("store", "erase") else None
        for key in set(SEEDS) - set(listed):
            assert named is not None and names_seed(named, key), (key, verb, data[:300])
            user, secret = SEEDS[key]
            body = json.dumps({"ServerURL": key, "Username": user, "Secret": secret}).encode()
            assert run_executable(env, "store", body)[0] == 0

    seed(lambda v, d: run_executable(env, v, d))
    run()
    return count


@pytest.mark.parametrize("verb", VERBS)
def test_fuzz_executable(verb: str, fuzz_env: dict[str, str]) -> None:
    """The real executable, as docker runs it, with fewer generated cases."""
    CASES[f"executable {verb}"] = executable_fuzz(verb, fuzz_env, EXECUTABLE_EXAMPLES)


@pytest.mark.deep
@pytest.mark.usefixtures("deep_only")
@pytest.mark.parametrize("verb", VERBS)
def test_fuzz_executable_deep(verb: str, fuzz_env: dict[str, str]) -> None:
    CASES[f"deep executable {verb}"] = executable_fuzz(verb, fuzz_env, DEEP_EXECUTABLE_EXAMPLES)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"\xff\xfe", b"seed.example\x00evil", b"[" * 600_000, b'{"a":' * 200_000],
    ids=["empty", "nul", "not-utf8", "nul-inside", "deep-list", "deep-object"],
)
@pytest.mark.parametrize("verb", VERBS)
def test_fixed_hostile_inputs(verb: str, data: bytes, fuzz_env: dict[str, str]) -> None:
    """The classic cases, always run, whatever hypothesis happens to draw."""
    with applied_environ(fuzz_env):
        seed(run_in_process)
        fuzz_one(verb, data)


def test_error_line_survives_an_ascii_stdout(fuzz_env: dict[str, str]) -> None:
    """An error must be one line whatever stdout's encoding. The executable's own interpreter
    and options run its script here, with UTF-8 mode off and the C locale: stdout is ASCII."""
    command = [*interpreter_command(), "-X", "utf8=0", str(HELPER)]
    env = dict(fuzz_env, LC_ALL="C")
    for verb, data in (
        ("erase", "r.exampl\u00e9".encode()),
        ("store", json.dumps({"ServerURL": "\u00e9@x", "Username": "u"}).encode()),
    ):
        result = run_command([*command, verb], env, data, timeout=30)
        assert b"Traceback" not in result.stderr
        assert (result.returncode, result.stdout.count(b"\n")) == (1, 1)


# --- host matching as properties -------------------------------------------------------------

LABEL = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789"), min_size=1, max_size=8)


@st.composite
def registries(draw: st.DrawFn) -> str:
    """A normalised server: a DNS name, IPv4 or IPv6 address, with or without a port."""
    kind = draw(st.sampled_from(["dns", "dns", "dns", "ipv4", "ipv6", "known"]))
    if kind == "known":
        host = draw(st.sampled_from(["ghcr.io", "myco.azurecr.io", "localhost", ECR_HOST]))
    elif kind == "ipv4":
        host = ".".join(str(draw(st.integers(0, 255))) for _ in range(4))
    elif kind == "ipv6":
        host = draw(st.sampled_from(["[::1]", "[fe80::1]", "[2001:db8::42]"]))
    else:
        labels = draw(st.lists(LABEL, min_size=2, max_size=4))
        host = ".".join(labels)
        if host in HUB_HOSTS:
            host = "x" + host
    if draw(st.booleans()):
        host += f":{draw(st.integers(1, 65535))}"
    key = docker_key(host)
    assert key == host, host  # a normalised name is its own key
    return host


CONFUSABLES = {
    "a": ["\u0430", "\uff41", "\u1d00"],
    "c": ["\u0441", "\u217d"],
    "e": ["\u0435", "\u212e"],
    "i": ["\u0456", "\u0131", "\u1d09"],
    "k": ["\u212a", "\u043a"],
    "o": ["\u043e", "\u03bf", "\u2134"],
    "p": ["\u0440"],
    "s": ["\u0455", "\u017f"],
    "x": ["\u0445"],
    "y": ["\u0443"],
    "1": ["\u0661", "\uff11"],
    ".": ["\u3002", "\uff0e", "\u2024"],
}


def lookalikes(hostport: str, rng: random.Random) -> list[str]:
    """Constructions around a registry's name that must never get its credentials."""
    evil = "evil.example"
    if hostport.startswith("["):
        host, port = hostport[: hostport.index("]") + 1], hostport[hostport.index("]") + 2 :]
    else:
        host, _, port = hostport.partition(":")
    with_port = (lambda h: f"{h}:{port}") if port else (lambda h: h)
    forms = [
        # suffixes and prefixes
        f"{hostport}.{evil}", f"{hostport}{evil}", f"{hostport}-evil", with_port(f"{host}.{evil}"),
        with_port(f"{host}-x"), with_port(f"{host}x"), f"{evil}.{hostport}", f"evil{hostport}",
        with_port(f"x{host}"), with_port(f"-{host}"), with_port(f".{host}"), f"{hostport}0",
        f"{hostport}:1", with_port(f"{host}..") ,
        # userinfo
        f"{hostport}@{evil}", f"https://{hostport}@{evil}", f"user@{hostport}",
        f"user:pw@{hostport}", f"https://u:p@{hostport}", f"https://{hostport}:pw@{evil}",
        f"@{hostport}",
        # paths
        f"{evil}/{hostport}", f"https://{evil}/https://{hostport}", f"{evil}//{hostport}",
        f"/{hostport}", f"https:///{hostport}",
        # query and fragment
        f"{hostport}?x=1", f"{hostport}?", f"{evil}?{hostport}", f"{hostport}?@{evil}",
        f"{hostport}#x", f"{hostport}#", f"{evil}#{hostport}", f"https://{evil}#@{hostport}",
        # backslashes
        f"{hostport}\\{evil}", f"{evil}\\{hostport}", f"https://{hostport}\\@{evil}",
        f"https:\\\\{hostport}", f"https://{evil}\\{hostport}",
        # percent-encoding
        f"{hostport}%2f{evil}", f"{hostport}%00", f"{hostport}%2e", f"{hostport}%40{evil}",
        # trailing dot
        with_port(f"{host}."), f"{hostport}.",
        # whitespace and control characters inside
        f"{hostport} {evil}", f"{hostport}\x00", f"{hostport}\t{evil}", f"{evil}\n{hostport}",
    ]  # fmt: skip
    if not host.startswith("["):
        for index, char in enumerate(host):
            forms.append(with_port(host[:index] + f"%{ord(char):02x}" + host[index + 1 :]))
            forms.append(with_port(host[:index] + f"%{ord(char):02X}" + host[index + 1 :]))
            for confusable in CONFUSABLES.get(char, []):
                idn = host[:index] + confusable + host[index + 1 :]
                forms.append(with_port(idn))
                try:
                    forms.append(with_port(idn.encode("idna").decode("ascii")))
                except UnicodeError:
                    pass
        forms.append(with_port(".".join("xn--" + label for label in host.split("."))))
        forms.append(with_port("xn--" + host.replace(".", "-")))
    # IDNA maps some confusables (fullwidth dot and digits) back to the real name: not a
    # look-alike then.
    forms = [form for form in forms if form.lower() != hostport.lower()]
    # Mixed case in the parts that are not the host.
    forms += [mixed_case(form, rng) for form in list(forms)]
    forms += [f"HTTPS://{mixed_case(evil, rng)}/{hostport}", f"{hostport}@{evil.upper()}"]
    return forms


def same_registry_variants(hostport: str, rng: random.Random) -> list[str]:
    """Names of the very same registry that must be answered: scheme, case, path, slashes."""
    variants = []
    for scheme in ("", "http://", "https://", "HTTPS://", "HtTpS://"):
        for path in ("", "/", "//", "/v2/", "/ns/repo", "/NS/Repo:Tag"):
            variants.append(f"{scheme}{hostport}{path}")
    variants += [hostport.upper(), mixed_case(hostport, rng), f"  {hostport}\n"]
    return variants


@settings(max_examples=300, **FUZZ_SETTINGS)  # type: ignore[arg-type]
@given(server=registries(), request=st.one_of(server_urls(), st.text(max_size=40)))
def test_answered_only_for_the_same_host_and_port(server: str, request: str) -> None:
    """For any S and T: T gets S's credentials only if T names S's host and port."""
    CASES["host matching: random T"] = CASES.get("host matching: random T", 0) + 1
    if docker_key(request) == docker_key(server):
        assert is_plain(request), request
        assert independent_registry(request) == independent_registry(server), (server, request)


@settings(max_examples=80, **FUZZ_SETTINGS)  # type: ignore[arg-type]
@given(server=registries(), rng=st.randoms(use_true_random=False), data=st.data())
def test_derived_names_match_only_the_same_host(
    server: str, rng: random.Random, data: st.DataObject
) -> None:
    """T derived from S by one edit: answered only when the independent parse agrees."""
    CASES["host matching: derived T"] = CASES.get("host matching: derived T", 0) + 1
    for _ in range(20):
        request = data.draw(mutated_text(server))
        if docker_key(request) == server:
            assert independent_registry(request) == independent_registry(server), request


@pytest.mark.slow  # hundreds of executable runs: on the main Python only (tests/run.sh)
@settings(max_examples=50, **FUZZ_SETTINGS)  # type: ignore[arg-type]
@given(server=registries(), rng=st.randoms(use_true_random=False))
def test_lookalikes_are_never_answered(server: str, rng: random.Random) -> None:
    """Every look-alike construction around S is refused; S's own variants are not."""
    forms = lookalikes(server, rng)
    CASES["host matching: look-alikes"] = CASES.get("host matching: look-alikes", 0) + len(forms)
    answered = [form for form in forms if docker_key(form) == server]
    assert answered == [], (server, answered)
    missed = [v for v in same_registry_variants(server, rng) if docker_key(v) != server]
    assert missed == [], (server, missed)


HUB_VARIANTS = [
    f"{scheme}{host}{path}"
    for scheme in ("", "http://", "https://", "HTTPS://", "Https://")
    for host in (*HUB_HOSTS, "INDEX.DOCKER.IO", "Docker.Io")
    for path in ("", "/", "//", "/v1", "/v1/", "/v1//", "/v2/", "/library/alpine")
]
OAUTH_VARIANTS = [
    f"{scheme}{host}{path}{slashes}"
    for scheme in ("", "http://", "https://", "HTTPS://", "Https://")
    for host in (*HUB_HOSTS, "INDEX.DOCKER.IO")
    for path in ("/v1/access-token", "/v1/refresh-token")
    for slashes in ("", "/", "//", "///")
]


def test_hub_aliases_under_every_scheme_and_slash() -> None:
    """Every Hub name, scheme and trailing slash is the one Hub registry."""
    assert {variant: docker_key(variant) for variant in HUB_VARIANTS} == dict.fromkeys(
        HUB_VARIANTS, HUB
    )


def test_oauth_keys_are_never_hub_under_every_scheme_and_slash() -> None:
    """docker's OAuth bookkeeping keys never resolve to the Hub's credentials."""
    assert {variant: docker_key(variant) for variant in OAUTH_VARIANTS} == dict.fromkeys(
        OAUTH_VARIANTS
    )


def test_hub_and_oauth_end_to_end(env: dict[str, str]) -> None:
    """Through `get`: Hub aliases get the Hub secret, OAuth keys never do."""
    add_secret(env, "HUB", "docker.io", "hubuser", "hub-secret-value")
    body = json.dumps({"ServerURL": OAUTH_KEYS[0], "Username": "at", "Secret": "access-tok"})
    assert run_helper(env, "store", stdin=body.encode()).returncode == 0
    rng = random.Random(7)
    for variant in rng.sample(HUB_VARIANTS, 12):
        answer = json.loads(run_helper(env, "get", stdin=variant.encode()).stdout)
        assert answer["Secret"] == "hub-secret-value", variant
    for variant in rng.sample(OAUTH_VARIANTS, 12):
        result = run_helper(env, "get", stdin=variant.encode())
        assert b"hub-secret-value" not in result.stdout, variant
        if result.returncode == 0:
            assert json.loads(result.stdout)["Secret"] == "access-tok", variant
        else:
            assert result.stdout == b"credentials not found in native keychain\n", variant


@pytest.mark.parametrize("server", ["ghcr.io", "localhost:5000", "[::1]:5000"])
def test_lookalikes_end_to_end(server: str, fuzz_env: dict[str, str]) -> None:
    """Through serve(): no look-alike of a secret's registry gets its password."""
    env = dict(fuzz_env)
    add_secret(env, "A0TARGET", server, "target-user", "target-secret")
    forms = lookalikes(server, random.Random(server))
    CASES["host matching: end-to-end look-alikes"] = CASES.get(
        "host matching: end-to-end look-alikes", 0
    ) + len(forms)
    with applied_environ(env):
        for form in forms:
            code, stdout, _stderr = run_in_process("get", encoded(form))
            assert "target-secret" not in stdout, form
        for variant in same_registry_variants(server, random.Random(1)):
            code, stdout, _stderr = run_in_process("get", encoded(variant))
            assert code == 0 and json.loads(stdout)["Secret"] == "target-secret", variant
    # And a sample through the real executable.
    env_exec = dict(env)
    for form in random.Random(3).sample(forms, 8):
        result = run_helper(env_exec, "get", stdin=encoded(form))
        assert b"target-secret" not in result.stdout, form


def test_print_case_counts() -> None:
    """Not a check: prints how many generated cases this module ran (visible with -s)."""
    for name, count in sorted(CASES.items()):
        print(f"{name}: {count} cases", file=sys.stderr)
