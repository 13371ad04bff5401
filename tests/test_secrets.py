"""secrets.py: the one scan (which triple answers which docker key, and why every
other triple does not), in process with tables; then the secrets from the environment laid
over the Codespaces secrets file, read at each request, through the executable."""

from __future__ import annotations

import base64
import json
import os
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from beds.client import run_helper
from beds.environment import add_secret, write_secrets_file
from beds.values import ECR_HOST as ECR
from beds.values import KEY_ID
from docker_credential_codespaces import secrets
from docker_credential_codespaces.ecr.answer import RegistryToken
from docker_credential_codespaces.ecr.cache import Outcome, cache_key, open_cache
from docker_credential_codespaces.ecr.token import Token
from docker_credential_codespaces.secrets import (
    INCOMPLETE,
    MISPLACED_KEY,
    NO_HOST,
    SHADOWED,
    scan,
)
from docker_credential_codespaces.servers import docker_key, host_part
from docker_credential_codespaces.settings import cache_dir
from docker_credential_codespaces.wire import Credential, Declined, HelperError

# (triples as (prefix, server, user, password); None leaves a part unset),
# docker key -> prefix that answers, prefix -> reason it does not.
CASES = [
    pytest.param([("A", "ghcr.io", "u", "p")], {"ghcr.io": "A"}, {}, id="one"),
    pytest.param(
        [("B", "ghcr.io", "u", "p"), ("A", "https://ghcr.io/ns", "u", "p")],
        {"ghcr.io": "A"},
        {"B": SHADOWED},
        id="first-prefix-wins",
    ),
    pytest.param([("A", "ghcr.io", "u", None)], {}, {"A": INCOMPLETE}, id="no-password"),
    pytest.param([("A", "ghcr.io", "", "p")], {}, {"A": INCOMPLETE}, id="empty-user"),
    pytest.param([("A", None, "u", "p")], {}, {"A": INCOMPLETE}, id="no-server"),
    pytest.param([("A", "host@evil", "u", "p")], {}, {"A": NO_HOST}, id="userinfo"),
    pytest.param([("A", "b\u00fccher.example", "u", "p")], {}, {"A": NO_HOST}, id="idn"),
    pytest.param([("A", ECR, KEY_ID, "s")], {ECR: "A"}, {}, id="ecr-access-key"),
    pytest.param([("A", ECR, "AWS", "tok")], {ECR: "A"}, {}, id="ecr-token"),
    pytest.param(
        [("A", "myhost.example", KEY_ID, "s")], {}, {"A": MISPLACED_KEY}, id="key-not-ecr"
    ),
    pytest.param(
        [("A", "myhost.example", KEY_ID + "\n", "s"), ("B", "myhost.example", "u", "p")],
        {"myhost.example": "B"},
        {"A": MISPLACED_KEY},
        id="misplaced-does-not-shadow",
    ),
    pytest.param(
        [("A", "docker.io", "u", "p"), ("B", "index.docker.io", "v", "q")],
        {"https://index.docker.io/v1/": "A"},
        {"B": SHADOWED},
        id="hub-aliases",
    ),
    pytest.param(
        [("A", "localhost:5000", "u", "p"), ("B", "localhost", "v", "q")],
        {"localhost:5000": "A", "localhost": "B"},
        {},
        id="port-kept",
    ),
]


@pytest.mark.parametrize(("triples", "answers", "passed_over"), CASES)
def test_which_triple_answers_and_why_not(
    use_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    triples: list[tuple[str, str | None, str | None, str | None]],
    answers: dict[str, str],
    passed_over: dict[str, str],
) -> None:
    for prefix, *parts in triples:
        for suffix, value in zip(("SERVER", "USER", "PASSWORD"), parts):
            if value is not None:
                monkeypatch.setenv(f"{prefix}_CONTAINER_REGISTRY_{suffix}", value)
    found = scan()
    assert {key: s.prefix for key, s in found.answers.items()} == answers
    assert {p.prefix: p.reason for p in found.passed_over} == passed_over
    # Asked for one key, the scan decides the same (only triples that could name it count).
    for key, prefix in answers.items():
        one = scan(key)
        assert list(one.answers) == [key] and one.answers[key].prefix == prefix
        assert all(p.key in (key, None) for p in one.passed_over)


# Every spelling the red team tried of an access key id for a host that is not ECR.
MISPLACED = [
    (user, server)
    for user in (KEY_ID, KEY_ID + "\n", KEY_ID + "\r", KEY_ID + " ", " " + KEY_ID)
    for server in ("myco.amazonaws.co", f"{ECR}:443", "12345678901.dkr.ecr.eu-west-1.amazonaws.com")
]


@pytest.mark.parametrize(("user", "server"), MISPLACED)
def test_an_access_key_is_never_answered_for_a_host_that_is_not_ecr(
    use_env: dict[str, str], user: str, server: str
) -> None:
    add_secret(use_env, "X", server, user, "CANARY-secret-key")
    import os

    os.environ.update(use_env)
    found = scan()
    assert found.answers == {}
    [skipped] = found.passed_over
    assert skipped.reason == MISPLACED_KEY
    assert "X_CONTAINER_REGISTRY_USER holds an AWS access key id" in skipped.message
    assert "CANARY" not in skipped.message


def test_ecr_values_are_trimmed_and_others_kept_as_written(
    use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS values never hold white space; a registry password may, and docker keeps it."""
    add_secret(use_env, "E", ECR, f" {KEY_ID}\n", "secret-key\r\n")
    add_secret(use_env, "R", "r.example", " user ", " pass\n")
    for name, value in use_env.items():
        monkeypatch.setenv(name, value)
    answers = scan().answers
    ecr = answers[ECR]
    assert ecr.aws is not None and (ecr.aws.key_id, ecr.aws.secret_key) == (KEY_ID, "secret-key")
    assert ecr.username() == "AWS"
    plain = answers["r.example"]
    assert plain.aws is None and (plain.user, plain.password) == (" user ", " pass\n")
    assert plain.username() == " user "


@pytest.mark.parametrize(
    ("user", "password", "said"),
    [
        (
            " ",
            "\n",
            "E_CONTAINER_REGISTRY_USER is empty and E_CONTAINER_REGISTRY_PASSWORD is empty",
        ),
        (" \t", "secret-key", "E_CONTAINER_REGISTRY_USER is empty,"),
        (KEY_ID, "\r\n", "E_CONTAINER_REGISTRY_PASSWORD is empty,"),
        (None, "secret-key", "E_CONTAINER_REGISTRY_USER is not set,"),
        (" ", None, "E_CONTAINER_REGISTRY_USER is empty and E_CONTAINER_REGISTRY_PASSWORD is not"),
    ],
)
def test_an_ecr_key_of_white_space_alone_is_empty(
    use_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    user: str | None,
    password: str | None,
    said: str,
) -> None:
    """ECR reads its key trimmed, so white space alone is a missing part, said as such; it is
    never taken for an AWS profile that no variable names. A part not set at all is said so."""
    add_secret(use_env, "E", ECR, user or "", password or "")
    for suffix, part in (("USER", user), ("PASSWORD", password)):
        if part is None:
            del use_env[f"E_CONTAINER_REGISTRY_{suffix}"]
    for name, value in use_env.items():
        monkeypatch.setenv(name, value)
    found = scan()
    assert found.answers == {}
    [skipped] = found.passed_over
    assert skipped.reason == INCOMPLETE and said in skipped.message
    assert "PROFILE" not in skipped.message


def test_the_secrets_file_splits_at_the_first_equals_and_keeps_padding(
    use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory
) -> None:
    """Shell loaders that split on every `=` lose base64 padding; the file reader does not."""
    import base64
    from pathlib import Path

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    path = Path(str(tmp_path)) / "env-secrets"
    path.write_text(
        f"F_CONTAINER_REGISTRY_SERVER={b64('f.example')}\n"
        f"F_CONTAINER_REGISTRY_USER={b64('ab')}\n"  # YWI= : one padding character
        f"F_CONTAINER_REGISTRY_PASSWORD={b64('a')}\n"  # YQ== : two
        "G_CONTAINER_REGISTRY_SERVER=not base64!\n"
    )
    monkeypatch.setenv("DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE", str(path))
    assert secrets.read_file(str(path)) == {
        "F_CONTAINER_REGISTRY_SERVER": "f.example",
        "F_CONTAINER_REGISTRY_USER": "ab",
        "F_CONTAINER_REGISTRY_PASSWORD": "a",
    }
    answer = scan("f.example").answers["f.example"]
    assert (answer.user, answer.password) == ("ab", "a")


@pytest.mark.parametrize(
    ("value", "decoded"),
    [
        (b"YWI=", b"ab"),
        (b"YQ==", b"a"),
        (b"", b""),
        (b"YWI", None),  # padding cut off
        (b"YW I=", None),  # a byte outside the alphabet is never skipped
        (b"YQ===", None),
        (b"Y===", None),
        (b"YQ==YQ==", None),
        (b"XXXX", b"]u\xd7"),  # an X at the end is data, never taken for padding
        (b"YWJj=", None),  # a length that is no multiple of 4, however little padding
        (b"YWJjZA===", None),
        (b"YQ======", None),  # four "=" too many, which a2b_base64 alone would take
    ],
)
def test_base64_is_read_strictly_on_every_python(value: bytes, decoded: bytes | None) -> None:
    assert secrets.strict_base64(value) == decoded


# --- through the executable ---------------------------------------------------------------


def get(env: dict[str, str], server: str) -> dict[str, str] | None:
    result = run_helper(env, "get", stdin=server.encode())
    return json.loads(result.stdout) if result.returncode == 0 else None


def test_secrets_file_serves_shells_without_the_variables(
    env: dict[str, str], tmp_path: Path
) -> None:
    secrets = tmp_path / "env-secrets"
    write_secrets_file(
        secrets,
        {
            "ACR_CONTAINER_REGISTRY_SERVER": "myco.azurecr.io",
            "ACR_CONTAINER_REGISTRY_USER": "robot",
            "ACR_CONTAINER_REGISTRY_PASSWORD": "pässwörd=with=equals\n",
            "OTHER_SECRET": "not a registry",
        },
        extra=b"garbage line without equals\nBAD_CONTAINER_REGISTRY_SERVER=!!notbase64!!\n\xff\xfe=x\n",
    )
    env["DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"] = str(secrets)
    answer = get(env, "myco.azurecr.io")
    assert answer is not None
    assert (answer["Username"], answer["Secret"]) == ("robot", "pässwörd=with=equals\n")


def test_environment_overrides_the_file(env: dict[str, str], tmp_path: Path) -> None:
    secrets = tmp_path / "env-secrets"
    write_secrets_file(
        secrets,
        {
            "ACR_CONTAINER_REGISTRY_SERVER": "myco.azurecr.io",
            "ACR_CONTAINER_REGISTRY_USER": "old-user",
            "ACR_CONTAINER_REGISTRY_PASSWORD": "old",
        },
    )
    env["DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"] = str(secrets)
    env["ACR_CONTAINER_REGISTRY_PASSWORD"] = "new"
    answer = get(env, "myco.azurecr.io")
    assert answer is not None and (answer["Username"], answer["Secret"]) == ("old-user", "new")


def test_rotated_file_applies_at_once(env: dict[str, str], tmp_path: Path) -> None:
    secrets = tmp_path / "env-secrets"
    env["DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"] = str(secrets)
    triple = {
        "X_CONTAINER_REGISTRY_SERVER": "r.example",
        "X_CONTAINER_REGISTRY_USER": "u",
        "X_CONTAINER_REGISTRY_PASSWORD": "one",
    }
    write_secrets_file(secrets, triple)
    assert get(env, "r.example") == {"ServerURL": "r.example", "Username": "u", "Secret": "one"}
    write_secrets_file(secrets, {**triple, "X_CONTAINER_REGISTRY_PASSWORD": "two"})
    assert get(env, "r.example") == {"ServerURL": "r.example", "Username": "u", "Secret": "two"}


def test_unreadable_or_odd_secrets_file_is_not_fatal(env: dict[str, str], tmp_path: Path) -> None:
    env["DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"] = str(tmp_path)  # a directory
    add_secret(env, "GH", "ghcr.io", "u", "p")
    assert get(env, "ghcr.io") is not None


def test_incomplete_triple_is_ignored_and_named_under_debug(env: dict[str, str]) -> None:
    env["ACR_CONTAINER_REGISTRY_SERVER"] = "myco.azurecr.io"
    env["ACR_CONTAINER_REGISTRY_USER"] = "CANARY-user-value"
    env["DOCKER_CREDENTIAL_CODESPACES_DEBUG"] = "1"
    result = run_helper(env, "get", stdin=b"myco.azurecr.io")
    assert result.stdout == b"credentials not found in native keychain\n"
    assert b"ACR_CONTAINER_REGISTRY_PASSWORD is not set" in result.stderr
    assert b"CANARY" not in result.stderr


def test_two_triples_for_one_registry_first_prefix_wins(env: dict[str, str]) -> None:
    add_secret(env, "B", "https://ghcr.io", "b-user", "b")
    add_secret(env, "A", "ghcr.io/", "a-user", "a")
    env["DOCKER_CREDENTIAL_CODESPACES_DEBUG"] = "1"
    result = run_helper(env, "get", stdin=b"ghcr.io")
    assert json.loads(result.stdout)["Username"] == "a-user"
    assert b"A_CONTAINER_REGISTRY_SERVER and B_CONTAINER_REGISTRY_SERVER both name ghcr.io" in (
        result.stderr
    )


def test_unparseable_server_is_skipped(env: dict[str, str]) -> None:
    add_secret(env, "BAD", "user@evil.example", "u", "p")
    add_secret(env, "OK", "ghcr.io", "u", "p")
    assert run_helper(env, "list", stdin=None).stdout == b'{"ghcr.io":"u"}\n'


def test_docker_hub_secret_answers_every_alias(env: dict[str, str]) -> None:
    add_secret(env, "HUB", "docker.io", "hubuser", "hubpw")
    for alias in (
        "https://index.docker.io/v1/",
        "docker.io",
        "index.docker.io",
        "registry-1.docker.io",
        "index.docker.io/library/alpine",
    ):
        answer = get(env, alias)
        assert answer is not None and answer["Username"] == "hubuser", alias
    for oauth in (
        "https://index.docker.io/v1/access-token",
        "https://index.docker.io/v1/refresh-token",
    ):
        assert get(env, oauth) is None


def test_environment_server_overrides_a_matching_file_server(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The file says ghcr.io, the environment moved the secret to quay.io: ghcr.io is unknown."""
    secrets = tmp_path / "env-secrets"
    write_secrets_file(
        secrets,
        {
            "X_CONTAINER_REGISTRY_SERVER": "ghcr.io",
            "X_CONTAINER_REGISTRY_USER": "u",
            "X_CONTAINER_REGISTRY_PASSWORD": "p",
        },
    )
    env["DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"] = str(secrets)
    env["X_CONTAINER_REGISTRY_SERVER"] = "quay.io"
    assert get(env, "ghcr.io") is None
    assert get(env, "quay.io") == {"ServerURL": "quay.io", "Username": "u", "Secret": "p"}


def test_many_triples_find_the_right_one(env: dict[str, str]) -> None:
    for index in range(300):
        add_secret(env, f"R{index:03d}", f"registry-{index}.example.com", f"u{index}", f"p{index}")
    answer = get(env, "registry-42.example.com")
    assert answer is not None and (answer["Username"], answer["Secret"]) == ("u42", "p42")
    assert get(env, "registry-4.example.com") == {
        "ServerURL": "registry-4.example.com",
        "Username": "u4",
        "Secret": "p4",
    }
    assert len(json.loads(run_helper(env, "list", stdin=None).stdout)) == 300


def test_the_bytes_scan_agrees_with_the_text_rules(
    use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `get` scans the environment as bytes; what it finds must be what the text rules find.

    Upper case, non-ASCII letters whose lower case is ASCII (the Kelvin sign), other scripts
    and bytes that are not UTF-8 (surrogate-escaped by os.environ) all decide the same way.
    """
    servers = {
        "UPPER": "REGISTRY.EXAMPLE.COM",
        "KELVIN": "\u212a8s.example.com",
        "IDN": "b\u00fccher.example",
        "MIXED": "https://Registry.Example.com:5000/v2/",
        "BROKEN": "bad\udcffbyte.example",
    }
    for prefix, server in servers.items():
        add_secret(use_env, prefix, server, f"user-{prefix}", f"pw-{prefix}")
    for name, value in use_env.items():
        monkeypatch.setenv(name, value)
    everything = scan().answers
    assert {s.prefix for s in everything.values()} == {"UPPER", "MIXED"}  # hosts must be ASCII
    assert set(everything) == {
        k for k in (docker_key(s) for s in servers.values()) if k is not None
    }
    keys = set(everything) | {"registry.example.com", "k8s.example.com"}
    for key in keys:
        expected = [s.prefix for k, s in everything.items() if k == key]
        assert [s.prefix for s in scan(key).answers.values()] == expected, key


def test_a_file_value_that_does_not_decode_is_named_under_debug(
    env: dict[str, str], tmp_path: Path
) -> None:
    secrets = tmp_path / "env-secrets"
    write_secrets_file(secrets, {"GH_CONTAINER_REGISTRY_SERVER": "ghcr.io"})
    with secrets.open("ab") as stream:
        stream.write(b"GH_CONTAINER_REGISTRY_USER=%%%not-base64\n")
        stream.write(b"GH_CONTAINER_REGISTRY_PASSWORD=" + base64.b64encode(b"\xff\xfe") + b"\n")
    env["DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"] = str(secrets)
    env["DOCKER_CREDENTIAL_CODESPACES_DEBUG"] = "1"
    result = run_helper(env, "get", stdin=b"ghcr.io")
    assert result.stdout == b"credentials not found in native keychain\n"
    for name in ("GH_CONTAINER_REGISTRY_USER", "GH_CONTAINER_REGISTRY_PASSWORD"):
        line = f"{name} in the secrets file is not base64 of UTF-8 text; ignoring it"
        assert line.encode() in result.stderr


def test_a_get_says_nothing_of_triples_for_other_registries(env: dict[str, str]) -> None:
    """A misplaced key for myexample.com is warned about when myexample.com is asked for,
    not on every pull from example.com (whose host its SERVER merely contains)."""
    add_secret(env, "LOOK", "myexample.com", "AKIAIOSFODNN7EXAMPLE", "CANARY-secret")
    add_secret(env, "HUB", "docker.io.example.com", "AKIAIOSFODNN7EXAMPLE", "CANARY-secret")
    for server in ("example.com", "docker.io", "https://index.docker.io/v1/"):
        result = run_helper(env, "get", stdin=server.encode())
        assert (result.stdout, result.stderr) == (
            b"credentials not found in native keychain\n",
            b"",
        ), server
    warned = run_helper(env, "get", stdin=b"myexample.com")
    assert b"LOOK_CONTAINER_REGISTRY_USER holds an AWS access key id" in warned.stderr
    assert b"CANARY" not in warned.stdout + warned.stderr


# --- the records a scan gives, whole: what `doctor` shows and `get` answers comes from them,
# so every field of every record is named here, messages to the letter.

PROFILE_HOST = "210987654321.dkr.ecr.us-east-1.amazonaws.com"


def records(found: secrets.Scan) -> tuple[dict[str, tuple[object, ...]], list[tuple[object, ...]]]:
    """A scan as plain data: each answer's triple, and each passed-over record."""
    answers = {
        key: (
            t.key,
            t.prefix,
            t.server,
            t.user,
            t.password,
            t.registry.host if t.registry is not None else None,
            t.aws.kind if t.aws is not None else None,
            t.aws.prefix if t.aws is not None else None,
            t.username(),
        )
        for key, t in found.answers.items()
    }
    passed = [(p.prefix, p.reason, p.message, p.key) for p in found.passed_over]
    return answers, passed


V = "_CONTAINER_REGISTRY_"


@pytest.mark.parametrize(
    ("variables", "key", "answers", "passed"),
    [
        pytest.param(
            {f"G{V}SERVER": "https://GHCR.io/ns", f"G{V}USER": "u", f"G{V}PASSWORD": "p"},
            None,
            {"ghcr.io": ("ghcr.io", "G", "https://GHCR.io/ns", "u", "p", None, None, None, "u")},
            [],
            id="plain",
        ),
        pytest.param(
            {f"Q{V}SERVER": "q.example", f"Q{V}PASSWORD": ""},
            None,
            {},
            [
                (
                    "Q",
                    secrets.INCOMPLETE,
                    f"Q{V}USER is not set and Q{V}PASSWORD is empty, so the Q triple is not used",
                    "q.example",
                )
            ],
            id="incomplete",
        ),
        pytest.param(
            {f"O{V}USER": "u", f"O{V}PASSWORD": "p"},
            None,
            {},
            [
                (
                    "O",
                    secrets.INCOMPLETE,
                    f"O{V}SERVER is not set, so the O triple is not used",
                    None,
                )
            ],
            id="orphan",
        ),
        pytest.param(
            {f"B{V}SERVER": "u@evil.example", f"B{V}USER": "u", f"B{V}PASSWORD": "p"},
            None,
            {},
            [("B", secrets.NO_HOST, f"B{V}SERVER does not name a registry host", None)],
            id="no-host",
        ),
        pytest.param(
            {
                f"A{V}SERVER": "ghcr.io",
                f"A{V}USER": "a",
                f"A{V}PASSWORD": "p",
                f"B{V}SERVER": "https://ghcr.io",
                f"B{V}USER": "b",
                f"B{V}PASSWORD": "p",
            },
            "ghcr.io",
            {"ghcr.io": ("ghcr.io", "A", "ghcr.io", "a", "p", None, None, None, "a")},
            [
                (
                    "B",
                    secrets.SHADOWED,
                    f"A{V}SERVER and B{V}SERVER both name ghcr.io; A{V}SERVER is used",
                    "ghcr.io",
                )
            ],
            id="shadowed",
        ),
        pytest.param(
            {f"M{V}SERVER": "ghcr.io", f"M{V}USER": KEY_ID, f"M{V}PASSWORD": "p"},
            None,
            {},
            [
                (
                    "M",
                    secrets.MISPLACED_KEY,
                    f"M{V}USER holds an AWS access key id, but M{V}SERVER names ghcr.io, which is "
                    f"not an ECR registry host; fix M{V}SERVER (<account>.dkr.ecr.<region>."
                    "amazonaws.com or public.ecr.aws): an AWS secret key is never sent anywhere "
                    "else",
                    "ghcr.io",
                )
            ],
            id="misplaced-key",
        ),
        pytest.param(
            {f"E{V}SERVER": ECR, f"E{V}USER": KEY_ID, f"E{V}PASSWORD": "s"},
            ECR,
            {ECR: (ECR, "E", ECR, KEY_ID, "s", ECR, "access key", "E", "AWS")},
            [],
            id="ecr-key",
        ),
        pytest.param(
            {f"P{V}SERVER": PROFILE_HOST, f"P{V}AWS_PROFILE": "dev"},
            None,
            {
                PROFILE_HOST: (
                    PROFILE_HOST,
                    "P",
                    PROFILE_HOST,
                    "",
                    "",
                    PROFILE_HOST,
                    "profile",
                    "P",
                    "AWS",
                )
            },
            [],
            id="ecr-profile",
        ),
        pytest.param(
            {
                f"C{V}SERVER": PROFILE_HOST,
                f"C{V}AWS_PROFILE": "dev",
                f"C{V}USER": KEY_ID,
            },
            None,
            {},
            [
                (
                    "C",
                    secrets.CONFLICT,
                    f"C{V}AWS_PROFILE and C{V}USER/C{V}PASSWORD are both set; keep the profile "
                    "or the key, not both",
                    PROFILE_HOST,
                )
            ],
            id="profile-and-key",
        ),
        pytest.param(
            {
                f"G{V}SERVER": "ghcr.io",
                f"G{V}USER": "u",
                f"G{V}PASSWORD": "p",
                f"L{V}SERVER": "ghcr.io.evil.example",
                f"L{V}USER": "u",
                f"L{V}PASSWORD": "p",
                f"N{V}SERVER": "ghcr.io@x",
                f"N{V}USER": "u",
                f"N{V}PASSWORD": "p",
                f"Q{V}SERVER": "q.example",
            },
            "ghcr.io",
            {"ghcr.io": ("ghcr.io", "G", "ghcr.io", "u", "p", None, None, None, "u")},
            [("N", secrets.NO_HOST, f"N{V}SERVER does not name a registry host", None)],
            id="asked-for-one-key",
        ),
        pytest.param(
            {
                f"G{V}SERVER": "ghcr.io",
                f"G{V}USER": "u",
                f"G{V}PASSWORD": "p",
                f"X{V}SERVER": "u@quay.io",
                f"X{V}USER": "u",
                f"X{V}PASSWORD": "p",
            },
            "ghcr.io",
            {"ghcr.io": ("ghcr.io", "G", "ghcr.io", "u", "p", None, None, None, "u")},
            [],
            id="a-broken-triple-for-another-host-is-not-this-get's",
        ),
        pytest.param(
            {
                f"{V}SERVER": "ghcr.io",
                f"{V}USER": "u",
                f"{V}PASSWORD": "p",
                f"G{V}SERVER": "ghcr.io",
                f"G{V}USER": "u",
                f"G{V}PASSWORD": "p",
            },
            None,
            {"ghcr.io": ("ghcr.io", "G", "ghcr.io", "u", "p", None, None, None, "u")},
            [],
            id="no-prefix-is-no-triple",
        ),
    ],
)
def test_the_records_of_a_scan(
    use_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    key: str | None,
    answers: dict[str, tuple[object, ...]],
    passed: list[tuple[object, ...]],
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert records(scan(key)) == (answers, passed)


# --- the secrets as a source, in process: what each verb does with what a scan found


def secret_env(
    monkeypatch: pytest.MonkeyPatch, prefix: str, server: str, user: str, password: str
) -> None:
    for part, value in (("SERVER", server), ("USER", user), ("PASSWORD", password)):
        monkeypatch.setenv(f"{prefix}{V}{part}", value)


def test_the_secrets_answer_get_and_never_store(
    use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret_env(monkeypatch, "G", "ghcr.io", "u", "p")
    source = secrets.Secrets()
    assert source.get("https://ghcr.io/ns") == Credential("u", "p")
    assert source.get("q.example") is None
    assert source.get("not a name") is None
    with pytest.raises(Declined):
        source.add("q.example", "u", "p")
    source.add("ghcr.io", "other", "CANARY-login")  # covered: taken, and nothing is stored
    assert capsys.readouterr().err == (
        f"docker-credential-codespaces: ghcr.io is covered by the secret G{V}SERVER; "
        "its credentials are used and nothing was stored\n"
    )
    assert source.get("ghcr.io") == Credential("u", "p")
    for server in ("ghcr.io", "q.example"):  # a plain secret holds nothing to forget
        with pytest.raises(Declined):
            source.delete(server)


def test_an_ecr_secret_forgets_its_cached_token_on_erase(
    use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_env(monkeypatch, "E", ECR, KEY_ID, "secret-key")
    triple = scan(ECR).answers[ECR]
    assert triple.registry is not None and triple.aws is not None
    cache = open_cache()
    key = cache_key(triple.aws, triple.registry)
    cache.write(key, Token("cached", time.time() + 3600, time.time()))
    assert cache.read(key) is not None
    secrets.Secrets().delete(ECR)
    assert cache.read(key) is None


def test_a_misplaced_key_is_said_each_time_and_other_skips_only_under_debug(
    use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret_env(monkeypatch, "M", "ghcr.io", KEY_ID, "p")
    secret_env(monkeypatch, "Q", "q.example", "u", "")
    source = secrets.Secrets()
    assert source.get("ghcr.io") is None
    assert capsys.readouterr().err.startswith(
        f"docker-credential-codespaces: M{V}USER holds an AWS"
    )
    assert source.get("q.example") is None
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("DOCKER_CREDENTIAL_CODESPACES_DEBUG", "1")
    assert source.get("q.example") is None
    assert f"Q{V}PASSWORD is empty" in capsys.readouterr().err


def test_entries_carry_the_triple_and_the_variable_to_fix(
    use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_env(monkeypatch, "G", "ghcr.io", "u", "p")
    secret_env(monkeypatch, "E", ECR, KEY_ID, "secret-key")
    source = secrets.Secrets()
    entries = {e.key: e for e in source.entries()}
    assert set(entries) == {"ghcr.io", ECR}
    for key, prefix, username in (("ghcr.io", "G", "u"), (ECR, "E", "AWS")):
        entry = entries[key]
        assert isinstance(entry, secrets.TripleEntry)
        assert (entry.username, entry.source, entry.where, entry.variable) == (
            username,
            source,
            f"secret {prefix}",
            f"{prefix}{V}PASSWORD",
        )
        assert entry.triple.prefix == prefix and entry.triple.key == key
    assert source.survey() is source.survey()  # one scan for the source's life
    assert source.list() == {"ghcr.io": "u", ECR: "AWS"}


def test_which_triples_hold_a_registry_token(
    use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_env(monkeypatch, "G", "ghcr.io", "u", "p")
    secret_env(monkeypatch, "E", ECR, KEY_ID, "secret-key")
    found = scan().answers
    assert secrets.registry_token(found["ghcr.io"]) is None
    token = secrets.registry_token(found[ECR])
    assert token is not None
    assert (token.registry, token.identity) == (found[ECR].registry, found[ECR].aws)
    assert (secrets.Secrets().young, secrets.Secrets(young=True).young) == (False, True)
    assert (secrets.Secrets().repair, secrets.Secrets(repair=False).repair) == (True, False)


@pytest.mark.parametrize(
    ("content", "found", "damaged"),
    [
        (b"A_CONTAINER_REGISTRY_USER=dQ==\n", {"A_CONTAINER_REGISTRY_USER": "u"}, []),
        (b" A_CONTAINER_REGISTRY_USER = dQ== \r\n", {"A_CONTAINER_REGISTRY_USER": "u"}, []),
        (
            b"A_CONTAINER_REGISTRY_USER=dQ\n",
            {},
            [("A_CONTAINER_REGISTRY_USER", secrets.PADDING_CUT)],
        ),
        (
            b"A_CONTAINER_REGISTRY_USER=d!Q=\n",
            {},
            [("A_CONTAINER_REGISTRY_USER", secrets.UNDECODABLE)],
        ),
        (
            b"A_CONTAINER_REGISTRY_USER=/w==\n",
            {},
            [("A_CONTAINER_REGISTRY_USER", secrets.UNDECODABLE)],
        ),
        (b"A_CONTAINER_REGISTRY_USER\n", {}, []),
        (b"OTHER=dQ==\n", {}, []),
        (b"\xff_CONTAINER_REGISTRY_USER=dQ==\n", {}, []),
        (
            b"A_CONTAINER_REGISTRY_AWS_PROFILE=ZGV2\n",
            {"A_CONTAINER_REGISTRY_AWS_PROFILE": "dev"},
            [],
        ),
        (
            b"A_CONTAINER_REGISTRY_USER=YWI\n",  # one "=" cut off, not three
            {},
            [("A_CONTAINER_REGISTRY_USER", secrets.PADDING_CUT)],
        ),
        (b"A_CONTAINER_REGISTRY_NOTE=dQ==\n", {}, []),  # the mark without a suffix
        (b"DB_USER=dQ==\nDB_PASSWORD=!!\n", {}, []),  # a suffix without the mark
        # Each line on its own: none that is passed over, or read, ends the reading.
        (
            b"\xff=x\nOTHER=dQ==\nA\nA_CONTAINER_REGISTRY_USER=dQ==\n"
            b"A_CONTAINER_REGISTRY_PASSWORD=cA==\n",
            {"A_CONTAINER_REGISTRY_USER": "u", "A_CONTAINER_REGISTRY_PASSWORD": "p"},
            [],
        ),
        (
            b"A_CONTAINER_REGISTRY_USER=/w==\nA_CONTAINER_REGISTRY_SERVER=!\n"
            b"A_CONTAINER_REGISTRY_PASSWORD=cA==\n",
            {"A_CONTAINER_REGISTRY_PASSWORD": "p"},
            [
                ("A_CONTAINER_REGISTRY_USER", secrets.UNDECODABLE),
                ("A_CONTAINER_REGISTRY_SERVER", secrets.UNDECODABLE),
            ],
        ),
    ],
)
def test_the_secrets_file_line_by_line(
    tmp_path: Path, content: bytes, found: dict[str, str], damaged: list[tuple[str, str]]
) -> None:
    path = tmp_path / "env-secrets"
    path.write_bytes(content)
    said: list[tuple[str, str]] = []
    assert secrets.read_file(str(path), damaged=said) == found
    assert said == damaged


def test_a_secrets_file_that_is_no_file_or_too_large_is_passed_over(tmp_path: Path) -> None:
    assert secrets.read_file(str(tmp_path / "absent")) == {}
    assert secrets.read_file(str(tmp_path)) == {}  # a directory
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert secrets.read_file(str(fifo)) == {}  # never blocks
    large = tmp_path / "large"
    line = b"A_CONTAINER_REGISTRY_USER=dQ==\n"
    large.write_bytes(line + b"#" * secrets.SECRETS_FILE_CAP)
    assert secrets.read_file(str(large)) == {}
    exact = tmp_path / "exact"
    exact.write_bytes(line + b"#" * (secrets.SECRETS_FILE_CAP - len(line)))
    assert secrets.read_file(str(exact)) == {"A_CONTAINER_REGISTRY_USER": "u"}
    assert secrets.read_file(str(exact), lambda name: name == "OTHER") == {}


# --- the secrets file and the environment together, in process: what the scan is given


def put_secrets_file(
    monkeypatch: pytest.MonkeyPatch, path: Path, variables: dict[str, str]
) -> None:
    write_secrets_file(path, variables)
    monkeypatch.setenv("DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE", str(path))


def plain(key: str, prefix: str, server: str, user: str, password: str) -> tuple[object, ...]:
    """An answer as `records` gives it, for a triple that holds no AWS credential."""
    return (key, prefix, server, user, password, None, None, None, user)


FILE_TRIPLE = {f"FILE{V}SERVER": "f.example", f"FILE{V}USER": "u", f"FILE{V}PASSWORD": "p"}
MOVED = {f"X{V}SERVER": "ghcr.io", f"X{V}USER": "u", f"X{V}PASSWORD": "old"}
# A name that is not UTF-8 (os.environ holds it surrogate-escaped) still names a triple.
ODD = "\udcffS"


@pytest.mark.parametrize(
    ("in_file", "in_environment", "key", "answers", "passed"),
    [
        pytest.param(
            FILE_TRIPLE,
            {},
            None,
            {"f.example": plain("f.example", "FILE", "f.example", "u", "p")},
            [],
            id="file",
        ),
        pytest.param(
            FILE_TRIPLE,
            {},
            "f.example",
            {"f.example": plain("f.example", "FILE", "f.example", "u", "p")},
            [],
            id="file-asked",
        ),
        pytest.param(
            {f"ORPHAN{V}USER": "u", f"ORPHAN{V}PASSWORD": "p"},
            {},
            None,
            {},
            [
                (
                    "ORPHAN",
                    secrets.INCOMPLETE,
                    f"ORPHAN{V}SERVER is not set, so the ORPHAN triple is not used",
                    None,
                )
            ],
            id="file-orphan",
        ),
        pytest.param(
            {f"E{V}SERVER": "e.example"},
            {f"E{V}USER": "u", f"E{V}PASSWORD": "p"},
            None,
            {"e.example": plain("e.example", "E", "e.example", "u", "p")},
            [],
            id="parts-from-both",
        ),
        pytest.param(
            MOVED,
            {f"X{V}SERVER": "quay.io", f"X{V}PASSWORD": "new"},
            "ghcr.io",
            {},
            [],
            id="the-environment-moved-the-server-away",
        ),
        pytest.param(
            MOVED,
            {f"X{V}SERVER": "quay.io", f"X{V}PASSWORD": "new"},
            "quay.io",
            {"quay.io": plain("quay.io", "X", "quay.io", "u", "new")},
            [],
            id="the-environment-moved-the-server-here",
        ),
        pytest.param(
            MOVED,
            {f"X{V}SERVER": "quay.io", f"X{V}PASSWORD": "new"},
            None,
            {"quay.io": plain("quay.io", "X", "quay.io", "u", "new")},
            [],
            id="the-environment-moved-the-server-whole-scan",
        ),
        pytest.param(
            {},
            {f"E{V}USER": "u"},
            None,
            {},
            [
                (
                    "E",
                    secrets.INCOMPLETE,
                    f"E{V}SERVER is not set and E{V}PASSWORD is not set, so the E triple is "
                    "not used",
                    None,
                )
            ],
            id="environment-orphan",
        ),
        pytest.param(
            {},
            {f"{ODD}{V}SERVER": "s.example", f"{ODD}{V}USER": "u", f"{ODD}{V}PASSWORD": "p"},
            None,
            {"s.example": plain("s.example", ODD, "s.example", "u", "p")},
            [],
            id="name-not-utf-8",
        ),
        pytest.param(
            {},
            {f"{ODD}{V}SERVER": "s.example", f"{ODD}{V}USER": "u", f"{ODD}{V}PASSWORD": "p"},
            "s.example",
            {"s.example": plain("s.example", ODD, "s.example", "u", "p")},
            [],
            id="name-not-utf-8-asked",
        ),
    ],
)
def test_the_records_of_a_scan_of_the_file_and_the_environment(
    use_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    in_file: dict[str, str],
    in_environment: dict[str, str],
    key: str | None,
    answers: dict[str, tuple[object, ...]],
    passed: list[tuple[object, ...]],
) -> None:
    put_secrets_file(monkeypatch, tmp_path / "env-secrets", in_file)
    for name, value in in_environment.items():
        monkeypatch.setenv(name, value)
    assert records(scan(key)) == (answers, passed)


# SERVER values made of pieces that the bytes pre-filter of a `get` and the text rules could
# judge apart: case, letters outside ASCII whose lower case is ASCII (the Kelvin sign) or
# holds it (the dotted capital I), other scripts, and bytes that are not UTF-8 (in the
# environment only: a file's values are base64 of UTF-8 text).
PIECES = [
    "registry",
    "REGISTRY",
    "k8s",
    "\u212a8s",
    "\u0130o",
    "b\u00fccher",
    ".example.com",
    ".Example.COM",
    ":5000",
    "https://",
    "/v2/",
    "@",
    "ghcr.io",
    "docker.io",
    "\udcff",
]
SERVER_VALUES = st.lists(st.sampled_from(PIECES), min_size=1, max_size=4).map("".join)
# (SERVER, whether the triple is in the file rather than the environment, the file's SERVER
# for a triple in the environment: the environment's wins, naming the key or not)
TRIPLES = st.lists(
    st.tuples(SERVER_VALUES, st.booleans(), st.one_of(st.none(), SERVER_VALUES)), max_size=5
)
ASKED = ["registry.example.com", "registry.example.com:5000", "k8s.example.com", "ghcr.io"]


def utf8(text: str) -> bool:
    """Whether a value can be written to the secrets file (has no surrogate-escaped byte)."""
    return "\udcff" not in text


@given(triples=TRIPLES)
@example(triples=[("\u212a8s.example.com", False, None)])
@example(triples=[("\u0130o.example.com", False, None), ("registry.example.com", True, None)])
@example(triples=[("ghcr.io", False, "quay.io"), ("quay.io", False, "ghcr.io")])
@settings(
    max_examples=80,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_a_get_finds_what_the_whole_scan_finds_for_its_key(
    use_env: dict[str, str], tmp_path: Path, triples: list[tuple[str, bool, str | None]]
) -> None:
    """A `get` looks only at the triples whose SERVER contains its key's host, found by
    scanning the environment's bytes; the whole scan looks at every triple as text. For
    each key, both must come to the same answer and say the same of the triples passed over
    (those that name no host, where the SERVER holds the key's host as text)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        in_file: dict[str, str] = {}
        servers: dict[str, str] = {}
        for index, (server, file, decoy) in enumerate(triples):
            prefix = f"P{index}"
            servers[prefix] = server
            parts = (("SERVER", server), ("USER", "u"), ("PASSWORD", prefix))
            triple = {f"{prefix}{V}{part}": value for part, value in parts}
            if file and utf8(server):
                in_file.update(triple)
                continue
            if decoy is not None and utf8(decoy):
                in_file[f"{prefix}{V}SERVER"] = decoy
            for name, value in triple.items():
                monkeypatch.setenv(name, value)
        put_secrets_file(monkeypatch, tmp_path / "env-secrets", in_file)
        everything = records(scan())
        keys = {*ASKED, *everything[0], *(p[3] for p in everything[1] if p[3] is not None)}
        for key in sorted(keys):
            assert isinstance(key, str)
            needle = host_part(key)
            expected = (
                {k: a for k, a in everything[0].items() if k == key},
                [
                    p
                    for p in everything[1]
                    if p[3] == key
                    or (p[3] is None and needle in servers.get(str(p[0]), "").lower())
                ],
            )
            assert records(scan(key)) == expected, key


# --- what is said of a secrets file passed over, or of a line of it, under debug


def no_file(directory: Path) -> Path:
    return directory / "absent"


def a_directory(directory: Path) -> Path:
    return directory


def a_fifo(directory: Path) -> Path:
    os.mkfifo(directory / "fifo")
    return directory / "fifo"


def under_a_file(directory: Path) -> Path:
    (directory / "file").write_bytes(b"")
    return directory / "file" / "env-secrets"


def too_large(directory: Path) -> Path:
    with (directory / "large").open("wb") as stream:
        stream.truncate(secrets.SECRETS_FILE_CAP + 1)
    return directory / "large"


def damaged_lines(directory: Path) -> Path:
    path = directory / "env-secrets"
    path.write_bytes(
        b"A_CONTAINER_REGISTRY_USER=%%\nA_CONTAINER_REGISTRY_PASSWORD=//4=\n"
        b"A_CONTAINER_REGISTRY_SERVER=cS5leGFtcGxl\n"
    )
    return path


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (no_file, ""),  # outside a codespace: nothing to say
        (a_directory, "ignoring the secrets file {path}: not a regular file\n"),
        (a_fifo, "ignoring the secrets file {path}: not a regular file\n"),
        (under_a_file, "ignoring the secrets file {path}: Not a directory\n"),
        (too_large, "ignoring the secrets file {path}: it is larger than 4194304 bytes\n"),
        (
            damaged_lines,
            "A_CONTAINER_REGISTRY_USER in the secrets file is not base64 of UTF-8 text; "
            "ignoring it\n"
            "docker-credential-codespaces: "
            "A_CONTAINER_REGISTRY_PASSWORD in the secrets file is not base64 of UTF-8 text; "
            "ignoring it\n",
        ),
    ],
)
def test_what_debug_says_of_the_secrets_file(
    use_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    make: Callable[[Path], Path],
    said: str,
) -> None:
    path = make(tmp_path)
    expected = {"A_CONTAINER_REGISTRY_SERVER": "q.example"} if make is damaged_lines else {}
    assert secrets.read_file(str(path)) == expected
    assert capsys.readouterr().err == ""  # only under debug
    monkeypatch.setenv("DOCKER_CREDENTIAL_CODESPACES_DEBUG", "1")
    assert secrets.read_file(str(path)) == expected
    prefix = "docker-credential-codespaces: " if said else ""
    assert capsys.readouterr().err == prefix + said.format(path=path)


def test_a_large_secrets_file_is_never_read_whole(tmp_path: Path) -> None:
    """Of a file in its place, however large, one byte past the cap is read: no more memory
    than that is ever spent on it (a sparse file of 16 times the cap here)."""
    path = tmp_path / "large"
    with path.open("wb") as stream:
        stream.truncate(16 * secrets.SECRETS_FILE_CAP)
    tracemalloc.start()
    try:
        assert secrets.read_file(str(path)) == {}
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert secrets.SECRETS_FILE_CAP < peak < 2 * secrets.SECRETS_FILE_CAP


@pytest.mark.parametrize(
    ("flag", "wanted", "why"),
    [
        (os.O_NONBLOCK, True, "a FIFO in the file's place never hangs docker"),
        (os.O_NOCTTY, True, "a terminal in its place never becomes the controlling terminal"),
        (os.O_CLOEXEC, True, "no program started meanwhile inherits the descriptor"),
        (os.O_WRONLY | os.O_RDWR, False, "read only"),
        (os.O_CREAT | os.O_TRUNC | os.O_APPEND, False, "nothing of it is ever changed"),
    ],
)
def test_how_the_secrets_file_is_opened(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, flag: int, wanted: bool, why: str
) -> None:
    assert bool(secrets._OPEN_FLAGS & flag) == wanted, why
    # ... and the file is opened so: the descriptor's flags, seen as it is checked
    import fcntl

    seen: list[tuple[int, int]] = []
    real_fstat = os.fstat

    def fstat(fd: int) -> os.stat_result:
        seen.append((fcntl.fcntl(fd, fcntl.F_GETFD), fcntl.fcntl(fd, fcntl.F_GETFL)))
        return real_fstat(fd)

    path = tmp_path / "env-secrets"
    path.write_bytes(b"A_CONTAINER_REGISTRY_USER=dQ==\n")
    monkeypatch.setattr(os, "fstat", fstat)
    assert secrets.read_file(str(path)) == {"A_CONTAINER_REGISTRY_USER": "u"}
    [(descriptor, status)] = seen
    assert descriptor & fcntl.FD_CLOEXEC and status & os.O_NONBLOCK
    assert status & os.O_ACCMODE == os.O_RDONLY


# --- an ECR secret as a source, in process: the token it answers, from the cache


def cached_ecr_token(
    monkeypatch: pytest.MonkeyPatch, token: Token, failure: str = ""
) -> tuple[secrets.Triple, str]:
    """An ECR access-key secret whose token (and last exchange's outcome) is in the cache:
    its triple, and the token's key in the cache."""
    secret_env(monkeypatch, "E", ECR, KEY_ID, "CANARY-secret-key")
    triple = scan(ECR).answers[ECR]
    assert triple.registry is not None and triple.aws is not None
    cache = open_cache()
    key = cache_key(triple.aws, triple.registry)
    cache.write(key, token)
    if failure:
        cache.record(key, Outcome(time.time(), failure))
    return triple, key


def answer(token: RegistryToken | None) -> Credential | None:
    return token.answer() if token is not None else None


@pytest.mark.parametrize(
    ("ask", "mended"),
    [
        pytest.param(lambda triple: secrets.Secrets().get(ECR), True, id="get"),
        pytest.param(
            lambda triple: secrets.Secrets(repair=False).get(ECR), False, id="doctor's-get"
        ),
        pytest.param(lambda triple: answer(secrets.registry_token(triple)), True, id="token"),
        pytest.param(
            lambda triple: answer(secrets.registry_token(triple, repair=False)),
            False,
            id="doctor's-token",
        ),
    ],
)
def test_an_ecr_secret_answers_its_cached_token_and_only_doctor_leaves_loose_modes(
    use_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    ask: Callable[[secrets.Triple], Credential | None],
    mended: bool,
) -> None:
    now = time.time()
    triple, key = cached_ecr_token(monkeypatch, Token("CANARY-token", now + 3600, now))
    directory = cache_dir()
    assert directory is not None
    own = Path(directory.path)
    for path in (own, *own.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert ask(triple) == Credential("AWS", "CANARY-token", now + 3600)
    modes = {path.name: path.stat().st_mode & 0o777 for path in (own, *own.iterdir())}
    loose, private = (
        {own.name: 0o755, f"ecr-{key}.token": 0o644},
        {
            own.name: 0o700,
            f"ecr-{key}.token": 0o600,
        },
    )
    assert modes == (private if mended else loose)


@pytest.mark.parametrize("young", [False, True])
def test_a_young_token_is_asked_for_only_where_the_source_was_made_so(
    use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, young: bool
) -> None:
    """A good token past its refresh point serves a `get`; `export` (young) needs a new one,
    and here the last exchange failed moments ago, so it fails with that exchange's line."""
    now = time.time()
    cached_ecr_token(
        monkeypatch, Token("CANARY-due", now + 3 * 3600, now - 9 * 3600), "the exchange failed"
    )
    source = secrets.Secrets(young=young)
    if young:
        with pytest.raises(HelperError) as failed:
            source.get(ECR)
        assert str(failed.value) == "the exchange failed"
    else:
        assert source.get(ECR) == Credential("AWS", "CANARY-due", now + 3 * 3600)
