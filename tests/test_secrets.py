"""secrets.py: the one scan (which triple answers which docker key, and why every
other triple does not), in process with tables; then the secrets from the environment laid
over the Codespaces secrets file, read at each request, through the executable."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import pytest

from beds.client import run_helper
from beds.environment import add_secret, write_secrets_file
from docker_credential_codespaces import secrets
from docker_credential_codespaces.ecr.cache import cache_key, open_cache
from docker_credential_codespaces.ecr.token import Token
from docker_credential_codespaces.secrets import (
    INCOMPLETE,
    MISPLACED_KEY,
    NO_HOST,
    SHADOWED,
    scan,
)
from docker_credential_codespaces.servers import docker_key
from docker_credential_codespaces.wire import Credential, Declined

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"

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
