"""install.sh on a fresh home: installs, wires config.json losslessly, and a pull works after.

pip installs offline from the wheelhouse that tests/run.sh builds, so the test never leaves
the machine.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from beds import registry as bed
from beds.client import imported_modules, interpreter_command
from beds.environment import isolated_environ

REPO = Path(__file__).resolve().parent.parent
WHEELHOUSE = REPO / ".venv" / "wheelhouse"

pytestmark = pytest.mark.e2e


def test_install_on_a_fresh_home_keeps_every_key_and_login(tmp_path: Path) -> None:
    if not WHEELHOUSE.is_dir():
        pytest.skip(f"no wheelhouse at {WHEELHOUSE}; tests/run.sh builds it")
    missing = [tool for tool in ("skopeo", "docker") if shutil.which(tool) is None]
    missing += bed.tools_missing()
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    home = tmp_path / "home"
    docker_config = home / ".docker"
    docker_config.mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    # HOME is tmp_path/home; PATH starts with bin_dir, where install.sh links the helper.
    env = isolated_environ(tmp_path, helper=bin_dir / "docker-credential-codespaces")
    env.update(
        DCC_PREFIX=str(tmp_path / "prefix"),
        DCC_BIN_DIR=str(bin_dir),
        DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE=str(tmp_path / "none"),
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(WHEELHOUSE),
    )
    with bed.start_registry("inline-user") as inline, bed.start_registry("secret-user") as secret:
        ref = bed.push_tiny_image(inline)
        bed.push_tiny_image(secret)
        login = base64.b64encode(f"{inline.user}:{inline.password}".encode()).decode()
        original = {
            "auths": {inline.host: {"auth": login}},
            "credHelpers": {"gcr.io": "gcloud"},
            "proxies": {"default": {"noProxy": "127.0.0.1"}},
            "x-unknown": [1, {"a": None}],
        }
        (docker_config / "config.json").write_text(json.dumps(original))
        env["BED_CONTAINER_REGISTRY_SERVER"] = secret.host
        env["BED_CONTAINER_REGISTRY_USER"] = secret.user
        env["BED_CONTAINER_REGISTRY_PASSWORD"] = secret.password

        installed = subprocess.run(
            [str(REPO / "install.sh")], env=env, capture_output=True, text=True, timeout=300
        )
        assert installed.returncode == 0, installed.stdout + installed.stderr
        assert (bin_dir / "docker-credential-codespaces").exists()

        config = json.loads((docker_config / "config.json").read_text())
        for key in ("auths", "proxies", "x-unknown"):
            assert config[key] == original[key]
        assert config["credsStore"] == "codespaces"
        assert config["credHelpers"] == {
            "gcr.io": "gcloud",
            inline.host: "codespaces",
            secret.host: "codespaces",
        }

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)

        # The inline login now answers through the helper, for skopeo and for docker.
        inspected = run("skopeo", "inspect", "--tls-verify=false", f"docker://{inline.host}/{ref}")
        assert inspected.returncode == 0, inspected.stderr
        manifest = run("docker", "manifest", "inspect", "--insecure", f"{inline.host}/{ref}")
        assert manifest.returncode == 0, manifest.stderr
        inspected = run("skopeo", "inspect", "--tls-verify=false", f"docker://{secret.host}/{ref}")
        assert inspected.returncode == 0, inspected.stderr

        # The installed executable is the launcher's: Python isolated and without `site`,
        # importing nothing heavy on the hot path.
        wrapper = bin_dir / "docker-credential-codespaces"
        assert interpreter_command(wrapper) == [str(tmp_path / "prefix" / "bin" / "python"), "-IS"]
        assert str(REPO) not in wrapper.read_text()  # the installed package, not this checkout
        modules = imported_modules(env, "get", wrapper=wrapper, stdin=secret.host.encode())
        assert {"site", "re", "json", "typing", "boto3", "botocore", "subprocess"}.isdisjoint(
            modules
        )
        assert "docker_credential_codespaces.chain" in modules

        again = subprocess.run(
            [str(REPO / "install.sh")], env=env, capture_output=True, text=True, timeout=300
        )
        assert again.returncode == 0
        assert "nothing to change" in again.stdout
