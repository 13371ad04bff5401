"""Secrets audit: canaries in every secret go nowhere but a `get` answer and the 0600 files.

Every password, AWS secret key, stored Secret and token variable holds a unique canary. The
scenarios run the real entry point under DOCKER_CREDENTIAL_CODESPACES_DEBUG=1, with an audit
hook recording the argv of every subprocess it starts and a trace hook recording the message
of every exception raised (caught or not). The canaries may appear only in the Secret of a
`get` answer and in the 0600 store and cache files; the cache never holds the AWS secret key.
"""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from beds.aws import FakeECR, decode_token
from beds.environment import add_secret
from beds.values import (
    ECR_HOST,
    KEY_ID_2,
    OTHER_ECR_HOST,
    SECRET_KEY,
    SECRET_KEY_2,
    TOKEN_HOST,
    aws_token,
    store_body,
)

ECR_WRONG = "123456789012.dkr.ecr.eu-west-2.amazonaws.com"
ECR_EXPIRED_HOST = OTHER_ECR_HOST
EXPIRED_TOKEN = aws_token(time.time() - 60)
CANARIES = {
    "ghcr": "CANARYghcrPassword01",
    "hub": "CANARYhubPassword001",
    "file": "CANARYsecretsFile001",
    "incomplete": "CANARYincomplete0001",
    "duplicate": "CANARYduplicate00001",
    "badserver": "CANARYbadServer00001",
    "aws": SECRET_KEY,
    "aws-other": SECRET_KEY_2,
    "aws-wrong": "CANARYwrongAwsKey001",
    "aws-token": "CANARYawsToken000001",
    "aws-expired": EXPIRED_TOKEN,
    "ambient": "CANARYambientAws0001",
    "ambient-session": "CANARYambientSess001",
    "github": "CANARYgithubToken001",
    "stored": "CANARYstoredSecret01",
    "stored-token": "CANARYidentityTok001",
    "typed": "CANARYtypedOverSec01",
    "badjson": "CANARYbadJson0000001",
}

# Runs the helper's real entry point with the audit and trace hooks; writes what it saw.
BOOTSTRAP = r"""
import json, os, sys
out = os.environ.pop("DCC_AUDIT_OUT")
seen = {"spawned": [], "exceptions": []}
SPAWN = {"subprocess.Popen": 1, "os.exec": 1, "os.posix_spawn": 1, "os.spawn": 1, "os.system": 0}
def hook(event, args):
    if event in SPAWN:
        try:
            seen["spawned"].append([event, repr(args[SPAWN[event]])])
        except Exception:
            seen["spawned"].append([event, "?"])
sys.addaudithook(hook)
def local(frame, event, arg):
    if event == "exception":
        kind, value, _ = arg
        try:
            text = str(value) + " " + repr(getattr(value, "args", ()))
        except Exception:
            text = "<unprintable>"
        seen["exceptions"].append([kind.__name__, text])
    return local
def tracer(frame, event, arg):
    frame.f_trace_lines = False
    return local
sys.settrace(tracer)
import threading
threading.settrace(tracer)
code = 1
try:
    from docker_credential_codespaces.cli import main
    code = main(["docker-credential-codespaces", *sys.argv[1:]])
finally:
    sys.settrace(None)
    with open(out, "w") as stream:
        json.dump(seen, stream)
sys.exit(code)
"""


def forms(canary: str) -> list[bytes]:
    """The canary as it could leak: raw, JSON-escaped, and base64 at every alignment."""
    raw = canary.encode()
    found = [raw, json.dumps(canary).encode()[1:-1]]
    for pad in range(3):
        encoded = base64.b64encode(b"x" * pad + raw)
        found.append(encoded[4 if pad else 0 : -4])
    return found


def leaks(data: bytes) -> list[str]:
    return [name for name, canary in CANARIES.items() if any(f in data for f in forms(canary))]


@pytest.fixture
def audit_env(ecr_env: dict[str, str], tmp_path: Path, fake: FakeECR) -> dict[str, str]:
    """The ECR environment with a secret of every kind, each holding a canary."""
    env = ecr_env
    env.update(
        AWS_ENDPOINT_URL=fake.endpoint_url,
        DOCKER_CREDENTIAL_CODESPACES_DEBUG="1",
        AWS_ACCESS_KEY_ID="AKIAAMBIENTAMBIENT00",
        AWS_SECRET_ACCESS_KEY=CANARIES["ambient"],
        AWS_SESSION_TOKEN=CANARIES["ambient-session"],
        GITHUB_TOKEN=CANARIES["github"],
        CODESPACES="true",
    )
    add_secret(env, "GH", "ghcr.io", "octocat", CANARIES["ghcr"])
    add_secret(env, "ZGH", "https://ghcr.io/", "other", CANARIES["duplicate"])
    add_secret(env, "HUB", "docker.io", "hubuser", CANARIES["hub"])
    add_secret(env, "ECRWRONG", ECR_WRONG, KEY_ID_2, CANARIES["aws-wrong"])
    add_secret(env, "ECRTOKEN", TOKEN_HOST, "AWS", CANARIES["aws-token"])
    add_secret(env, "ECROLD", ECR_EXPIRED_HOST, "AWS", EXPIRED_TOKEN)
    add_secret(env, "PUB", "public.ecr.aws", KEY_ID_2, SECRET_KEY_2)
    env["HALF_CONTAINER_REGISTRY_SERVER"] = "half.example"
    env["HALF_CONTAINER_REGISTRY_PASSWORD"] = CANARIES["incomplete"]
    add_secret(env, "BAD", "user@bad.example", "u", CANARIES["badserver"])
    secrets_file = tmp_path / "env-secrets"
    lines = [
        f"{name}={base64.b64encode(value.encode()).decode()}"
        for name, value in (
            ("FILE_CONTAINER_REGISTRY_SERVER", "file.example"),
            ("FILE_CONTAINER_REGISTRY_USER", "fileuser"),
            ("FILE_CONTAINER_REGISTRY_PASSWORD", CANARIES["file"]),
        )
    ]
    secrets_file.write_text("\n".join(lines) + "\n")
    env["DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"] = str(secrets_file)
    return env


def run_audited(
    env: dict[str, str], report: Path, argv: list[str], stdin: bytes = b""
) -> tuple[subprocess.CompletedProcess[bytes], int]:
    """Run the entry point under the hooks; its stderr, exceptions and argv must be clean.

    Returns the run and how many exceptions were inspected; stdout is the caller's to judge.
    """
    result = subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, *argv],
        input=stdin,
        capture_output=True,
        env=dict(env, DCC_AUDIT_OUT=str(report)),
        timeout=60,
        check=False,
    )
    where = (argv, stdin[:60])
    assert b"Traceback" not in result.stderr, (where, result.stderr)
    assert leaks(result.stderr) == [], (where, result.stderr)
    seen = json.loads(report.read_text())
    for kind, text in seen["exceptions"]:
        assert leaks(text.encode()) == [], (where, kind, text)
    for event, spawned in seen["spawned"]:
        assert leaks(spawned.encode()) == [], (where, event, spawned)
    return result, len(seen["exceptions"])


SCENARIOS: list[tuple[str, bytes, str | None]] = [
    # (verb, stdin, the canary a successful get must answer with)
    ("list", b"", None),
    ("get", b"ghcr.io", "ghcr"),
    ("get", b"docker.io", "hub"),
    ("get", b"file.example", "file"),
    ("get", b"half.example", None),
    ("get", b"bad.example", None),
    ("get", ECR_HOST.encode(), None),
    ("get", ECR_HOST.encode(), None),
    ("get", b"public.ecr.aws", None),
    ("get", ECR_WRONG.encode(), None),
    ("get", TOKEN_HOST.encode(), "aws-token"),
    ("get", ECR_EXPIRED_HOST.encode(), None),
    ("store", store_body("reg.example", "alice", CANARIES["stored"]), None),
    ("store", store_body("tok.example", "<token>", CANARIES["stored-token"]), None),
    ("store", store_body("ghcr.io", "typed", CANARIES["typed"]), None),
    ("store", b'{"ServerURL":"x.example","Secret":"' + CANARIES["badjson"].encode(), None),
    ("store", store_body("user@x.example", "u", CANARIES["badjson"]), None),
    (
        "store",
        json.dumps(
            {"ServerURL": "y.example", "Username": 7, "Secret": CANARIES["badjson"]}
        ).encode(),
        None,
    ),
    ("get", b"reg.example", "stored"),
    ("get", b"tok.example", "stored-token"),
    ("list", b"", None),
    ("erase", ECR_HOST.encode(), None),
    ("erase", b"reg.example", None),
    ("get", b"nowhere.example", None),
]


def test_canaries_go_nowhere_else(audit_env: dict[str, str], tmp_path: Path, fake: FakeECR) -> None:
    """Every scenario's stdout (bar a get's Secret), stderr, exceptions and argv are clean."""
    seen_exceptions = 0
    for index, (verb, stdin, expected) in enumerate(SCENARIOS):
        where = (verb, stdin[:60])
        result, exceptions = run_audited(audit_env, tmp_path / f"audit-{index}.json", [verb], stdin)
        seen_exceptions += exceptions
        stdout = result.stdout
        if verb == "get" and result.returncode == 0:
            answer = json.loads(stdout)
            if expected is not None:
                assert answer["Secret"] == CANARIES[expected], where
            answer["Secret"] = ""
            stdout = json.dumps(answer).encode()
        assert leaks(stdout) == [], (where, result.stdout)
    assert fake.count() >= 2
    print(f"audit: {len(SCENARIOS)} runs, {seen_exceptions} exceptions inspected")
    check_canary_holders(audit_env, tmp_path)


def check_canary_holders(env: dict[str, str], tmp_path: Path) -> None:
    """Canaries only in the 0600 store and cache files; the cache never has the AWS key."""
    inputs = {Path(env["DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"])}
    holders = []
    for path in tmp_path.rglob("*"):
        if not path.is_file() or path in inputs or path.name.startswith("audit-"):
            continue
        found = leaks(path.read_bytes())
        if not found:
            continue
        holders.append(path)
        assert path.name == "credentials.json" or path.name.endswith(".token"), (path, found)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700, path.parent
        if path.name.endswith(".token"):
            assert set(found) <= {"aws-token"}, (path, found)
    cache = Path(env["XDG_CACHE_HOME"]) / "docker-credential-codespaces"
    tokens = list(cache.glob("*.token"))
    assert tokens, "the ECR exchange should have cached a token"
    for path in tokens:
        for secret in ("aws", "aws-other", "aws-wrong", "ambient", "ambient-session"):
            assert not any(f in path.read_bytes() for f in forms(CANARIES[secret])), path
    assert any(path.name == "credentials.json" for path in holders)


# What `export --registry` is asked for below, by the canary each answer must hold: the
# ghcr.io secret that wins (not the shadowed one, nor the codespace token), the Hub, the
# secrets file's, a ready ECR token and a stored login. The fetched ECR token is no canary.
EXPORTED = {"ghcr", "hub", "file", "aws-token", "stored"}
EXPORT_NAMES = ["ghcr.io", "docker.io", "file.example", TOKEN_HOST, "reg.example", ECR_HOST]


def test_export_holds_exactly_the_secrets_asked_for(
    audit_env: dict[str, str], tmp_path: Path, fake: FakeECR
) -> None:
    """export's stderr, exceptions and argv hold no canary, in every format; its document
    holds exactly the canaries of the registries named (the Kubernetes Secret's once its data
    is decoded); and an --all that meets a rejected AWS key fails with nothing on stdout."""
    stored = store_body("reg.example", "alice", CANARIES["stored"])
    run_audited(audit_env, tmp_path / "audit-store.json", ["store"], stored)
    for form in ("docker-config", "podman-auth", "kubernetes"):
        argv = ["export", "--format", form, "--registry", *EXPORT_NAMES]
        result, _ = run_audited(audit_env, tmp_path / f"audit-export-{form}.json", argv)
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)
        if form == "kubernetes":
            document = json.loads(base64.b64decode(document["data"][".dockerconfigjson"]))
        secrets = {
            base64.b64decode(entry["auth"]).decode().partition(":")[2]
            for entry in document["auths"].values()
        }
        fetched = {decode_token(call.token)[1] for call in fake.calls if call.token}
        assert secrets - {CANARIES[name] for name in EXPORTED} == fetched
        assert set(leaks(json.dumps(document).encode())) == EXPORTED, form
        assert set(leaks(result.stdout)) <= EXPORTED, form
    failed, _ = run_audited(audit_env, tmp_path / "audit-export-all.json", ["export", "--all"])
    assert failed.returncode == 1 and failed.stdout == b""
    assert b"AWS rejected the secret key in ECRWRONG_CONTAINER_REGISTRY_PASSWORD" in failed.stderr
    check_canary_holders(audit_env, tmp_path)
