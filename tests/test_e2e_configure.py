"""End to end: the docker CLI and skopeo read what `configure` did with the inline logins.

docker decodes config.json with Go's encoding/json, so it honours an inline login in every
spelling (`auth`, `Auth`, `AUTH`, `username` with `password`) and ignores all of them once
`credsStore` is set. Each test first proves with the real docker CLI that the spelling works
inline, then that configure carried it, also when it was written next to a credsStore that
already names the helper (as Codespaces writes its registries after creation). The registry
is Debian's, on 127.0.0.1 with basic auth (beds/registry.py); docker runs without an engine:
`manifest inspect --insecure` asks the helper and talks to the registry itself.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from beds import registry as bed
from beds.client import run_command, run_helper
from beds.environment import isolated_environ

pytestmark = pytest.mark.e2e

CANARY = "CANARY-e2e-configure"


@pytest.fixture(scope="module")
def registry() -> Iterator[tuple[bed.RunningRegistry, str]]:
    missing = bed.tools_missing() + [t for t in ("docker", "skopeo") if not shutil.which(t)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}; tests/run.sh installs them")
    with bed.start_registry(user="inline-user", password=CANARY) as running:
        yield running, bed.push_tiny_image(running)


def spelled(name: str, user: str, password: str) -> dict[str, str]:
    """An `auths` entry holding user and password in one of the spellings docker reads."""
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {
        "auth": {"auth": pair},
        "Auth": {"Auth": pair},
        "AUTH": {"AUTH": pair},
        "fields": {"username": user, "password": password},
        "Fields": {"Username": user, "Password": password},
    }[name]


def manifest_inspect(env: dict[str, str], host: str, ref: str) -> tuple[int, str]:
    done = run_command(["docker", "manifest", "inspect", "--insecure", f"{host}/{ref}"], env, None)
    assert CANARY.encode() not in done.stdout + done.stderr
    return done.returncode, done.stderr.decode(errors="replace")


def write(env: dict[str, str], config: dict[str, object]) -> Path:
    path = Path(env["DOCKER_CONFIG"]) / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))
    return path


@pytest.mark.parametrize("spelling", ["auth", "Auth", "AUTH", "fields", "Fields"])
def test_docker_keeps_an_inline_login_of_any_spelling_through_configure(
    registry: tuple[bed.RunningRegistry, str], tmp_path: Path, spelling: str
) -> None:
    running, ref = registry
    env = isolated_environ(tmp_path)
    entry = spelled(spelling, running.user, running.password)
    write(env, {"auths": {running.host: entry}})
    assert manifest_inspect(env, running.host, ref)[0] == 0  # docker reads it inline
    configured = run_helper(env, "configure")
    assert configured.returncode == 0, configured.stderr
    code, stderr = manifest_inspect(env, running.host, ref)
    assert code == 0, stderr  # now through the helper: credsStore hides the inline entry


def test_a_login_written_beside_our_creds_store_is_carried_for_docker_and_skopeo(
    registry: tuple[bed.RunningRegistry, str], tmp_path: Path
) -> None:
    """Issue #15: docker ignores an inline login next to `credsStore: codespaces` until the
    next configure carries it; skopeo needs the credHelpers entry configure then writes."""
    running, ref = registry
    env = isolated_environ(tmp_path)
    path = write(env, {})
    assert run_helper(env, "configure").returncode == 0
    config = json.loads(path.read_text())
    config["auths"] = {running.host: spelled("Auth", running.user, running.password)}
    path.write_text(json.dumps(config))
    code, stderr = manifest_inspect(env, running.host, ref)
    assert code != 0 and "no basic auth credentials" in stderr  # ignored under credsStore
    configured = run_helper(env, "configure")
    assert configured.returncode == 0, configured.stderr
    code, stderr = manifest_inspect(env, running.host, ref)
    assert code == 0, stderr
    skopeo = run_command(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{running.host}/{ref}"], env, None
    )
    assert skopeo.returncode == 0, skopeo.stderr
    assert CANARY.encode() not in skopeo.stderr + configured.stdout + configured.stderr
