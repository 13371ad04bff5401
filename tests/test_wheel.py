"""The real build and the installs from it: what the sdist and the wheel hold, and that pip and
pipx install an executable that answers and starts as lightly as the launcher's.

tests/run.sh builds the sdist and the wheel (from the sdist) into .venv/dist, checks both with
twine, and fills .venv/wheelhouse, from which everything here installs offline. The pip test
uses the fresh venv's own bundled pip, as a person's `python -m venv` and `pip install` would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from beds.client import imported_modules, interpreter_command, run_helper
from beds.environment import add_secret, isolated_environ

REPO = Path(__file__).resolve().parent.parent
DIST = REPO / ".venv" / "dist"
WHEELHOUSE = REPO / ".venv" / "wheelhouse"
PROGRAM = "docker-credential-codespaces"
PACKAGE = "docker_credential_codespaces"
ANSWER = b'{"ServerURL":"ghcr.io","Username":"u","Secret":"p"}\n'

pytestmark = pytest.mark.slow


def built(pattern: str) -> Path:
    found = sorted(DIST.glob(pattern))
    if not found:
        pytest.skip(f"no {pattern} in {DIST}; tests/run.sh builds it")
    return found[-1]


def test_the_sdist_holds_the_package_tests_beds_bench_and_docs() -> None:
    with tarfile.open(built("*.tar.gz")) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    tops = {name.split("/", 1)[0] for name in names}
    expected = {PACKAGE, "scripts", "tests", "beds", "bench", ".ci", ".github", ".devcontainer"}
    expected |= {"pyproject.toml", "README.md", "install.sh", "PKG-INFO"}
    if (REPO / "docs").is_dir() and any((REPO / "docs").iterdir()):
        expected.add("docs")
    assert expected <= tops
    assert {"tests/run.sh", "tests/test_wheel.py", "bench/__main__.py", "beds/client.py"} <= names
    # tests/run.sh lints the workflows and installs the Node tools from their lockfile.
    assert {".github/workflows/release.yml", ".ci/node/package-lock.json"} <= names
    assert not any(part.startswith(".venv") for part in tops)


def test_the_wheel_holds_only_the_package_and_its_script() -> None:
    wheel = built("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        script = archive.read(next(n for n in names if "/scripts/" in n))
        entry_points = [n for n in names if n.endswith("entry_points.txt")]
    version = wheel.name.split("-")[1]
    for name in names:
        assert name.startswith((f"{PACKAGE}/", f"{PACKAGE}-{version}.dist-info/")) or (
            name == f"{PACKAGE}-{version}.data/scripts/{PROGRAM}"
        ), name
    # A plain script for pip to rewrite, and no console-script entry point beside it.
    assert script.startswith(b"#!python\n")
    assert b"import re" not in script
    assert entry_points == []


def install_env(root: Path, helper: Path) -> dict[str, str]:
    env = isolated_environ(root, helper)
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(WHEELHOUSE))
    return env


def run(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.fixture(scope="module")
def pip_installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The executable that `python -m venv V && V/bin/python -m pip install WHEEL` writes."""
    wheel = built("*.whl")
    root = tmp_path_factory.mktemp("pip")
    venv = root / "venv"
    env = install_env(root, venv / "bin" / PROGRAM)
    run([sys.executable, "-m", "venv", str(venv)], env)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)], env)
    return venv / "bin" / PROGRAM


@pytest.fixture(scope="module")
def pipx_installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The executable that `pipx install WHEEL` links onto its PATH directory."""
    wheel = built("*.whl")
    pipx = Path(sys.executable).parent / "pipx"
    if not os.access(pipx, os.X_OK):
        pytest.skip(f"no {pipx}; the test extras install pipx")
    root = tmp_path_factory.mktemp("pipx")
    bin_dir = root / "bin"
    env = install_env(root, bin_dir / PROGRAM)
    env.update(PIPX_HOME=str(root / "pipx"), PIPX_BIN_DIR=str(bin_dir))
    env.update(PIPX_MAN_DIR=str(root / "man"))
    run([str(pipx), "install", "--python", sys.executable, str(wheel)], env)
    return bin_dir / PROGRAM


@pytest.fixture(params=["pip", "pipx"])
def installed(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(f"{request.param}_installed")


def test_the_installed_executable_answers_get(installed: Path, tmp_path: Path) -> None:
    env = isolated_environ(tmp_path, installed)
    add_secret(env, "GH", "ghcr.io", "u", "p")
    result = run_helper(env, "get", stdin=b"ghcr.io", helper=installed)
    assert (result.returncode, result.stdout, result.stderr) == (0, ANSWER, b"")


def test_the_installed_script_runs_the_venvs_own_interpreter(installed: Path) -> None:
    """The installer rewrote `#!python` to its venv's interpreter, whatever flags it adds."""
    interpreter = Path(interpreter_command(installed)[0])
    assert interpreter.parent == installed.resolve().parent
    assert (interpreter.parent.parent / "pyvenv.cfg").is_file()


def python_pass_modules(interpreter: str, env: dict[str, str]) -> set[str]:
    """What the venv's `python -c pass` imports: the interpreter's floor and `site`'s own."""
    argv = [interpreter, "-X", "importtime", "-c", "pass"]
    result = subprocess.run(argv, env=env, capture_output=True, timeout=60, check=True)
    return {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.decode().splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_the_installed_executable_imports_nothing_the_launchers_does_not(
    installed: Path, tmp_path: Path
) -> None:
    """A start-up fact, not a timing: the script pip or pipx wrote loads no module (`re` above
    all) beyond what the launcher's executable for the same venv loads and what `site` loads
    for any `python -c pass` there."""
    interpreter = interpreter_command(installed)[0]
    launched = tmp_path / "launcher" / PROGRAM
    launched.parent.mkdir()
    env = isolated_environ(tmp_path, installed)
    run([interpreter, "-I", "-m", f"{PACKAGE}.launcher", str(launched)], env)
    add_secret(env, "GH", "ghcr.io", "u", "p")
    modules = imported_modules(env, "get", wrapper=installed, stdin=b"ghcr.io")
    launcher = imported_modules(env, "get", wrapper=launched, stdin=b"ghcr.io")
    assert "re" not in modules
    assert f"{PACKAGE}.chain" in modules
    assert modules - launcher - python_pass_modules(interpreter, env) == set()
    # docs/install.md's way to the fastest start: the launcher, run by the installed venv.
    assert interpreter_command(launched) == [interpreter, "-IS"]
    answer = run_helper(env, "get", stdin=b"ghcr.io", helper=launched)
    assert (answer.returncode, answer.stdout, answer.stderr) == (0, ANSWER, b"")
