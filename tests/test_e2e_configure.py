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

import json

import pytest

from beds import registry as bed
from beds.client import run_command, run_helper
from beds.environment import write_config
from beds.values import REGISTRY_PASSWORD, basic_auth

pytestmark = [pytest.mark.e2e, pytest.mark.needs("docker", "skopeo")]

#: The canary: the password of the module's registry.
CANARY = REGISTRY_PASSWORD


def spelled(name: str, user: str, password: str) -> dict[str, str]:
    """An `auths` entry holding user and password in one of the spellings docker reads."""
    pair = basic_auth(user, password)
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


@pytest.mark.parametrize("spelling", ["auth", "Auth", "AUTH", "fields", "Fields"])
def test_docker_keeps_an_inline_login_of_any_spelling_through_configure(
    registry: bed.RunningRegistry, env: dict[str, str], spelling: str
) -> None:
    ref = bed.TINY_IMAGE
    entry = spelled(spelling, registry.user, registry.password)
    write_config(env, {"auths": {registry.host: entry}})
    assert manifest_inspect(env, registry.host, ref)[0] == 0  # docker reads it inline
    configured = run_helper(env, "configure")
    assert configured.returncode == 0, configured.stderr
    code, stderr = manifest_inspect(env, registry.host, ref)
    assert code == 0, stderr  # now through the helper: credsStore hides the inline entry


def test_a_login_written_beside_our_creds_store_is_carried_for_docker_and_skopeo(
    registry: bed.RunningRegistry, env: dict[str, str]
) -> None:
    """Issue #15: docker ignores an inline login next to `credsStore: codespaces` until the
    next configure carries it; skopeo needs the credHelpers entry configure then writes."""
    ref = bed.TINY_IMAGE
    path = write_config(env, {})
    assert run_helper(env, "configure").returncode == 0
    config = json.loads(path.read_text())
    config["auths"] = {registry.host: spelled("Auth", registry.user, registry.password)}
    path.write_text(json.dumps(config))
    code, stderr = manifest_inspect(env, registry.host, ref)
    assert code != 0 and "no basic auth credentials" in stderr  # ignored under credsStore
    configured = run_helper(env, "configure")
    assert configured.returncode == 0, configured.stderr
    code, stderr = manifest_inspect(env, registry.host, ref)
    assert code == 0, stderr
    skopeo = run_command(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{registry.host}/{ref}"], env, None
    )
    assert skopeo.returncode == 0, skopeo.stderr
    assert CANARY.encode() not in skopeo.stderr + configured.stdout + configured.stderr
