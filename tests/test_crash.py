# ruff: noqa: S311  (seeded randomness chooses test cases; nothing here is cryptographic)
"""Crash safety: writers SIGKILLed at random moments never corrupt or lose what was stored.

docker kills its helper on Ctrl-C and on timeouts, and a machine can die at any instant. So
`store`s and ECR cache refreshes are started side by side and killed after a small random delay
or exactly before their rename (the DOCKER_CREDENTIAL_CODESPACES_CRASH_TEST_PAUSE_BEFORE_RENAME
hook). After every round the store and every cache file still parse, every login a finished
`store` reported as stored is still there, and temporary files from killed writers do not pile
up: the next writer cleans them.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from beds.aws import FakeECR
from beds.client import run_helper, spawn
from beds.values import ECR_HOST, store_body
from docker_credential_codespaces.ecr.cache import decode, decode_outcome, encode
from docker_credential_codespaces.ecr.token import Token

ROUNDS = 200
LANES = 2  # independent stores worked on in parallel, ROUNDS // LANES rounds each
STORES_PER_ROUND = 3
PAUSE = "30"  # seconds a paused writer would sit before its rename; it is killed long before
KNOWN_FILES = ("credentials.json", "credentials.json.lock")
# Nothing in this file may take longer: a hung writer fails the test instead of CI.
ROUND_TIMEOUT = 30.0


@dataclass
class Lane:
    """One store and one cache directory, and what finished writers reported."""

    env: dict[str, str]
    store_dir: Path
    cache_dir: Path
    rng: random.Random
    stored: dict[str, tuple[str, str]] = field(default_factory=dict)
    kills: int = 0
    paused_kills: int = 0
    finished: int = 0
    max_leftovers: int = 0


def make_lane(ecr_env: dict[str, str], root: Path, fake: FakeECR, seed: int) -> Lane:
    env = dict(ecr_env)
    env["AWS_ENDPOINT_URL"] = fake.endpoint_url
    store_dir = root / f"store-{seed}"
    cache_dir = root / f"cache-{seed}"
    env["DOCKER_CREDENTIAL_CODESPACES_STORE_DIR"] = str(store_dir)
    env["DOCKER_CREDENTIAL_CODESPACES_CACHE_DIR"] = str(cache_dir)
    return Lane(env, store_dir, cache_dir, random.Random(seed))


def leftovers(lane: Lane) -> list[Path]:
    """Files that are neither the store, the cache tokens, their outcomes nor their locks:
    temporaries."""
    found = []
    for directory in (lane.store_dir, lane.cache_dir):
        if not directory.exists():
            continue
        for path in directory.iterdir():
            name = path.name
            if name in KNOWN_FILES or (
                name.startswith("ecr-") and name.endswith((".token", ".token.lock", ".outcome"))
            ):
                continue
            found.append(path)
    return found


def wait_for_temp(lane: Lane, directory: Path, before: set[Path], deadline: float) -> bool:
    """Whether a new temporary file appeared in `directory`: its writer is at the rename."""
    while time.monotonic() < deadline:
        if directory.exists() and any(
            path.parent == directory and path not in before for path in leftovers(lane)
        ):
            return True
        time.sleep(0.01)
    return False


def check_lane_files(lane: Lane) -> None:
    """The store parses and holds every reported login; every cache file parses."""
    store = lane.store_dir / "credentials.json"
    if lane.stored:
        document = json.loads(store.read_bytes())
        entries = document["credentials"]
        for key, (user, secret) in lane.stored.items():
            assert entries.get(key) == {"Username": user, "Secret": secret}, key
    elif store.exists():
        json.loads(store.read_bytes())
    if lane.cache_dir.exists():
        for path in lane.cache_dir.glob("ecr-*.token"):
            assert decode(path.read_bytes()) is not None, path
        for path in lane.cache_dir.glob("ecr-*.outcome"):
            assert decode_outcome(path.read_bytes()) is not None, path


def expire_cached(lane: Lane) -> None:
    """Make the lane's cached ECR token one that has expired, replaced atomically as the
    helper would: the next `get` must fetch, and rewrite the file over the old one."""
    now = time.time()
    for path in lane.cache_dir.glob("ecr-*.token"):
        token = decode(path.read_bytes())
        if token is not None:
            temporary = path.with_name(path.name + ".test")
            temporary.write_bytes(encode(Token(token.password, now - 60, now - 3600)))
            temporary.replace(path)


def play_round(lane: Lane, number: int) -> None:
    """Start stores and an ECR refresh together; kill some at random, some at the rename."""
    rng = lane.rng
    processes: list[tuple[subprocess.Popen[bytes], str, str, str, str]] = []
    # An ECR refresh costs ~0.5 s of CPU (boto3): fewer of them run to their end.
    paused_kind = rng.choice(["none", "store", "store", "ecr"])
    for index in range(STORES_PER_ROUND):
        key = f"r{number}-{index}.example"
        user, secret = f"user-{number}-{index}", f"secret-{number}-{index}-{rng.random()}"
        body = store_body(key, user, secret)
        paused = paused_kind == "store" and index == 0
        env = dict(lane.env, DOCKER_CREDENTIAL_CODESPACES_CRASH_TEST_PAUSE_BEFORE_RENAME=PAUSE)
        fate = "pause" if paused else rng.choice(["finish", "kill", "kill"])
        before = set(leftovers(lane))
        process = spawn(env if paused else lane.env, "store", body)
        processes.append((process, fate, key, user, secret))
        if paused:
            deadline = time.monotonic() + ROUND_TIMEOUT
            assert wait_for_temp(lane, lane.store_dir, before, deadline), "store never paused"
            process.send_signal(signal.SIGKILL)
            lane.paused_kills += 1
    ecr_fate = (
        "pause"
        if paused_kind == "ecr"
        else rng.choice(["finish", "kill", "kill", "kill", "none", "none"])
    )
    if ecr_fate != "none":
        expire_cached(lane)  # so that this get fetches and rewrites the cache file
        env = dict(lane.env)
        if ecr_fate == "pause":
            env["DOCKER_CREDENTIAL_CODESPACES_CRASH_TEST_PAUSE_BEFORE_RENAME"] = PAUSE
        before = set(leftovers(lane))
        process = spawn(env, "get", ECR_HOST.encode())
        processes.append((process, ecr_fate, "", "", ""))
        if ecr_fate == "pause":
            deadline = time.monotonic() + ROUND_TIMEOUT
            assert wait_for_temp(lane, lane.cache_dir, before, deadline), "get never paused"
            process.send_signal(signal.SIGKILL)
            lane.paused_kills += 1
    # Random kills: a small random delay after the start, anywhere in the writer's life (a
    # store lives ~40 ms, an ECR refresh ~500 ms: it imports boto3 and calls the fake).
    started = time.monotonic()
    doomed = [
        (rng.uniform(0.0, 0.6 if not key else 0.06), process)
        for process, fate, key, _user, _secret in processes
        if fate == "kill"
    ]
    for delay, process in sorted(doomed, key=lambda pair: pair[0]):
        time.sleep(max(0.0, started + delay - time.monotonic()))
        process.send_signal(signal.SIGKILL)
        lane.kills += 1
    for process, fate, key, user, secret in processes:
        out, err = process.communicate(timeout=ROUND_TIMEOUT)
        assert b"Traceback" not in err, err
        if process.returncode == 0 and key:
            lane.stored[key] = (user, secret)
        if fate == "finish":
            assert process.returncode == 0, (out, err)
            lane.finished += 1
    lane.max_leftovers = max(lane.max_leftovers, len(leftovers(lane)))
    assert len(leftovers(lane)) <= 4, leftovers(lane)
    check_lane_files(lane)


def play_lane(lane: Lane, rounds: int, first: int) -> Lane:
    for number in range(first, first + rounds):
        play_round(lane, number)
    return lane


@pytest.mark.slow  # a minute of kills: on the main Python only (tests/run.sh)
def test_kill_storms(ecr_env: dict[str, str], tmp_path: Path, fake: FakeECR) -> None:
    """200 rounds of stores and ECR refreshes killed at random; nothing is lost or corrupt."""
    started = time.monotonic()
    lanes = [make_lane(ecr_env, tmp_path, fake, seed) for seed in range(LANES)]
    per_lane = ROUNDS // LANES
    with ThreadPoolExecutor(LANES) as pool:
        done = list(pool.map(lambda i: play_lane(lanes[i], per_lane, i * per_lane), range(LANES)))
    for lane in done:
        # A clean writer afterwards removes what killed writers left behind.
        body = b'{"ServerURL":"final.example","Username":"f","Secret":"f"}'
        assert run_helper(lane.env, "store", stdin=body).returncode == 0
        lane.stored["final.example"] = ("f", "f")
        got = run_helper(lane.env, "get", stdin=ECR_HOST.encode())
        assert got.returncode == 0, got.stdout + got.stderr
        assert leftovers(lane) == [], leftovers(lane)
        check_lane_files(lane)
        listed = json.loads(run_helper(lane.env, "list", stdin=None).stdout)
        assert set(lane.stored) <= set(listed)
        for key, (_user, secret) in lane.stored.items():
            answer = json.loads(run_helper(lane.env, "get", stdin=key.encode()).stdout)
            assert answer["Secret"] == secret
    elapsed = time.monotonic() - started
    print(
        f"crash: {ROUNDS} rounds in {elapsed:.1f} s; "
        + "; ".join(
            f"lane {i}: {lane.kills} random kills, {lane.paused_kills} kills at the rename, "
            f"{lane.finished} finished, {len(lane.stored)} logins kept, "
            f"at most {lane.max_leftovers} leftovers"
            for i, lane in enumerate(done)
        )
    )
    assert sum(lane.paused_kills for lane in done) >= ROUNDS // 2
    assert sum(lane.kills for lane in done) >= ROUNDS
    assert elapsed < 150
