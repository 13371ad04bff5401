"""A hostile or broken file system: a clear error or "no cache", never a crash.

The store and cache directories can be read-only, symlinks, someone else's or too open; a
file in them can be a directory, a FIFO or empty; the disk can be full; HOME can be unset.
Each case must end with exit 0 or 1, one line on stdout and no traceback. Root ignores
permission bits, so read-only and full file systems are real mounts (a read-only bind mount, a
tiny tmpfs) in a private mount namespace (`unshare -m`); those tests skip, saying why, where
namespaces are not allowed.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

from beds.aws import FakeECR
from beds.client import HELPER, ecr_password, run_helper
from beds.environment import add_secret
from beds.values import ECR_HOST, NOT_FOUND, store_body

NOBODY = 65534
PROGRAM = "docker-credential-codespaces"


def _namespace_problem() -> Optional[str]:
    """Why mount namespaces cannot be used here, or None when they can."""
    if shutil.which("unshare") is None:
        return "unshare(1) is not installed"
    if os.geteuid() != 0:
        return "mounting a read-only or full file system needs root (CI runs as root)"
    probe = subprocess.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount -t tmpfs -o size=16k t /mnt",
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        return f"no private mount namespace here: {probe.stderr.decode(errors='replace').strip()}"
    return None


NAMESPACE_PROBLEM = _namespace_problem()
needs_namespace = pytest.mark.skipif(
    NAMESPACE_PROBLEM is not None, reason=f"needs root and mount namespaces: {NAMESPACE_PROBLEM}"
)
needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to chown a directory to another user"
)

# Runs inside the namespace: the setup script, then each helper call; prints the results.
_DRIVER = r"""
import base64, json, os, subprocess, sys
plan = json.loads(sys.stdin.read())
setup = subprocess.run(["sh", "-ec", plan["setup"]], capture_output=True)
results = [{"rc": setup.returncode, "out": "", "err": base64.b64encode(setup.stderr).decode()}]
for call in plan["calls"]:
    env = dict(plan["env"], **call["env"])
    for name in call["unset"]:
        env.pop(name, None)
    result = subprocess.run([plan["helper"], call["verb"]], input=base64.b64decode(call["stdin"]),
                            capture_output=True, env=env, timeout=60)
    results.append({"rc": result.returncode, "out": base64.b64encode(result.stdout).decode(),
                    "err": base64.b64encode(result.stderr).decode()})
print(json.dumps(results))
"""


class Outcome:
    """One helper run: exit code and both outputs."""

    def __init__(self, rc: int, out: bytes, err: bytes) -> None:
        self.returncode, self.stdout, self.stderr = rc, out, err

    def __repr__(self) -> str:
        return f"Outcome({self.returncode}, {self.stdout!r}, {self.stderr!r})"


def call(verb: str, stdin: bytes = b"", unset: tuple[str, ...] = (), **env: str) -> dict:
    return {
        "verb": verb,
        "stdin": base64.b64encode(stdin).decode(),
        "env": env,
        "unset": list(unset),
    }


def in_namespace(env: dict[str, str], setup: str, calls: list[dict]) -> list[Outcome]:
    """Run `setup` (sh) and then the helper calls in one private mount namespace."""
    plan = {"setup": setup, "calls": calls, "env": env, "helper": str(HELPER)}
    result = subprocess.run(
        ["unshare", "-m", "--propagation", "private", sys.executable, "-c", _DRIVER],
        input=json.dumps(plan).encode(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    raw = json.loads(result.stdout)
    setup_result = raw.pop(0)
    assert setup_result["rc"] == 0, base64.b64decode(setup_result["err"])
    return [Outcome(r["rc"], base64.b64decode(r["out"]), base64.b64decode(r["err"])) for r in raw]


def assert_sane(result: Outcome | subprocess.CompletedProcess[bytes]) -> None:
    """The promise for every case: exit 0 or 1, one line at most, no traceback."""
    assert result.returncode in (0, 1), result
    assert b"Traceback" not in result.stderr, result.stderr
    assert result.stdout.count(b"\n") <= 1, result.stdout
    if result.returncode == 1:
        assert result.stdout.endswith(b"\n") and result.stdout.strip(), result


@pytest.fixture
def hostile_env(ecr_env: dict[str, str], tmp_path: Path, fake: FakeECR) -> dict[str, str]:
    """Store and cache in known directories; an ECR secret served by the loopback fake."""
    ecr_env["AWS_ENDPOINT_URL"] = fake.endpoint_url
    ecr_env["DOCKER_CREDENTIAL_CODESPACES_STORE_DIR"] = str(tmp_path / "store")
    ecr_env["DOCKER_CREDENTIAL_CODESPACES_CACHE_DIR"] = str(tmp_path / "cache")
    return ecr_env


def store_dir(env: dict[str, str]) -> Path:
    return Path(env["DOCKER_CREDENTIAL_CODESPACES_STORE_DIR"])


def cache_dir(env: dict[str, str]) -> Path:
    return Path(env["DOCKER_CREDENTIAL_CODESPACES_CACHE_DIR"])


def read_only(path: Path) -> str:
    return f"mount --bind '{path}' '{path}'\nmount -o remount,bind,ro '{path}'\n"


# --- read-only ---------------------------------------------------------------------------------


@needs_namespace
def test_read_only_store_dir(hostile_env: dict[str, str]) -> None:
    """Writes fail with a line naming the problem; reads still serve the stored login."""
    assert run_helper(hostile_env, "store", stdin=store_body("r.example")).returncode == 0
    stored, erased, got, listed = in_namespace(
        hostile_env,
        read_only(store_dir(hostile_env)),
        [
            call("store", store_body("s.example")),
            call("erase", b"r.example"),
            call("get", b"r.example"),
            call("list"),
        ],
    )
    for result in (stored, erased, got, listed):
        assert_sane(result)
    assert stored.returncode == 1 and b"Read-only file system" in stored.stdout
    assert erased.returncode == 1 and b"Read-only file system" in erased.stdout
    assert got.returncode == 0 and json.loads(got.stdout)["Secret"] == "p"
    assert json.loads(listed.stdout) == {"r.example": "u", ECR_HOST: "AWS"}


@needs_namespace
def test_read_only_store_with_loose_mode_is_not_served_silently(
    hostile_env: dict[str, str],
) -> None:
    """A 0644 store on a read-only mount cannot be repaired: refused with a message."""
    assert run_helper(hostile_env, "store", stdin=store_body("r.example")).returncode == 0
    (store_dir(hostile_env) / "credentials.json").chmod(0o644)
    [got] = in_namespace(
        hostile_env, read_only(store_dir(hostile_env)), [call("get", b"r.example")]
    )
    assert_sane(got)
    assert b"credentials.json" in got.stderr, got


@needs_namespace
def test_read_only_cache_dir_still_serves(hostile_env: dict[str, str], fake: FakeECR) -> None:
    """An unwritable cache only means uncached: every get still gets a token."""
    cache_dir(hostile_env).mkdir(mode=0o700)
    first, second = in_namespace(
        hostile_env,
        read_only(cache_dir(hostile_env)),
        [call("get", ECR_HOST.encode()), call("get", ECR_HOST.encode())],
    )
    for result in (first, second):
        assert_sane(result)
        assert ecr_password(result).startswith("fake-ecr-")
    assert first.stderr == second.stderr == b""
    assert fake.count() == 2
    assert list(cache_dir(hostile_env).iterdir()) == []


# --- symlinks, owners, modes -------------------------------------------------------------------


def test_symlinked_store_dir(hostile_env: dict[str, str], tmp_path: Path) -> None:
    """A store directory that is a symlink is refused for writes, and nothing lands there."""
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    store_dir(hostile_env).symlink_to(target)
    for verb, stdin in (("store", store_body("r.example")), ("erase", b"r.example")):
        result = run_helper(hostile_env, verb, stdin=stdin)
        assert_sane(result)
        assert result.returncode == 1 and b"not a plain directory" in result.stdout
    for verb, stdin in (("get", b"r.example"), ("list", b"")):
        assert_sane(run_helper(hostile_env, verb, stdin=stdin))
    assert [p.name for p in target.iterdir()] == []


def test_symlinked_cache_dir_gets_no_token(
    hostile_env: dict[str, str], tmp_path: Path, fake: FakeECR
) -> None:
    """Degrades to no cache: served, and nothing written where the link points."""
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    cache_dir(hostile_env).symlink_to(target)
    result = run_helper(hostile_env, "get", stdin=ECR_HOST.encode())
    assert_sane(result)
    assert ecr_password(result).startswith("fake-ecr-")
    assert list(target.iterdir()) == []


@needs_root
def test_store_dir_of_another_user(hostile_env: dict[str, str]) -> None:
    """Someone else's directory is refused for writes with a line that says so."""
    directory = store_dir(hostile_env)
    directory.mkdir(mode=0o700)
    os.chown(directory, NOBODY, NOBODY)
    result = run_helper(hostile_env, "store", stdin=store_body("r.example"))
    assert_sane(result)
    assert result.returncode == 1 and b"belongs to another user" in result.stdout
    assert_sane(run_helper(hostile_env, "get", stdin=b"r.example"))
    assert list(directory.iterdir()) == []


@needs_root
def test_cache_dir_of_another_user_gets_no_token(
    hostile_env: dict[str, str], fake: FakeECR
) -> None:
    directory = cache_dir(hostile_env)
    directory.mkdir(mode=0o700)
    os.chown(directory, NOBODY, NOBODY)
    result = run_helper(hostile_env, "get", stdin=ECR_HOST.encode())
    assert_sane(result)
    assert ecr_password(result).startswith("fake-ecr-")
    assert list(directory.iterdir()) == []


def test_open_directories_of_the_helper_are_made_private(hostile_env: dict[str, str]) -> None:
    """The helper's own store and cache directories (XDG), found 0777, are repaired to 0700."""
    del hostile_env["DOCKER_CREDENTIAL_CODESPACES_STORE_DIR"]
    del hostile_env["DOCKER_CREDENTIAL_CODESPACES_CACHE_DIR"]
    own = [
        Path(hostile_env[base]) / "docker-credential-codespaces"
        for base in ("XDG_DATA_HOME", "XDG_CACHE_HOME")
    ]
    for directory in own:
        directory.mkdir(parents=True)
        directory.chmod(0o777)
    assert run_helper(hostile_env, "store", stdin=store_body("r.example")).returncode == 0
    ecr_password(run_helper(hostile_env, "get", stdin=ECR_HOST.encode()))
    for directory in own:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory


@pytest.mark.parametrize("mode", [0o1777, 0o777, 0o775])
def test_a_directory_a_setting_names_is_never_chmodded(
    hostile_env: dict[str, str], fake: FakeECR, mode: int
) -> None:
    """STORE_DIR or CACHE_DIR pointed at a shared directory: it keeps its mode, whatever runs,
    and other users could write there, so it holds no secret: the store refuses in one line,
    the cache is simply not used."""
    for directory in (store_dir(hostile_env), cache_dir(hostile_env)):
        directory.mkdir()
        directory.chmod(mode)
    results = [
        run_helper(hostile_env, "get", stdin=b"r.example"),
        run_helper(hostile_env, "list", stdin=None),
        run_helper(hostile_env, "get", stdin=ECR_HOST.encode()),
        run_helper(hostile_env, "get", stdin=ECR_HOST.encode()),
        run_helper(hostile_env, "store", stdin=store_body("r.example")),
        run_helper(hostile_env, "erase", stdin=b"r.example"),
    ]
    for result in results:
        assert_sane(result)
    for directory in (store_dir(hostile_env), cache_dir(hostile_env)):
        assert stat.S_IMODE(directory.stat().st_mode) == mode, directory
        assert list(directory.iterdir()) == [], directory
    got, listed, first, second, stored, erased = results
    assert got.stdout == b"credentials not found in native keychain\n"
    assert b"named by DOCKER_CREDENTIAL_CODESPACES_STORE_DIR, can be written by other users" in (
        got.stderr
    )
    assert json.loads(listed.stdout) == {ECR_HOST: "AWS"}
    ecr_password(first), ecr_password(second)
    assert fake.count() == 2  # no cache: each get exchanged, and says why in one line
    for ecr_get in (first, second):
        assert ecr_get.stderr.count(b"\n") == 1
        assert ecr_get.stderr.startswith(
            b"docker-credential-codespaces: the ECR token cache is off"
        )
        assert b"named by DOCKER_CREDENTIAL_CODESPACES_CACHE_DIR" in ecr_get.stderr
    report = json.loads(run_helper(hostile_env, "doctor", "--json", stdin=None).stdout)
    assert any(p.startswith("the ECR token cache is off") for p in report["problems"])
    for refused in (stored, erased):
        assert refused.returncode == 1
        assert refused.stdout.count(b"\n") == 1 and b"STORE_DIR" in refused.stdout


def test_a_private_directory_a_setting_names_is_used_as_it_is(
    hostile_env: dict[str, str], fake: FakeECR
) -> None:
    """0755 is not loose enough to refuse (the files in it are 0600), and is never changed."""
    for directory in (store_dir(hostile_env), cache_dir(hostile_env)):
        directory.mkdir(mode=0o755)
        directory.chmod(0o755)
    assert run_helper(hostile_env, "store", stdin=store_body("r.example")).returncode == 0
    ecr_password(run_helper(hostile_env, "get", stdin=ECR_HOST.encode()))
    ecr_password(run_helper(hostile_env, "get", stdin=ECR_HOST.encode()))
    assert fake.count() == 1
    for directory in (store_dir(hostile_env), cache_dir(hostile_env)):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o755


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o666])
def test_readable_store_and_cache_files_are_repaired(
    hostile_env: dict[str, str], mode: int
) -> None:
    """A group- or world-readable store or cache file is 0600 again after one read."""
    assert run_helper(hostile_env, "store", stdin=store_body("r.example")).returncode == 0
    ecr_password(run_helper(hostile_env, "get", stdin=ECR_HOST.encode()))
    files = [
        store_dir(hostile_env) / "credentials.json",
        *cache_dir(hostile_env).glob("ecr-*.token"),
    ]
    for path in files:
        path.chmod(mode)
    assert_sane(run_helper(hostile_env, "get", stdin=b"r.example"))
    assert_sane(run_helper(hostile_env, "get", stdin=ECR_HOST.encode()))
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@needs_root
def test_readable_store_of_another_user_is_refused(hostile_env: dict[str, str]) -> None:
    assert run_helper(hostile_env, "store", stdin=store_body("r.example")).returncode == 0
    path = store_dir(hostile_env) / "credentials.json"
    path.chmod(0o644)
    os.chown(path, NOBODY, NOBODY)
    result = run_helper(hostile_env, "get", stdin=b"r.example")
    assert_sane(result)
    repaired = stat.S_IMODE(path.stat().st_mode) == 0o600
    refused = result.returncode == 1 and b"credentials.json" in result.stderr
    assert repaired or refused, result


# --- files that are directories, FIFOs or empty -----------------------------------------------

TARGETS = {
    "store": ("store", "credentials.json"),
    "store-lock": ("store", "credentials.json.lock"),
    "cache": ("cache", "ecr-*.token"),
    "cache-lock": ("cache", "ecr-*.token.lock"),
}


@pytest.mark.parametrize("kind", ["directory", "fifo", "empty"])
@pytest.mark.parametrize("target", list(TARGETS))
def test_file_replaced_by_something_else(
    hostile_env: dict[str, str], fake: FakeECR, target: str, kind: str
) -> None:
    """Every verb stays sane; writes fail with one line, reads degrade, tokens still come."""
    assert run_helper(hostile_env, "store", stdin=store_body("r.example")).returncode == 0
    ecr_password(run_helper(hostile_env, "get", stdin=ECR_HOST.encode()))
    where, pattern = TARGETS[target]
    directory = store_dir(hostile_env) if where == "store" else cache_dir(hostile_env)
    [path] = directory.glob(pattern)
    path.unlink()
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.write_bytes(b"")
    if target == "cache-lock":  # no good token left, so the get takes the broken lock
        for token in directory.glob("ecr-*.token"):
            token.unlink()
    results = {
        "store": run_helper(hostile_env, "store", stdin=store_body("s.example"), timeout=30),
        "get": run_helper(hostile_env, "get", stdin=b"r.example", timeout=30),
        "erase": run_helper(hostile_env, "erase", stdin=b"t.example", timeout=30),
        "list": run_helper(hostile_env, "list", stdin=None, timeout=30),
        "ecr": run_helper(hostile_env, "get", stdin=ECR_HOST.encode(), timeout=30),
    }
    for result in results.values():
        assert_sane(result)
    assert ecr_password(results["ecr"]).startswith("fake-ecr-")
    assert results["list"].returncode == 0
    if target == "store" or (target == "store-lock" and kind == "directory"):
        assert results["store"].returncode == 1, results["store"]
    if results["get"].returncode == 1:
        assert results["get"].stdout == NOT_FOUND
        assert results["get"].stderr, "a store that cannot be read is named on stderr"


# --- a full disk -------------------------------------------------------------------------------


def fill(directory: Path) -> str:
    return f"dd if=/dev/zero of='{directory}/fill' bs=1k 2>/dev/null || true\n"


@needs_namespace
def test_disk_already_full(hostile_env: dict[str, str], fake: FakeECR) -> None:
    """A disk with no byte left: every verb is sane, tokens still come, no temp file stays."""
    store, cache = store_dir(hostile_env), cache_dir(hostile_env)
    setup = f"mkdir -p '{store}' '{cache}'\n"
    setup += f"mount -t tmpfs -o size=32k,mode=0700 s '{store}'\n"
    setup += f"mount -t tmpfs -o size=32k,mode=0700 c '{cache}'\n"
    setup += fill(store) + fill(cache)
    stored, got, listed, erased, ecr = in_namespace(
        hostile_env,
        setup,
        [
            call("store", store_body("r.example")),
            call("get", b"r.example"),
            call("list"),
            call("erase", b"r.example"),
            call("get", ECR_HOST.encode()),
        ],
    )
    for result in (stored, got, listed, erased, ecr):
        assert_sane(result)
    assert stored.returncode == 1 and b"No space left on device" in stored.stdout, stored
    assert got.stdout == NOT_FOUND
    assert ecr_password(ecr).startswith("fake-ecr-")


@needs_namespace
def test_full_disk_keeps_the_old_store(hostile_env: dict[str, str]) -> None:
    """A store that no longer fits fails and leaves the previous file whole, and no temp."""
    store = store_dir(hostile_env)
    setup = f"mkdir -p '{store}'\nmount -t tmpfs -o size=64k,mode=0700 s '{store}'\n"
    big = json.dumps({"ServerURL": "big.example", "Username": "u", "Secret": "x" * 100_000})
    stored, too_big, got, listed = in_namespace(
        hostile_env,
        setup,
        [
            call("store", store_body("r.example", secret="before")),
            call("store", big.encode()),
            call("get", b"r.example"),
            call("list"),
        ],
    )
    assert stored.returncode == 0, stored
    for result in (too_big, got, listed):
        assert_sane(result)
    assert too_big.returncode == 1 and b"No space left on device" in too_big.stdout, too_big
    assert json.loads(got.stdout)["Secret"] == "before"
    assert json.loads(listed.stdout) == {"r.example": "u", ECR_HOST: "AWS"}


# --- no home -----------------------------------------------------------------------------------

NO_HOME = ("HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME",
           "DOCKER_CREDENTIAL_CODESPACES_STORE_DIR", "DOCKER_CREDENTIAL_CODESPACES_CACHE_DIR")  # fmt: skip


def passwd_with_root_home(tmp_path: Path, home: str) -> str:
    """Setup that bind-mounts an /etc/passwd where our user's home is `home` ("" for none).

    Root's real home may hold the interpreter (pyenv), so it cannot be hidden by a mount, and
    nss-systemd invents a root entry when the file has none; an entry with an empty home is
    what leaves expanduser without a home. Never /root: the test must not write there.
    """
    lines = Path("/etc/passwd").read_text().splitlines()
    kept = []
    for line in lines:
        fields = line.split(":")
        if len(fields) > 5 and fields[2] == str(os.getuid()):
            fields[5] = home
            line = ":".join(fields)
        kept.append(line)
    fake = tmp_path / "passwd"
    fake.write_text("\n".join(kept) + "\n")
    return f"mount --bind '{fake}' /etc/passwd\n"


@needs_namespace
def test_home_unset_and_home_unusable(
    hostile_env: dict[str, str], fake: FakeECR, tmp_path: Path
) -> None:
    """No HOME, and the passwd home cannot be created: a clear line, tokens uncached.

    A HOME that expanduser cannot find at all is not reachable as root here: nss-systemd
    invents root's entry, and Python turns an empty home into "/". So the passwd home is
    put under a read-only mount, where nothing can be created.
    """
    readonly = tmp_path / "ro"
    readonly.mkdir()
    setup = f"mount -t tmpfs -o ro,size=16k r '{readonly}'\n"
    setup += passwd_with_root_home(tmp_path, str(readonly / "home"))
    env = {k: v for k, v in hostile_env.items() if k not in NO_HOME}
    results = in_namespace(
        env,
        setup,
        [
            call("store", store_body("r.example")),
            call("get", b"r.example"),
            call("erase", b"r.example"),
            call("list"),
            call("get", ECR_HOST.encode()),
            call("get", ECR_HOST.encode()),
        ],
    )
    for result in results:
        assert_sane(result)
    stored, got, _erased, listed, ecr, ecr2 = results
    assert stored.returncode == 1 and b"Read-only file system" in stored.stdout, stored
    assert got.stdout == NOT_FOUND
    assert listed.returncode == 0
    assert ecr_password(ecr).startswith("fake-ecr-")
    assert ecr_password(ecr2).startswith("fake-ecr-")
    assert fake.count() == 2


@needs_namespace
def test_home_unset_falls_back_to_the_passwd_home(
    hostile_env: dict[str, str], tmp_path: Path
) -> None:
    """No HOME: the passwd home is used, as platformdirs would."""
    home = tmp_path / "passwd-home"
    home.mkdir()
    env = {k: v for k, v in hostile_env.items() if k not in NO_HOME}
    stored, got = in_namespace(
        env,
        passwd_with_root_home(tmp_path, str(home)),
        [call("store", store_body("r.example")), call("get", b"r.example")],
    )
    for result in (stored, got):
        assert_sane(result)
    assert stored.returncode == 0, stored
    assert json.loads(got.stdout)["Secret"] == "p"
    assert (home / ".local/share/docker-credential-codespaces/credentials.json").is_file()


# --- files the helper only reads: the Codespaces secrets file, config.json ---------------------


def replace_with(path: Path, kind: str) -> None:
    """Put something that is not a regular file where `path` should be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)  # opened the ordinary way, a FIFO with no writer blocks for ever
    elif kind == "directory":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")  # a device that never ends


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_secrets_file_that_is_not_a_file_never_hangs(
    env: dict[str, str], tmp_path: Path, kind: str
) -> None:
    """The secrets in the environment still answer; the file is named under debug only."""
    secrets = tmp_path / "env-secrets"
    replace_with(secrets, kind)
    env["DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"] = str(secrets)
    add_secret(env, "GH", "ghcr.io", "octocat", "pw")
    got = run_helper(env, "get", stdin=b"ghcr.io", timeout=30)
    assert (got.returncode, got.stderr) == (0, b"")
    assert json.loads(got.stdout)["Username"] == "octocat"
    listed = run_helper(env, "list", stdin=None, timeout=30)
    assert (listed.returncode, listed.stdout) == (0, b'{"ghcr.io":"octocat"}\n')
    env["DOCKER_CREDENTIAL_CODESPACES_DEBUG"] = "1"
    missed = run_helper(env, "get", stdin=b"r.example", timeout=30)
    assert_sane(missed)
    assert missed.stdout == NOT_FOUND
    assert f"ignoring the secrets file {secrets}: ".encode() in missed.stderr


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_config_json_that_is_not_a_file_is_one_line(env: dict[str, str], kind: str) -> None:
    """configure, its dry run and doctor say so in one line and exit 1, and change nothing."""
    config = Path(env["DOCKER_CONFIG"]) / "config.json"
    replace_with(config, kind)
    for args in (["configure"], ["configure", "--dry-run"], ["unconfigure"]):
        result = run_helper(env, *args, stdin=None, timeout=30)
        assert result.returncode == 1, (args, result)
        assert result.stderr == f"{PROGRAM}: {config} is not a regular file\n".encode()
        assert b"Traceback" not in result.stdout + result.stderr
    doctor = run_helper(env, "doctor", "--json", stdin=None, timeout=30)
    assert doctor.returncode == 1 and b"Traceback" not in doctor.stderr
    assert f"{config} is not a regular file" in json.loads(doctor.stdout)["problems"]
    assert Path(str(config) + ".bak").exists() is False
    assert config.is_symlink() if kind == "device" else not stat.S_ISREG(config.stat().st_mode)


def test_config_json_over_the_cap_is_named_as_such(env: dict[str, str]) -> None:
    """A config.json too large to read is said to be that, not to be broken JSON."""
    config = Path(env["DOCKER_CONFIG"]) / "config.json"
    config.parent.mkdir(parents=True)
    config.write_bytes(b'{"auths": {}, "pad": "' + b"x" * (16 * 1024 * 1024) + b'"}')
    result = run_helper(env, "configure", stdin=None, timeout=30)
    assert result.returncode == 1
    message = f"{PROGRAM}: {config} is larger than {16 * 1024 * 1024} bytes\n"
    assert result.stderr == message.encode()


SSO_PROFILE = (
    "[profile ci]\nsso_session = corp\n"
    "[sso-session corp]\nsso_start_url = https://corp.example/start\nsso_region = eu-west-1\n"
)


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
@pytest.mark.parametrize("which", ["config", "credentials", "sso login"])
def test_aws_files_that_are_not_files_never_hang_doctor(
    env: dict[str, str], tmp_path: Path, which: str, kind: str
) -> None:
    """doctor reads the AWS config and credentials files and the cached SSO login of a
    profile identity: something else in their place is named, or taken as no login, and
    doctor ends (a FIFO once hung it for ever)."""
    import hashlib

    env["ECR_CONTAINER_REGISTRY_SERVER"] = ECR_HOST
    env["ECR_CONTAINER_REGISTRY_AWS_PROFILE"] = "ci"
    config, credentials = Path(env["AWS_CONFIG_FILE"]), Path(env["AWS_SHARED_CREDENTIALS_FILE"])
    config.write_text(SSO_PROFILE)
    name = hashlib.sha1(b"corp", usedforsecurity=False).hexdigest()
    sso = Path(env["HOME"]) / ".aws" / "sso" / "cache" / f"{name}.json"
    target = {"config": config, "credentials": credentials, "sso login": sso}[which]
    if target.exists():
        target.unlink()
    replace_with(target, kind)
    doctor = run_helper(env, "doctor", "--json", stdin=None, timeout=10)
    assert doctor.returncode == 1 and b"Traceback" not in doctor.stderr, doctor
    [row] = json.loads(doctor.stdout)["registries"]
    if which == "sso login":
        assert any("has no cached login" in problem for problem in row["problems"]), row
    else:
        assert any(
            problem.startswith("the AWS profile 'ci' (ECR_CONTAINER_REGISTRY_AWS_PROFILE) cannot")
            and f"{target} is not a regular file" in problem
            for problem in row["problems"]
        ), row


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_fallback_record_that_is_not_a_file_means_the_local_store(
    hostile_env: dict[str, str], kind: str
) -> None:
    """The record of the fallback store is read on every `get` no secret answers."""
    assert run_helper(hostile_env, "store", stdin=store_body("r.example")).returncode == 0
    record = store_dir(hostile_env) / "fallback-store"
    replace_with(record, kind)
    got = run_helper(hostile_env, "get", stdin=b"r.example", timeout=30)
    assert (got.returncode, got.stderr) == (0, b""), got
    assert json.loads(got.stdout)["Username"] == "u"
