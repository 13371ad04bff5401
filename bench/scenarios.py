"""The scenarios: each one command, in its own environment from the one builder, with a check.

Every scenario gets a private environment from `beds.environment` under its own directory, so
no scenario sees another's files; the helper's answer is checked on every run, so a number is
never that of a wrong answer. The names are in `bench.targets`.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

from beds.aws import FakeECR, endpoint_env
from beds.client import run_helper, wait_for_refreshers
from beds.environment import add_secret, isolated_environ
from bench.targets import (
    BASELINE,
    BASELINE_1000,
    BASELINE_BOTO3,
    BASELINE_BOTOCORE,
    BASELINE_ISOLATED,
    GET_ECR_CACHED,
    GET_ECR_COLD,
    GET_ECR_DUE,
    GET_NOT_FOUND,
    GET_PLAIN,
    GET_TRIPLES,
    INSTALL_PATHS,
    LIST_50,
    PEER_CACHED,
)
from docker_credential_codespaces.constants import PACKAGE, PROGRAM
from docker_credential_codespaces.ecr.cache import decode, encode
from docker_credential_codespaces.ecr.token import Token

PEER = "docker-credential-ecr-login"
PEER_INSTALL = "apt-get install --no-install-recommends amazon-ecr-credential-helper"
NOT_FOUND = b"credentials not found in native keychain\n"

# FakeECR accepts these access keys; cold, cached and the round trip each use their own, so
# the server's per-key call counts prove what each scenario did.
KEY_COLD = ("AKIAIOSFODNN7BENCH01", "bench-secret-0001-wJalrXUtnFEMIK7MDENG")
KEY_CACHED = ("AKIAIOSFODNN7BENCH02", "bench-secret-0002-je7MtGbClwBF/2Zp9Utk")
KEY_RTT = ("AKIAIOSFODNN7BENCH03", "bench-secret-0003-bPxRfiCYEXAMPLEKEY00")
KEY_DUE = ("AKIAIOSFODNN7BENCH04", "bench-secret-0004-Zp9UtkJalrXUtnFEMIK7")
ECR_HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
ECR_REGION = "eu-west-1"
PLAIN_HOST = "ghcr.io"
PLAIN_USER = "octocat"
PLAIN_PASSWORD = "ghp_" + "b" * 36  # the shape of a GitHub token

REPO = Path(__file__).resolve().parent.parent
#: What tests/run.sh builds: the package's wheel, its dependencies, hatchling and pip.
WHEELHOUSE = REPO / ".venv" / "wheelhouse"
FEATURE_INSTALLER = REPO / ".devcontainer" / "features" / PROGRAM / "install.sh"
INSTALL_TIMEOUT = 600.0


class Scenario:
    """One command in one prepared environment, and the samples measured for it."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        stdin: bytes = b"",
        check: Callable[[int, bytes], str | None] | None = None,
        prepare: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.stdin = stdin
        self.check = check  # the answer's problem, or None when it is right
        self.prepare = prepare  # untimed, before every run (the cold cache deletes its file)
        self.unavailable = ""  # why it was not measured; shown in its row
        self.walls: list[float] = []  # seconds
        self.rss: list[int] = []  # KiB
        self.failures: list[str] = []


def base_env(root: Path, name: str, helper: str) -> dict[str, str]:
    """The one builder's private environment, in a directory of its own for scenario `name`."""
    directory = root / "".join(c if c.isalnum() else "-" for c in name)
    return isolated_environ(directory, Path(helper))


def expect_credentials(
    username: str, secret: str | None = None
) -> Callable[[int, bytes], str | None]:
    """A check that the answer is a credentials object for `username` (and `secret`)."""

    def check(code: int, stdout: bytes) -> str | None:
        if code != 0:
            return f"exit {code}: {stdout[:200]!r}"
        try:
            answer = json.loads(stdout)
        except ValueError:
            return f"not JSON: {stdout[:200]!r}"
        if answer.get("Username") != username:
            return f"username {answer.get('Username')!r}, expected {username!r}"
        if secret is not None and answer.get("Secret") != secret:
            return "wrong secret"
        return None

    return check


def expect_not_found(code: int, stdout: bytes) -> str | None:
    """The check for a registry nobody knows: docker's exact not-found line, exit 1."""
    if code == 1 and stdout == NOT_FOUND:
        return None
    return f"exit {code}: {stdout[:200]!r}"


def expect_exit_zero(code: int, stdout: bytes) -> str | None:
    """The check for the baselines: they only have to run."""
    return None if code == 0 else f"exit {code}"


def expect_listing(count: int) -> Callable[[int, bytes], str | None]:
    """A check that `list` printed `count` registries."""

    def check(code: int, stdout: bytes) -> str | None:
        if code != 0:
            return f"exit {code}: {stdout[:200]!r}"
        try:
            found = len(json.loads(stdout))
        except (ValueError, TypeError):
            return f"not JSON: {stdout[:200]!r}"
        return None if found == count else f"{found} registries, expected {count}"

    return check


def triple_password(index: int) -> str:
    """A deterministic password of a realistic length for synthetic triple `index`."""
    return f"pw-{index:04d}-" + "x" * 32


def with_triples(env: dict[str, str], count: int) -> dict[str, str]:
    """`env` plus `count` plain triples R0000..; a few name ECR hosts, as real codespaces do."""
    result = dict(env)
    for i in range(count):
        if i % 10 == 9:
            server = f"{100000000000 + i}.dkr.ecr.us-east-1.amazonaws.com"
            add_secret(result, f"R{i:04d}", server, "AWS", triple_password(i))
        else:
            add_secret(
                result, f"R{i:04d}", f"registry-{i:04d}.example.com", f"user{i}", triple_password(i)
            )
    return result


def past_refresh_point(env: dict[str, str], helper: Path) -> Callable[[], None]:
    """A `prepare` that leaves the scenario's cached token due but good (fetched 7 hours ago,
    5 hours left), once the refresher the last run started has finished: each timed `get`
    answers with it and starts one refresher, whose work is not timed."""
    cache_glob = os.path.join(env["XDG_CACHE_HOME"], PROGRAM, "ecr-*.token")

    def prepare() -> None:
        wait_for_refreshers(env)
        if not glob.glob(cache_glob):
            run_helper(env, "get", stdin=ECR_HOST.encode(), helper=helper)
        (path,) = glob.glob(cache_glob)
        token = decode(Path(path).read_bytes())
        assert token is not None, "the helper wrote a cache file the bench cannot read"
        now = time.time()
        Path(path).write_bytes(encode(Token(token.password, now + 5 * 3600, now - 7 * 3600)))

    return prepare


def build_scenarios(root: Path, python: str, helper: str, fake: FakeECR) -> list[Scenario]:
    """Every scenario with its own prepared environment (the peer's is added separately)."""
    get = [helper, "get"]
    scenarios = []

    env = base_env(root, BASELINE, helper)
    scenarios.append(Scenario(BASELINE, [python, "-c", "pass"], env, check=expect_exit_zero))

    # The floor of the launcher's wrapper, which starts Python this way; no target.
    env = base_env(root, BASELINE_ISOLATED, helper)
    argv = [python, "-I", "-S", "-c", "pass"]
    scenarios.append(Scenario(BASELINE_ISOLATED, argv, env, check=expect_exit_zero))

    env = base_env(root, GET_PLAIN, helper)
    add_secret(env, "GHCR", PLAIN_HOST, PLAIN_USER, PLAIN_PASSWORD)
    check = expect_credentials(PLAIN_USER, PLAIN_PASSWORD)
    scenarios.append(Scenario(GET_PLAIN, get, env, PLAIN_HOST.encode(), check))

    # The codespace has a secret, but docker asks about the Hub: the commonest miss.
    env = base_env(root, GET_NOT_FOUND, helper)
    add_secret(env, "GHCR", PLAIN_HOST, PLAIN_USER, PLAIN_PASSWORD)
    stdin = b"https://index.docker.io/v1/"
    scenarios.append(Scenario(GET_NOT_FOUND, get, env, stdin, expect_not_found))

    # The cache key covers the endpoint, so the runs keep the FakeECR endpoint that filled it.
    env = base_env(root, GET_ECR_CACHED, helper)
    env.update(endpoint_env(fake.endpoint_url))
    add_secret(env, "ECR", ECR_HOST, *KEY_CACHED)
    scenarios.append(
        Scenario(GET_ECR_CACHED, get, env, ECR_HOST.encode(), expect_credentials("AWS"))
    )

    env = base_env(root, GET_ECR_DUE, helper)
    env.update(endpoint_env(fake.endpoint_url))
    add_secret(env, "ECR", ECR_HOST, *KEY_DUE)
    scenarios.append(
        Scenario(
            GET_ECR_DUE,
            get,
            env,
            ECR_HOST.encode(),
            expect_credentials("AWS"),
            past_refresh_point(env, Path(helper)),
        )
    )

    env = with_triples(base_env(root, LIST_50, helper), 50)
    scenarios.append(Scenario(LIST_50, [helper, "list"], env, b"", expect_listing(50)))

    for count, name in GET_TRIPLES.items():
        env = with_triples(base_env(root, name, helper), count)
        last = count - 1  # the last by prefix; every triple is read either way
        host = f"registry-{last:04d}.example.com"
        if last % 10 == 9:
            last -= 1
            host = f"registry-{last:04d}.example.com"
        check = expect_credentials(f"user{last}", triple_password(last))
        scenarios.append(Scenario(name, get, env, host.encode(), check))

    # How much of the 1,000-triple cost is the interpreter's own (started as the launcher's
    # wrapper starts it), before the helper runs: set against BASELINE_ISOLATED.
    env = with_triples(base_env(root, BASELINE_1000, helper), 1000)
    argv = [python, "-I", "-S", "-c", "pass"]
    scenarios.append(Scenario(BASELINE_1000, argv, env, check=expect_exit_zero))

    env = base_env(root, BASELINE_BOTO3, helper)
    scenarios.append(
        Scenario(BASELINE_BOTO3, [python, "-c", "import boto3"], env, check=expect_exit_zero)
    )

    # The cold path's own floor, started as the helper starts: what it imports, no `site`
    # work beyond finding the venv, no teardown. No target; it shows where the gain is from.
    env = base_env(root, BASELINE_BOTOCORE, helper)
    argv = [python, "-I", "-c", "import botocore.session, os; os._exit(0)"]
    scenarios.append(Scenario(BASELINE_BOTOCORE, argv, env, check=expect_exit_zero))

    env = base_env(root, GET_ECR_COLD, helper)
    env.update(endpoint_env(fake.endpoint_url))
    add_secret(env, "ECR", ECR_HOST, *KEY_COLD)
    cache_glob = os.path.join(env["XDG_CACHE_HOME"], PROGRAM, "ecr-*.token")

    def empty_cache() -> None:
        """Delete the cached token (not the directory or lock): the state after expiry."""
        for path in glob.glob(cache_glob):
            os.unlink(path)

    scenarios.append(
        Scenario(GET_ECR_COLD, get, env, ECR_HOST.encode(), expect_credentials("AWS"), empty_cache)
    )
    return scenarios


def peer_scenario(root: Path, helper: str) -> Scenario:
    """`docker-credential-ecr-login get` with its file cache pre-filled for ECR_HOST.

    It has no endpoint override (it predates AWS_ENDPOINT_URL_*), so it cannot be pointed at
    FakeECR; its cache is written by hand instead, in the format of amazon-ecr-credential-helper
    0.6's ecr-login/cache: `cache.json` in AWS_ECR_CACHE_DIR, `{"Registries": {key: AuthEntry},
    "Version": "1.0"}`, key = `<region>-<checksum(access key id)>-<registry id>` where checksum
    is base64 of the key id's bytes followed by MD5 of nothing (its `hasher.Sum([]byte(text))`).
    The warm-up run proves the cache was hit: the password can only have come from the file.
    """
    path = shutil.which(
        PEER, path=f"/usr/bin{os.pathsep}/bin{os.pathsep}{os.environ.get('PATH', '')}"
    )
    env = base_env(root, PEER_CACHED, helper)
    password = "peer-cached-password-0001"
    scenario = Scenario(PEER_CACHED, [path or PEER, "get"], env, ECR_HOST.encode())
    scenario.check = expect_credentials("AWS", password)
    if path is None:
        scenario.unavailable = f"not installed; to compare: {PEER_INSTALL}"
        return scenario
    cache_dir = os.path.join(env["HOME"], ".ecr")
    key_id, secret_key = KEY_CACHED
    env.update(
        AWS_ECR_CACHE_DIR=cache_dir, AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret_key
    )
    checksum = base64.b64encode(
        key_id.encode() + hashlib.md5(b"", usedforsecurity=False).digest()
    ).decode()
    now = datetime.now(timezone.utc)
    stamp = "%Y-%m-%dT%H:%M:%S.%fZ"
    entry = {
        "AuthorizationToken": base64.b64encode(f"AWS:{password}".encode()).decode(),
        "RequestedAt": now.strftime(stamp),
        "ExpiresAt": (now + timedelta(hours=12)).strftime(stamp),
        "ProxyEndpoint": f"https://{ECR_HOST}",
        "Service": "ecr",
    }
    registry_id = ECR_HOST.split(".", 1)[0]
    document = {"Registries": {f"{ECR_REGION}-{checksum}-{registry_id}": entry}, "Version": "1.0"}
    os.makedirs(cache_dir, mode=0o700)
    with open(os.path.join(cache_dir, "cache.json"), "w") as stream:
        json.dump(document, stream)
    return scenario


def install_scenarios(root: Path, python: str, wheelhouse: Path | None) -> list[Scenario]:
    """Two rows per install path: `get` plain secret through the executable it installed, and
    `python -c pass` of the venv it made. Each path installs into a fresh venv under `root`,
    offline from `wheelhouse` (None: the rows say they were skipped); two at a time."""
    rows = []
    for path, (get_name, base_name) in INSTALL_PATHS.items():
        get = Scenario(get_name, [], {}, PLAIN_HOST.encode())
        get.check = expect_credentials(PLAIN_USER, PLAIN_PASSWORD)
        rows.append((path, get, Scenario(base_name, [], {}, check=expect_exit_zero)))
    wheels = sorted(wheelhouse.glob(f"{PACKAGE}-*.whl")) if wheelhouse else []
    if not wheels:
        why = "skipped (--no-installs)" if wheelhouse is None else f"no wheel in {wheelhouse}"
        for _, get, base in rows:
            get.unavailable = base.unavailable = f"{why}; tests/run.sh builds the wheelhouse"
        return [s for _, get, base in rows for s in (get, base)]
    assert wheelhouse is not None

    def install(row: tuple[str, Scenario, Scenario]) -> None:
        path, get, base = row
        directory = root / "install" / path.replace(".", "-")
        try:
            helper, venv_python = install_path(path, directory, python, wheelhouse, wheels[-1])
        except InstallFailed as error:
            get.unavailable = base.unavailable = str(error)
            return
        get.argv, get.env = [str(helper), "get"], base_env(root, get.name, str(helper))
        add_secret(get.env, "GHCR", PLAIN_HOST, PLAIN_USER, PLAIN_PASSWORD)
        base.argv, base.env = [venv_python, "-c", "pass"], base_env(root, base.name, str(helper))

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(install, rows))
    return [s for _, get, base in rows for s in (get, base)]


class InstallFailed(Exception):
    """An install path could not be built here; the message goes into both of its rows."""


def install_path(
    path: str, directory: Path, python: str, wheelhouse: Path, wheel: Path
) -> tuple[Path, str]:
    """Install the helper by `path` under `directory`, as a person would, but offline; return
    the executable docker would run and its venv's interpreter."""
    directory.mkdir(parents=True)
    prefix, bin_dir = directory / "prefix", directory / "bin"
    env = isolated_environ(directory, bin_dir / PROGRAM)
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse), DCC_NO_CONFIGURE="1")
    env.update(DCC_PREFIX=str(prefix), DCC_BIN_DIR=str(bin_dir), PYTHON=python)
    venv_python = prefix / "bin" / "python"
    if path == "install.sh":
        commands = [[str(REPO / "install.sh")]]
    elif path == "Feature":
        # The Feature runs `python3` from PATH: this Python, so that the rows compare alike.
        own = directory / "python"
        own.mkdir()
        (own / "python3").symlink_to(python)
        env["PATH"] = f"{own}{os.pathsep}{env['PATH']}"
        env.update(SOURCE=str(wheel), _REMOTE_USER="root", _REMOTE_USER_HOME=env["HOME"])
        commands = [["sh", str(FEATURE_INSTALLER)]]
    elif path == "pip":
        pip = [str(venv_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        commands = [[python, "-m", "venv", str(prefix)], [*pip, str(wheel)]]
        bin_dir = prefix / "bin"
    else:
        pipx = os.path.join(os.path.dirname(python), "pipx")
        if not os.access(pipx, os.X_OK):
            raise InstallFailed(f"no {pipx}; the test extras install pipx")
        env.update(PIPX_HOME=str(prefix), PIPX_BIN_DIR=str(bin_dir))
        env.update(PIPX_MAN_DIR=str(directory / "man"))
        commands = [[pipx, "install", "--python", python, str(wheel)]]
        venv_python = prefix / "venvs" / PROGRAM / "bin" / "python"
    for argv in commands:
        try:
            done = subprocess.run(
                argv, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT
            )
        except subprocess.TimeoutExpired:
            raise InstallFailed(f"{path}: install timed out") from None
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip() or "?").splitlines()[-1]
            raise InstallFailed(f"{path}: install failed: {last[:200]}")
    helper = bin_dir / PROGRAM
    if not os.access(helper, os.X_OK):
        raise InstallFailed(f"{path}: installed no {helper}")
    return helper, str(venv_python)
