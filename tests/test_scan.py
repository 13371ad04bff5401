"""The one scan of the secrets, in process: which triple answers which docker key, and why
every other triple does not. `get`, `list`, `doctor` and `configure` all read this result."""

from __future__ import annotations

import pytest

from beds.environment import add_secret
from docker_credential_codespaces.sources import secrets
from docker_credential_codespaces.sources.secrets import (
    INCOMPLETE,
    MISPLACED_KEY,
    NO_HOST,
    SHADOWED,
    scan,
)

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
    assert ecr.aws is not None and (ecr.aws.key_id, ecr.aws.secret) == (KEY_ID, "secret-key")
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
    assert secrets._strict_base64(value) == decoded
