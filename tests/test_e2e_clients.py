"""End to end: the real clients (skopeo, the docker CLI, docker-py) talk to the installed helper.

Each test runs in a sandbox built from nothing (beds/sandbox.py): a temporary HOME,
DOCKER_CONFIG, XDG directories, store and cache directories, a secrets file path that does not
exist, and a PATH of the helper's directory and the machine's programs without its credential
helpers (beds/environment.py). Nothing of the host environment is inherited, so the host's
secrets, `~/.docker/config.json`, `~/.config/containers/auth.json` or
`/run/containers/0/auth.json` can never answer in the helper's place (an `auths` entry in a
containers auth.json shadows `credHelpers` for skopeo). The registries (`registries`,
tests/conftest.py) are the Debian distribution registry on 127.0.0.1 over plain HTTP: one a
secret covers, one for logins (with basic auth both) and one open to anyone.

Client facts the assertions rely on (docker CLI 28.2, skopeo 1.9.3, docker-py 7):
- skopeo ignores `credsStore` and asks a helper only through `credHelpers`; it needs
  `--tls-verify=false` (inspect) or `--src-tls-verify=false` (copy) for plain HTTP.
- skopeo reports a rejected password and an anonymous request alike: `unauthorized:
  authentication required`. A helper error other than not-found gives `error getting
  credentials`.
- docker without an engine: `login -u U --password-stdin` tries https, falls back to http for
  127.0.0.1 and runs only `store` (no `get`); `logout` runs `erase` for the host, then for
  `host`, `http://host` and `https://host`, and exits 0 whatever they answer; `manifest inspect
  --insecure` runs `get`. Anonymous against a basic-auth registry it says `no basic auth
  credentials`.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from beds import registry as bed
from beds.client import PROGRAM
from beds.registry import Registries
from beds.sandbox import Sandbox
from beds.values import NOT_FOUND, REGISTRY_PASSWORD
from docker_credential_codespaces.constants import HELPER_NAME

pytestmark = pytest.mark.e2e

#: The canary a secret holds: the password of the module's registry.
CANARY = REGISTRY_PASSWORD


# --------------------------------------------------------------------------------------------
# (a) and (b): skopeo through the helper, with the secret in the environment.


def test_configure_wires_credsstore_and_the_secret_registry(
    registries: Registries, sandbox: Sandbox
) -> None:
    sandbox.add_secret(registries.secret)
    config = sandbox.configure()
    assert config.get("credsStore") == HELPER_NAME
    assert config.get("credHelpers") == {registries.secret.host: HELPER_NAME}


@pytest.mark.needs("skopeo")
def test_skopeo_inspect_and_copy_through_the_secret(
    registries: Registries, sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.add_secret(registries.secret)
    sandbox.configure()

    inspected = sandbox.skopeo_inspect(registries.secret.host, registries.ref)
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout)["Digest"] == bed.manifest_digest(
        registries.secret, registries.ref
    )

    to_dir = sandbox.skopeo_copy(
        registries.secret.host, registries.ref, f"dir:{tmp_path / 'out-dir'}"
    )
    assert to_dir.returncode == 0, to_dir.stderr
    assert (tmp_path / "out-dir" / "manifest.json").is_file()

    to_oci = sandbox.skopeo_copy(
        registries.secret.host, registries.ref, f"oci:{tmp_path / 'out-oci'}:v1"
    )
    assert to_oci.returncode == 0, to_oci.stderr
    assert (tmp_path / "out-oci" / "index.json").is_file()

    for done in (inspected, to_dir, to_oci):
        assert PROGRAM not in done.stderr, "the helper must be silent on success"


@pytest.mark.needs("skopeo", "docker")
def test_wrong_secret_password_fails_with_an_authentication_error(
    registries: Registries, sandbox: Sandbox, tmp_path: Path
) -> None:
    wrong = "WRONG-" + secrets.token_hex(8)
    sandbox.add_secret(registries.secret, password=wrong)
    sandbox.configure()

    got = sandbox.helper("get", stdin=registries.secret.host)
    assert got.returncode == 0
    assert json.loads(got.stdout)["Secret"] == wrong

    for done in (
        sandbox.skopeo_inspect(registries.secret.host, registries.ref),
        sandbox.skopeo_copy(registries.secret.host, registries.ref, f"dir:{tmp_path / 'out'}"),
    ):
        assert done.returncode != 0
        assert "unauthorized: authentication required" in done.stderr
        assert "error getting credentials" not in done.stderr
        assert wrong not in done.stderr
    assert not (tmp_path / "out" / "manifest.json").exists()

    # docker, given rejected credentials, reports the manifest as missing.
    done = sandbox.manifest_inspect(registries.secret.host, registries.ref)
    assert done.returncode != 0
    assert done.stdout == ""
    assert wrong not in done.stderr


@pytest.mark.needs("skopeo", bed.REGISTRY_BINARY, bed.HTPASSWD_BINARY)
def test_registry_down_is_not_blamed_on_the_helper(sandbox: Sandbox) -> None:
    with bed.start_registry() as registry:
        ref = bed.push_tiny_image(registry)
        sandbox.add_secret(registry)
        sandbox.configure()
        registry.stop()
        done = sandbox.skopeo_inspect(registry.host, ref)
    assert done.returncode != 0
    assert "connection refused" in done.stderr
    assert "error getting credentials" not in done.stderr


# --------------------------------------------------------------------------------------------
# (c): the docker CLI, without an engine.


@pytest.mark.needs("docker")
def test_docker_login_manifest_inspect_logout_for_a_registry_without_secret(
    registries: Registries, sandbox: Sandbox
) -> None:
    registry = registries.login
    config = sandbox.configure()
    assert config.get("credsStore") == HELPER_NAME
    assert sandbox.listed() == {}

    anonymous = sandbox.manifest_inspect(registry.host, registries.ref)
    assert anonymous.returncode != 0
    assert "no basic auth credentials" in anonymous.stderr

    login = sandbox.docker_login(registry.host, registry.user, registry.password)
    assert login.returncode == 0, login.stderr
    assert "Login Succeeded" in login.stdout
    assert sandbox.stored() == {
        registry.host: {"Username": registry.user, "Secret": registry.password}
    }
    assert sandbox.listed() == {registry.host: registry.user}
    auths = sandbox.config().get("auths")
    assert isinstance(auths, dict)
    assert auths.get(registry.host) == {}, "with credsStore docker keeps no secret inline"

    inspected = sandbox.manifest_inspect(registry.host, registries.ref)
    assert inspected.returncode == 0, inspected.stderr
    manifest = json.loads(inspected.stdout)
    assert manifest["schemaVersion"] == 2
    assert manifest["layers"][0]["size"] > 0

    logout = sandbox.run(["docker", "logout", registry.host])
    assert logout.returncode == 0, logout.stderr
    assert PROGRAM not in logout.stderr, "erase of an unknown variant must be a silent success"
    assert sandbox.stored() == {}
    assert sandbox.listed() == {}
    got = sandbox.helper("get", stdin=registry.host)
    assert (got.returncode, got.stdout) == (1, NOT_FOUND.decode())

    again = sandbox.run(["docker", "logout", registry.host])
    assert again.returncode == 0, again.stderr


@pytest.mark.needs("docker", "skopeo")
def test_skopeo_uses_a_docker_login_after_configure(
    registries: Registries, sandbox: Sandbox
) -> None:
    registry = registries.login
    sandbox.configure()
    assert sandbox.docker_login(registry.host, registry.user, registry.password).returncode == 0
    sandbox.configure()
    done = sandbox.skopeo_inspect(registry.host, registries.ref)
    assert done.returncode == 0, done.stderr


@pytest.mark.needs("docker")
def test_docker_login_with_a_wrong_password_stores_nothing(
    registries: Registries, sandbox: Sandbox
) -> None:
    registry = registries.login
    sandbox.configure()
    wrong = "WRONG-" + secrets.token_hex(8)
    login = sandbox.docker_login(registry.host, registry.user, wrong)
    assert login.returncode == 1
    assert "401 Unauthorized" in login.stderr
    assert wrong not in login.stderr
    assert sandbox.stored() == {}


@pytest.mark.needs("docker")
def test_docker_login_to_a_secret_covered_registry_changes_nothing(
    registries: Registries, sandbox: Sandbox
) -> None:
    registry = registries.secret
    sandbox.add_secret(registry)
    sandbox.configure()
    before = sandbox.listed()
    assert before == {registry.host: registry.user}

    login = sandbox.docker_login(registry.host, registry.user, registry.password)
    assert login.returncode == 0, login.stderr
    assert "Login Succeeded" in login.stdout
    assert PROGRAM in login.stderr, "the helper should say that it stored nothing"
    assert registry.host not in sandbox.stored()
    assert sandbox.listed() == before

    got = sandbox.helper("get", stdin=registry.host)
    assert got.returncode == 0
    assert json.loads(got.stdout)["Username"] == registry.user

    logout = sandbox.run(["docker", "logout", registry.host])
    assert logout.returncode == 0
    assert sandbox.listed() == before, "the secret stays the truth after a logout"
    inspected = sandbox.manifest_inspect(registry.host, registries.ref)
    assert inspected.returncode == 0, inspected.stderr


# --------------------------------------------------------------------------------------------
# (d): a registry the helper knows nothing of.


@pytest.mark.needs("docker", "skopeo")
def test_unknown_registry_gives_exact_not_found_and_clients_go_on_anonymously(
    registries: Registries, sandbox: Sandbox
) -> None:
    host = registries.login.host  # no login stored here: the helper knows nothing of it
    sandbox.add_secret(registries.secret)
    sandbox.configure()
    # skopeo ignores credsStore: name the helper for this host so that skopeo asks it too.
    sandbox.add_cred_helper(host)

    for server_url in (host, f"https://{host}", f"http://{host}", f"{host}/bed/tiny"):
        got = sandbox.helper("get", stdin=server_url)
        assert (got.returncode, got.stdout, got.stderr) == (1, NOT_FOUND.decode(), ""), server_url

    # With debug hints on, the helper's stderr shows in the clients' stderr: proof it was asked.
    sandbox.env["DOCKER_CREDENTIAL_CODESPACES_DEBUG"] = "1"
    docker = sandbox.manifest_inspect(host, registries.ref)
    assert docker.returncode != 0
    assert "no basic auth credentials" in docker.stderr
    assert "error getting credentials" not in docker.stderr
    assert PROGRAM in docker.stderr

    skopeo = sandbox.skopeo_inspect(host, registries.ref)
    assert skopeo.returncode != 0
    assert "unauthorized: authentication required" in skopeo.stderr
    assert "error getting credentials" not in skopeo.stderr
    assert PROGRAM in skopeo.stderr


# --------------------------------------------------------------------------------------------
# (e): docker-py, in a child process so that only the sandbox's environment is seen.

DOCKER_PY_SCRIPT = r"""
import json, sys
import docker.auth
from docker.credentials import Store
from docker.credentials.errors import CredentialsNotFound, StoreError

login_host, user, password, secret_host, unknown_host = sys.argv[1:6]
store = Store("codespaces")
results = {}

def attempt(name, call):
    try:
        value = call()
        results[name] = {"ok": value if not isinstance(value, bytes) else value.decode()}
    except CredentialsNotFound as error:
        results[name] = {"raised": "CredentialsNotFound", "message": str(error)}
    except StoreError as error:
        results[name] = {"raised": "StoreError", "message": str(error)}

attempt("list_before", store.list)
attempt("get_unknown", lambda: store.get(unknown_host))
attempt("store", lambda: store.store(login_host, user, password))
attempt("get", lambda: store.get(login_host))
attempt("list_after_store", store.list)
attempt("get_secret", lambda: store.get(secret_host))
attempt("store_secret", lambda: store.store(secret_host, "someone-else", "not-the-secret"))
attempt("get_secret_after_store", lambda: store.get(secret_host))
config = docker.auth.load_config()
attempt("resolve_login", lambda: config.resolve_authconfig(login_host))
attempt("resolve_unknown", lambda: config.resolve_authconfig(unknown_host))
attempt("all_credentials", config.get_all_credentials)
attempt("erase", lambda: store.erase(login_host))
attempt("erase_again", lambda: store.erase(login_host))
attempt("get_after_erase", lambda: store.get(login_host))
attempt("list_after_erase", store.list)
print(json.dumps(results))
"""


def test_docker_py_store_get_erase_list(registries: Registries, sandbox: Sandbox) -> None:
    login, secret, unknown = registries.login, registries.secret, registries.open
    sandbox.add_secret(secret)
    sandbox.configure()
    # docker-py runs `list` with its own stdin: a pipe nobody closes proves list never reads it.
    read_end, write_end = os.pipe()
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                DOCKER_PY_SCRIPT,
                login.host,
                login.user,
                login.password,
                secret.host,
                unknown.host,
            ],
            stdin=read_end,
            capture_output=True,
            encoding="utf-8",
            env=sandbox.env,
            cwd=sandbox.root,
            timeout=sandbox.timeout,
            check=False,
        )
    finally:
        os.close(read_end)
        os.close(write_end)
    sandbox.runs.append(done)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    not_found = {
        "raised": "CredentialsNotFound",
        "message": "No matching credentials in docker-credential-codespaces",
    }
    secret_creds = {"ServerURL": secret.host, "Username": secret.user, "Secret": secret.password}

    assert results["list_before"] == {"ok": {secret.host: secret.user}}
    assert results["get_unknown"] == not_found
    assert results["store"] == {"ok": ""}
    assert results["get"] == {
        "ok": {"ServerURL": login.host, "Username": login.user, "Secret": login.password}
    }
    assert results["list_after_store"] == {"ok": {secret.host: secret.user, login.host: login.user}}
    assert results["get_secret"] == {"ok": secret_creds}
    assert results["store_secret"] == {"ok": ""}
    assert results["get_secret_after_store"] == {"ok": secret_creds}
    assert results["resolve_login"]["ok"]["Username"] == login.user
    assert results["resolve_login"]["ok"]["Password"] == login.password
    assert results["resolve_unknown"] == {"ok": None}
    all_credentials = results["all_credentials"]["ok"]
    assert all_credentials[login.host]["Password"] == login.password
    assert all_credentials[secret.host]["Password"] == secret.password
    assert results["erase"] == {"ok": None}
    assert results["erase_again"] == {"ok": None}, "erase must be idempotent"
    assert results["get_after_erase"] == not_found
    assert results["list_after_erase"] == {"ok": {secret.host: secret.user}}
    assert secret.host not in sandbox.stored()


# --------------------------------------------------------------------------------------------
# (f): the canary secret never leaks.


@pytest.mark.needs("docker", "skopeo")
def test_canary_secret_never_leaks(
    registries: Registries, sandbox: Sandbox, tmp_path: Path
) -> None:
    registry = registries.secret
    assert registry.password == CANARY
    sandbox.env["DOCKER_CREDENTIAL_CODESPACES_DEBUG"] = "1"
    sandbox.add_secret(registry)
    sandbox.configure()

    got = sandbox.helper("get", stdin=registry.host)
    assert json.loads(got.stdout)["Secret"] == CANARY, "get is the one place it must appear"
    listed = sandbox.helper("list")
    assert CANARY not in listed.stdout

    assert sandbox.skopeo_inspect(registry.host, registries.ref).returncode == 0
    assert (
        sandbox.skopeo_copy(registry.host, registries.ref, f"dir:{tmp_path / 'o'}").returncode == 0
    )
    assert sandbox.manifest_inspect(registry.host, registries.ref).returncode == 0
    assert sandbox.docker_login(registry.host, registry.user, CANARY).returncode == 0
    stored = sandbox.helper(
        "store",
        stdin=json.dumps({"ServerURL": registry.host, "Username": "x", "Secret": CANARY}),
    )
    assert stored.returncode == 0
    assert sandbox.run(["docker", "logout", registry.host]).returncode == 0
    sandbox.helper("erase", stdin=registry.host)

    # A rejected canary: the password is wrong, every error message is still clean.
    wrong_canary = CANARY + "-wrong"
    sandbox.add_secret(registry, password=wrong_canary)
    assert sandbox.skopeo_inspect(registry.host, registries.ref).returncode != 0
    assert sandbox.manifest_inspect(registry.host, registries.ref).returncode != 0
    assert sandbox.helper("list").returncode == 0

    for stderr in sandbox.stderrs:
        assert CANARY not in stderr
    assert not sandbox.store_file.exists() or CANARY not in sandbox.store_file.read_text()
    assert CANARY not in sandbox.docker_config.read_text()
    for path in sandbox.root.rglob("*"):
        if path.is_file() and path.parent.name != "o":
            assert CANARY.encode() not in path.read_bytes(), f"canary written to {path}"
