# ruff: noqa: S311  (seeded randomness chooses test cases; nothing here is cryptographic)
"""Load: 200 concurrent get/store/erase/list processes against one store.

docker compose and parallel builds start many helpers at once. Under that load no update may
be lost (every process owns its keys; a few shared keys end with one of the values written),
nothing may deadlock (all finish within a bound set here), and every answer stays valid.
"""

from __future__ import annotations

import json
import random
import subprocess
import time

import pytest

from beds.client import run_helper, spawn

PROCESSES = 200
SHARED = ("shared-0.example", "shared-1.example", "shared-2.example")
BOUND = 90.0  # seconds for all 200 to finish: far above the real ~10 s, far below a hang


def body(server: str, user: str, secret: str) -> bytes:
    return json.dumps({"ServerURL": server, "Username": user, "Secret": secret}).encode()


@pytest.mark.slow  # 200 processes at once: on the main Python only (tests/run.sh)
def test_two_hundred_concurrent_processes(env: dict[str, str]) -> None:
    """Own keys are all there, erased keys gone, shared keys hold a written value."""
    for index in range(30):
        assert (
            run_helper(
                env, "store", stdin=body(f"keep-{index}.example", "k", f"keep-{index}")
            ).returncode
            == 0
        )
        assert (
            run_helper(env, "store", stdin=body(f"gone-{index}.example", "g", "x")).returncode == 0
        )
    rng = random.Random(200)
    plan: list[tuple[str, bytes, str]] = []
    written: dict[str, set[str]] = {key: set() for key in SHARED}
    for index in range(PROCESSES):
        kind = ("own", "own", "own", "shared", "erase", "get", "list")[index % 7]
        if kind == "own":
            plan.append(("store", body(f"own-{index}.example", f"u{index}", f"s{index}"), kind))
        elif kind == "shared":
            key = rng.choice(SHARED)
            written[key].add(f"v{index}")
            plan.append(("store", body(key, "shared", f"v{index}"), kind))
        elif kind == "erase":
            plan.append(("erase", f"gone-{index % 30}.example".encode(), kind))
        elif kind == "get":
            plan.append(("get", f"keep-{index % 30}.example".encode(), kind))
        else:
            plan.append(("list", b"", kind))
    rng.shuffle(plan)
    started = time.monotonic()
    processes = []
    for verb, stdin, kind in plan:
        processes.append((spawn(env, verb, stdin), verb, stdin, kind))
    for process, verb, stdin, _kind in processes:
        left = max(1.0, BOUND - (time.monotonic() - started))
        try:
            out, err = process.communicate(timeout=left)
        except subprocess.TimeoutExpired:
            for other, *_ in processes:
                other.kill()
            raise AssertionError(
                f"deadlock: {verb} {stdin!r} still running after {BOUND} s"
            ) from None
        assert (process.returncode, err) == (0, b""), (verb, stdin, out, err)
        if verb == "get":
            answer = json.loads(out)
            assert answer["Secret"] == "keep-" + stdin.decode().split("-")[1].split(".")[0]
        elif verb == "list":
            assert isinstance(json.loads(out), dict)
            assert out.count(b"\n") == 1
        else:
            assert out == b""
    elapsed = time.monotonic() - started
    listed = json.loads(run_helper(env, "list", stdin=None).stdout)
    for _verb, stdin, kind in plan:
        if kind == "own":
            request = json.loads(stdin)
            answer = json.loads(run_helper(env, "get", stdin=request["ServerURL"].encode()).stdout)
            assert answer["Secret"] == request["Secret"], request
    for key, values in written.items():
        if values:
            answer = json.loads(run_helper(env, "get", stdin=key.encode()).stdout)
            assert answer["Secret"] in values, key
    assert not any(
        key.startswith("gone-") and int(key[5:].split(".")[0]) in erased_indexes(plan)
        for key in listed
    )
    assert all(f"keep-{index}.example" in listed for index in range(30))
    print(f"load: {PROCESSES} processes finished in {elapsed:.1f} s")
    assert elapsed < BOUND


def erased_indexes(plan: list[tuple[str, bytes, str]]) -> set[int]:
    return {int(stdin.decode()[5:].split(".")[0]) for verb, stdin, _ in plan if verb == "erase"}
