"""The local store: private, atomic, locked, and never overwritten when corrupt."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import time
from pathlib import Path

import pytest

from beds.client import run_helper, spawn, store
from docker_credential_codespaces.constants import LOCK_TIMEOUT


def store_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "docker-credential-codespaces" / "credentials.json"


def test_store_file_and_directory_are_private(env: dict[str, str]) -> None:
    assert store(env, "r.example", "u", "p").returncode == 0
    path = store_file(env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_loose_modes_are_repaired(env: dict[str, str]) -> None:
    assert store(env, "r.example", "u", "p").returncode == 0
    path = store_file(env)
    path.chmod(0o644)
    path.parent.chmod(0o755)
    assert store(env, "s.example", "u", "p").returncode == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_store_dir_override(env: dict[str, str], tmp_path: Path) -> None:
    env["DOCKER_CREDENTIAL_CODESPACES_STORE_DIR"] = str(tmp_path / "elsewhere")
    assert store(env, "r.example", "u", "p").returncode == 0
    assert (tmp_path / "elsewhere" / "credentials.json").is_file()


def test_corrupt_store_is_never_overwritten(env: dict[str, str]) -> None:
    assert store(env, "r.example", "u", "p").returncode == 0
    path = store_file(env)
    path.write_bytes(b'{"credentials": {"r.example": {"Username": "u", "Sec')
    result = store(env, "s.example", "u2", "p2")
    assert result.returncode == 1
    assert str(path).encode() in result.stdout
    assert result.stdout.count(b"\n") == 1
    assert path.read_bytes() == b'{"credentials": {"r.example": {"Username": "u", "Sec'
    erase = run_helper(env, "erase", stdin=b"r.example")
    assert erase.returncode == 1
    # A get or list never fails on it: it warns and docker goes on anonymously.
    got = run_helper(env, "get", stdin=b"r.example")
    assert got.stdout == b"credentials not found in native keychain\n"
    assert str(path).encode() in got.stderr
    listed = run_helper(env, "list", stdin=None)
    assert (listed.returncode, listed.stdout) == (0, b"{}\n")


def test_wrong_layout_is_corrupt_too(env: dict[str, str]) -> None:
    path = store_file(env)
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_text('{"credentials": {"r.example": {"Username": 1, "Secret": "x"}}}')
    result = store(env, "s.example", "u", "p")
    assert result.returncode == 1 and b"unexpected layout" in result.stdout


@pytest.mark.parametrize("version", ["2", '"1"', "true", "null"])
def test_store_of_another_format_version_is_never_rewritten(
    env: dict[str, str], version: str
) -> None:
    """A newer helper's file, read as this version and rewritten, could lose what it keeps."""
    path = store_file(env)
    path.parent.mkdir(parents=True, mode=0o700)
    text = '{"version": %s, "credentials": {"r.example": {"Username": "u", "Secret": "p"}}}'
    path.write_text(text % version)
    for verb, body in (("store", None), ("erase", b"r.example")):
        result = (
            store(env, "s.example", "u", "p") if body is None else run_helper(env, verb, stdin=body)
        )
        assert result.returncode == 1, verb
        assert (
            result.stdout
            == (
                f"the store {path} has format version {version}, which this helper does not read; "
                "upgrade docker-credential-codespaces, or move the file\n"
            ).encode()
        )
    assert path.read_text() == text % version
    got = run_helper(env, "get", stdin=b"r.example")
    assert got.stdout == b"credentials not found in native keychain\n"
    assert b"format version" in got.stderr


def test_keys_the_store_does_not_know_are_kept(env: dict[str, str]) -> None:
    path = store_file(env)
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_text('{"version": 1, "credentials": {}, "note": {"kept": true}}')
    assert store(env, "s.example", "u", "p").returncode == 0
    assert run_helper(env, "erase", stdin=b"s.example").returncode == 0
    assert json.loads(path.read_text()) == {"version": 1, "credentials": {}, "note": {"kept": True}}


def test_symlinked_store_dir_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    link = Path(env["XDG_DATA_HOME"]) / "docker-credential-codespaces"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    result = store(env, "r.example", "u", "p")
    assert result.returncode == 1 and b"not a plain directory" in result.stdout
    assert list(target.iterdir()) == []


def test_store_that_is_a_directory_or_fifo(env: dict[str, str]) -> None:
    path = store_file(env)
    path.parent.mkdir(parents=True, mode=0o700)
    path.mkdir()
    result = store(env, "r.example", "u", "p")
    assert result.returncode == 1 and b"not a regular file" in result.stdout
    path.rmdir()
    os.mkfifo(path)
    got = run_helper(env, "get", stdin=b"r.example", timeout=20)
    assert got.stdout == b"credentials not found in native keychain\n"


@pytest.mark.slow  # the real-time proof of LOCK_TIMEOUT
def test_a_store_whose_lock_another_process_holds_fails_at_the_lock_timeout(
    env: dict[str, str],
) -> None:
    """`docker login` while another process holds the store's lock and never lets go: one
    line naming the lock at LOCK_TIMEOUT, exit 1, no secret, and the store as it was. Every
    change of the store, with a fraction of a second: test_deadlines.py."""
    assert store(env, "kept.example", "u", "CANARY-kept").returncode == 0
    path = store_file(env)
    before = path.read_bytes()
    lock = os.open(f"{path}.lock", os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        started = time.monotonic()
        result = store(env, "new.example", "u", "CANARY-new")
        elapsed = time.monotonic() - started
    finally:
        os.close(lock)
    assert (result.returncode, result.stdout) == (
        1,
        f"timed out waiting for the lock {path}.lock\n".encode(),
    )
    assert LOCK_TIMEOUT <= elapsed < LOCK_TIMEOUT + 2, elapsed  # start-up and exit
    assert b"CANARY" not in result.stdout + result.stderr
    assert path.read_bytes() == before


def test_stale_temp_files_are_cleaned(env: dict[str, str]) -> None:
    assert store(env, "r.example", "u", "p").returncode == 0
    stale = store_file(env).parent / ".credentials.json.99999.deadbeef.tmp"
    stale.write_text("half")
    assert store(env, "s.example", "u", "p").returncode == 0
    assert not stale.exists()


def test_concurrent_logins_lose_nothing(env: dict[str, str]) -> None:
    count = 40
    processes = []
    for index in range(count):
        body = json.dumps(
            {"ServerURL": f"r{index}.example", "Username": f"u{index}", "Secret": f"s{index}"}
        ).encode()
        processes.append(spawn(env, "store", body))
    for process in processes:
        process.communicate(timeout=60)
        assert process.returncode == 0
    listed = json.loads(run_helper(env, "list", stdin=None).stdout)
    assert listed == {f"r{index}.example": f"u{index}" for index in range(count)}


def test_hub_oauth_keys_are_stored_apart_from_hub(env: dict[str, str]) -> None:
    assert store(env, "https://index.docker.io/v1/", "hubuser", "hubpw").returncode == 0
    assert store(env, "https://index.docker.io/v1/access-token", "at", "access").returncode == 0
    hub = json.loads(run_helper(env, "get", stdin=b"docker.io").stdout)
    assert (hub["Username"], hub["Secret"]) == ("hubuser", "hubpw")
    token = json.loads(
        run_helper(env, "get", stdin=b"https://index.docker.io/v1/access-token").stdout
    )
    assert token["Secret"] == "access"
    refresh = run_helper(env, "get", stdin=b"https://index.docker.io/v1/refresh-token")
    assert refresh.stdout == b"credentials not found in native keychain\n"


MIB = 1024 * 1024


def test_a_login_the_store_could_not_read_back_is_refused_and_nothing_is_lost(
    env: dict[str, str],
) -> None:
    """The store reads at most 16 MiB. A write past that was accepted, and then every login
    in it was unreadable and `erase` failed, so not even `docker logout` could recover. It is
    refused in one line now, through `store` and through configure's copy alike, and the
    store stays as it was."""
    path = store_file(env)
    path.parent.mkdir(parents=True, mode=0o700)
    logins = {
        f"big{index}.example": {"Username": "u", "Secret": "CANARY-" + "x" * (5 * MIB)}
        for index in range(3)
    }
    logins["keep.example"] = {"Username": "keeper", "Secret": "CANARY-keep"}
    path.write_text(json.dumps({"version": 1, "credentials": logins}, indent=2))
    before = path.read_bytes()
    stored = store(env, "more.example", "u", "CANARY-" + "y" * (MIB - 100))
    assert stored.returncode == 1
    assert stored.stdout.count(b"\n") == 1
    assert stored.stdout.startswith(f"{path} would be ".encode())
    assert b"more than the 16777216 it is read back with; it is left as it was" in stored.stdout
    config = Path(env["DOCKER_CONFIG"]) / "config.json"
    config.parent.mkdir(parents=True)
    inline = {"auths": {"inline.example": {"username": "u", "password": "z" * (3 * MIB)}}}
    config.write_text(json.dumps(inline))
    configured = run_helper(env, "configure")
    assert configured.returncode == 1 and configured.stderr.count(b"\n") == 1
    assert b"cannot copy the login for inline.example" in configured.stderr
    assert json.loads(config.read_text()) == inline
    assert path.read_bytes() == before
    got = run_helper(env, "get", stdin=b"keep.example")
    assert json.loads(got.stdout)["Secret"] == "CANARY-keep"
    assert run_helper(env, "erase", stdin=b"big0.example").returncode == 0
    assert store(env, "more.example", "u", "CANARY-more").returncode == 0
    assert json.loads(run_helper(env, "list", stdin=None).stdout) == {
        "big1.example": "u",
        "big2.example": "u",
        "keep.example": "keeper",
        "more.example": "u",
    }
    assert b"CANARY" not in stored.stdout + stored.stderr + configured.stdout + configured.stderr
