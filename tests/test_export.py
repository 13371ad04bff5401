"""`export`: one document of credentials for tools that run no helper, through the executable.

The documents are checked by decoding them (the Kubernetes Secret without kubectl) and by the
clients that read them: podman pulls with `--authfile` and the docker CLI with a DOCKER_CONFIG
directory holding the exported config.json, from the htpasswd registry bed. ECR tokens come
from FakeECR through the same chain and cache a `get` uses.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from beds import registry as bed
from beds.aws import FakeECR
from beds.client import HELPER, run_command, run_helper, store
from beds.environment import add_secret
from beds.values import ECR_HOST, HUB, SECRET_KEY, TOKEN_HOST, aws_token, basic_auth

PASSWORD = "CANARY-export-password-0001"
HUB_PASSWORD = "CANARY-export-hub-0001"
STORED = "CANARY-export-stored-0001"
IDENTITY = "CANARY-export-identity-0001"
GITHUB_TOKEN = "CANARY-export-github-0001"
OAUTH = "CANARY-export-oauth-0001"
SECRET_TYPE = "kubernetes.io/dockerconfigjson"


def export(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return run_helper(env, "export", *args)


def document(result: subprocess.CompletedProcess[bytes]) -> dict[str, object]:
    assert result.returncode == 0, result.stderr
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


def failed(result: subprocess.CompletedProcess[bytes]) -> str:
    """The one line of a failed export, which printed nothing on stdout."""
    assert result.returncode == 1, result
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0] and "CANARY" not in lines[0]
    return lines[0]


def note(result: subprocess.CompletedProcess[bytes]) -> str:
    """The one line a successful export says on stderr; it names no secret."""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert "the output holds secrets" in lines[0] and "CANARY" not in lines[0]
    return lines[0]


def when(moment: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(moment))


@pytest.fixture
def known(env: dict[str, str]) -> dict[str, str]:
    """A secret, Docker Hub, a stored login, an identity token and a Hub OAuth key."""
    add_secret(env, "REG", "https://reg.example:5000/ns", "reg-user", PASSWORD)
    add_secret(env, "HUB", "docker.io", "hub-user", HUB_PASSWORD)
    for server, user, secret in (
        ("stored.example", "alice", STORED),
        ("tok.example", "<token>", IDENTITY),
        ("https://index.docker.io/v1/access-token", "hub-user", OAUTH),
    ):
        done = store(env, server, user, secret)
        assert done.returncode == 0, done
    return env


def test_docker_config_holds_exactly_the_registries_named(known: dict[str, str]) -> None:
    done = export(known, "--registry", "reg.example:5000", "docker.io", "--registry", "tok.example")
    assert document(done) == {
        "auths": {
            "reg.example:5000": {"auth": basic_auth("reg-user", PASSWORD)},
            HUB: {"auth": basic_auth("hub-user", HUB_PASSWORD)},
            "tok.example": {"identitytoken": IDENTITY},
        }
    }
    assert note(done).endswith(
        "(the credentials of 3 registries); keep it private; none of them expires"
    )


def test_podman_auth_keys_docker_hub_as_containers_image_does(known: dict[str, str]) -> None:
    done = export(
        known, "--format", "podman-auth", "--registry", "index.docker.io", "stored.example"
    )
    assert document(done) == {
        "auths": {
            "docker.io": {"auth": basic_auth("hub-user", HUB_PASSWORD)},
            "stored.example": {"auth": basic_auth("alice", STORED)},
        }
    }


def test_kubernetes_manifest_decodes_to_the_docker_config(known: dict[str, str]) -> None:
    """Checked as the API server and kubelet read it, without kubectl: a v1 Secret of type
    dockerconfigjson whose one data key is base64 of the very config.json docker-config gives."""
    names = ("--registry", "reg.example:5000", "docker.io")
    manifest = document(export(known, "--format", "kubernetes", "--name", "pull-creds", *names))
    assert set(manifest) == {"apiVersion", "kind", "metadata", "type", "data"}
    assert (manifest["apiVersion"], manifest["kind"], manifest["type"]) == (
        "v1",
        "Secret",
        SECRET_TYPE,
    )
    assert manifest["metadata"] == {"name": "pull-creds"}
    data = manifest["data"]
    assert isinstance(data, dict) and set(data) == {".dockerconfigjson"}
    decoded = json.loads(base64.b64decode(data[".dockerconfigjson"], validate=True))
    assert decoded == document(export(known, *names))
    default = document(export(known, "--format", "kubernetes", *names))
    assert default["metadata"] == {"name": "registry-credentials"}


@pytest.mark.parametrize("name", ["Upper", "under_score", "-dash", "dot.", "a" * 254, ""])
def test_kubernetes_name_must_be_a_dns_subdomain(known: dict[str, str], name: str) -> None:
    line = failed(export(known, "--format", "kubernetes", f"--name={name}", "--all"))
    assert "is not a Kubernetes name" in line


def test_all_is_what_list_lists_without_the_hub_oauth_keys(known: dict[str, str]) -> None:
    """Every secret's registry, every stored login and the codespace token; the Hub's OAuth
    bookkeeping, which `list` shows, is docker's own and never exported."""
    known.update(CODESPACES="true", GITHUB_TOKEN=GITHUB_TOKEN, GITHUB_USER="octocat")
    listed = json.loads(run_helper(known, "list").stdout)
    assert "https://index.docker.io/v1/access-token" in listed
    done = export(known, "--all")
    auths = document(done)["auths"]
    assert isinstance(auths, dict)
    assert set(auths) == set(listed) - {"https://index.docker.io/v1/access-token"}
    assert auths["ghcr.io"] == {"auth": basic_auth("octocat", GITHUB_TOKEN)}
    assert OAUTH.encode() not in done.stdout
    assert "(the credentials of 5 registries)" in note(done)


def test_refuses_without_registry_or_all(known: dict[str, str]) -> None:
    assert "one of the arguments --registry --all is required" in failed(export(known))
    assert "not allowed with" in failed(export(known, "--all", "--registry", "docker.io"))
    line = failed(export(known, "--name", "x", "--all"))
    assert "--name is for --format kubernetes" in line


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["reg.example:5000", "nowhere.example"], "no credentials for nowhere.example"),
        (
            ["reg.example:5000", "https://u:CANARY@reg.example"],
            "'***@reg.example' names no registry",
        ),
        (["https://index.docker.io/v1/access-token"], "names no registry"),
    ],
)
def test_one_registry_failing_fails_the_whole_export(
    known: dict[str, str], names: list[str], expected: str
) -> None:
    assert expected in failed(export(known, "--registry", *names))


def test_all_fails_on_a_store_it_cannot_read(known: dict[str, str]) -> None:
    """`list` goes on without a corrupt store; an export would silently lose its logins."""
    path = Path(known["XDG_DATA_HOME"]) / "docker-credential-codespaces" / "credentials.json"
    path.write_text("{not json")
    assert "is not valid JSON" in failed(export(known, "--all"))


def test_nothing_known_is_an_error_not_an_empty_document(env: dict[str, str]) -> None:
    assert "no registry to export" in failed(export(env, "--all"))


def test_writes_no_file(known: dict[str, str], tmp_path: Path) -> None:
    """The document goes to stdout only: nothing under the test's root is created or changed."""

    def tree() -> dict[str, tuple[int, int]]:
        return {
            str(p): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in tmp_path.rglob("*")
            if not p.is_dir()
        }

    before = tree()
    for form in ("docker-config", "kubernetes", "podman-auth"):
        document(export(known, "--format", form, "--all"))
    assert tree() == before


def read_pty(master: int) -> bytes:
    """What a child wrote to the terminal, read until it has been quiet for a moment."""
    data = b""
    while select.select([master], [], [], 0.5)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other end is closed and drained
            break
        if not chunk:
            break
        data += chunk
    return data


def test_refuses_to_write_to_a_terminal_unless_forced(known: dict[str, str]) -> None:
    for args, refused in ((["--all"], True), (["--all", "--force"], False)):
        master, slave = os.openpty()
        try:
            done = subprocess.run(
                [str(HELPER), "export", *args],
                stdin=subprocess.DEVNULL,
                stdout=slave,
                stderr=subprocess.PIPE,
                env=known,
                timeout=60,
                check=False,
            )
            shown = read_pty(master)
        finally:
            os.close(slave)
            os.close(master)
        if refused:
            assert done.returncode == 1 and shown == b""
            assert b"stdout is a terminal" in done.stderr and b"--force" in done.stderr
        else:
            assert done.returncode == 0, done.stderr
            assert PASSWORD.encode() in base64.b64decode(
                json.loads(shown.replace(b"\r\n", b"\n"))["auths"]["reg.example:5000"]["auth"]
            )


# --------------------------------------------------------------------------------------------
# ECR: tokens through get's own chain and cache, and when the earliest expires.


def test_ecr_token_is_fetched_as_get_does_and_its_expiry_said(
    ecr_env: dict[str, str], fake: FakeECR
) -> None:
    done = export(ecr_env, "--registry", ECR_HOST)
    (call,) = fake.calls
    assert call.ok and call.expires_at is not None
    assert document(done) == {"auths": {ECR_HOST: {"auth": call.token}}}
    assert note(done).endswith(f"; the earliest expires at {when(call.expires_at)} ({ECR_HOST})")
    # The token is the cache's, as for get: a second export and a get ask AWS no more.
    assert document(export(ecr_env, "--registry", ECR_HOST)) == document(done)
    got = json.loads(run_helper(ecr_env, "get", stdin=ECR_HOST.encode()).stdout)
    assert basic_auth(got["Username"], got["Secret"]) == call.token
    assert fake.count() == 1
    assert SECRET_KEY.encode() not in done.stdout + done.stderr


def test_the_earliest_expiry_of_several_tokens_is_said(
    ecr_env: dict[str, str], fake: FakeECR
) -> None:
    soon = time.time() + 1800
    add_secret(ecr_env, "TOK", TOKEN_HOST, "AWS", aws_token(soon))
    add_secret(ecr_env, "REG", "reg.example", "u", PASSWORD)
    done = export(ecr_env, "--all")
    auths = document(done)["auths"]
    assert isinstance(auths, dict) and set(auths) == {ECR_HOST, TOKEN_HOST, "reg.example"}
    assert auths[TOKEN_HOST] == {"auth": basic_auth("AWS", aws_token(soon))}
    assert note(done).endswith(f"; the earliest expires at {when(soon)} ({TOKEN_HOST})")


def test_with_the_cache_off_the_expiry_comes_with_the_token(
    ecr_env: dict[str, str], fake: FakeECR
) -> None:
    """The answer carries its token's expiry, so nothing needs the cache to keep it: one
    exchange, and the line says when (it once took two, and could not tell)."""
    ecr_env["DOCKER_CREDENTIAL_CODESPACES_NO_CACHE"] = "1"
    done = export(ecr_env, "--registry", ECR_HOST)
    (call,) = fake.calls
    assert call.expires_at is not None
    assert document(done) == {"auths": {ECR_HOST: {"auth": call.token}}}
    assert note(done).endswith(f"; the earliest expires at {when(call.expires_at)} ({ECR_HOST})")


def test_an_expiry_that_cannot_be_told_is_said_so(env: dict[str, str]) -> None:
    """A USER=AWS token whose expiry cannot be read is passed through, and the line says so."""
    add_secret(env, "ECR", ECR_HOST, "AWS", "opaque-registry-token")
    done = export(env, "--registry", ECR_HOST)
    assert document(done)["auths"]
    assert note(done).endswith(f"; when the ECR token of {ECR_HOST} expires cannot be told")


@pytest.mark.parametrize("mode", ["denied", "expired"])
def test_an_ecr_failure_fails_the_export_with_its_line(
    ecr_env: dict[str, str], fake: FakeECR, mode: str
) -> None:
    add_secret(ecr_env, "REG", "reg.example", "u", PASSWORD)
    if mode == "denied":
        fake.denied = True
        expected = "lacks ecr:GetAuthorizationToken"
    else:
        add_secret(ecr_env, "TOK", TOKEN_HOST, "AWS", aws_token(time.time() - 60))
        fake.reset()
        expected = "TOK_CONTAINER_REGISTRY_PASSWORD holds an ECR token that expired"
    line = failed(export(ecr_env, "--all"))
    assert expected in line
    # The same line a get gives, as the same code answers both.
    host = ECR_HOST if mode == "denied" else TOKEN_HOST
    got = run_helper(ecr_env, "get", stdin=host.encode())
    assert got.returncode == 1 and line.split(": ", 1)[1] == got.stdout.decode().strip()


# --------------------------------------------------------------------------------------------
# End to end: the clients that read an exported document pull from the htpasswd registry.


@contextlib.contextmanager
def podman_storage() -> Iterator[list[str]]:
    """podman's options for a throwaway store: short paths (its runroot must stay under about
    50 characters for the socket paths inside it), vfs, no systemd, events to a file."""
    root = Path(tempfile.mkdtemp(prefix="pm-", dir="/tmp"))
    try:
        yield [
            "--root", str(root / "r"),
            "--runroot", str(root / "rr"),
            "--storage-driver", "vfs",
            "--cgroup-manager", "cgroupfs",
            "--events-backend", "file",
        ]  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.e2e
@pytest.mark.needs("podman")
def test_podman_pulls_with_an_exported_authfile(
    registry: bed.RunningRegistry, env: dict[str, str], tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("e2e runs podman as root (rootless podman needs subuids); not root")
    running, ref, podman = registry, bed.TINY_IMAGE, "podman"
    add_secret(env, "BED", running.host, running.user, running.password)
    authfile = tmp_path / "auth.json"
    exported = export(env, "--format", "podman-auth", "--registry", running.host)
    assert document(exported) == {
        "auths": {running.host: {"auth": basic_auth(running.user, running.password)}}
    }
    authfile.write_bytes(exported.stdout)
    # podman stats DOCKER_CONFIG's config.json before anything else; give it an empty one.
    Path(env["DOCKER_CONFIG"]).mkdir(parents=True)
    (Path(env["DOCKER_CONFIG"]) / "config.json").write_text("{}")
    image = f"{running.host}/{ref}"
    with podman_storage() as storage:
        pull = [podman, *storage, "pull", "--tls-verify=false", "--quiet"]
        anonymous = run_command([*pull, image], env, None)
        assert anonymous.returncode != 0 and b"authentication required" in anonymous.stderr
        pulled = run_command([*pull, "--authfile", str(authfile), image], env, None)
        assert pulled.returncode == 0, pulled.stderr
        assert run_command([podman, *storage, "image", "exists", image], env, None).returncode == 0


def docker_version(docker: str, env: dict[str, str]) -> tuple[int, ...]:
    done = run_command([docker, "version", "--format", "{{.Client.Version}}"], env, None)
    return tuple(int(part) for part in done.stdout.decode().strip().split(".")[:2])


@pytest.mark.e2e
@pytest.mark.needs("docker")
def test_docker_reads_the_exported_config_from_docker_config_or_docker_auth_config(
    registry: bed.RunningRegistry, env: dict[str, str], tmp_path: Path
) -> None:
    """The docker CLI (client only) reads the exported config.json from a DOCKER_CONFIG
    directory, and from DOCKER_AUTH_CONFIG since 28.3; 28.2 reads that variable only for
    `run --use-api-socket`, so there `manifest inspect` stays anonymous."""
    running, ref, docker = registry, bed.TINY_IMAGE, "docker"
    add_secret(env, "BED", running.host, running.user, running.password)
    exported = export(env, "--registry", running.host).stdout
    bare = {k: v for k, v in env.items() if not k.endswith(("_SERVER", "_USER", "_PASSWORD"))}
    inspect = [docker, "manifest", "inspect", "--insecure", f"{running.host}/{ref}"]
    anonymous = run_command(inspect, bare, None)
    assert b"no basic auth credentials" in anonymous.stderr
    directory = tmp_path / "exported-docker-config"
    directory.mkdir()
    (directory / "config.json").write_bytes(exported)
    done = run_command(inspect, dict(bare, DOCKER_CONFIG=str(directory)), None)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["schemaVersion"] == 2
    variable = run_command(inspect, dict(bare, DOCKER_AUTH_CONFIG=exported.decode()), None)
    if docker_version(docker, env) >= (28, 3):
        assert variable.returncode == 0, variable.stderr
    else:
        assert b"no basic auth credentials" in variable.stderr
