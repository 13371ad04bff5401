"""`python -B -m bench`: prepare every scenario, measure them interleaved, print the verdicts.

See the package docstring (`bench/__init__.py`) for the usage and the method.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from beds.aws import FakeECR
from beds.client import HELPER, interpreter_command, wait_for_refreshers
from bench.measurement import RUN_TIMEOUT, Spawner, round_trip, rss_floor, run_rounds, warm_up
from bench.report import MIB, print_json, print_table, summarise, verdicts
from bench.scenarios import (
    KEY_CACHED,
    KEY_COLD,
    KEY_DUE,
    KEY_RTT,
    WHEELHOUSE,
    build_scenarios,
    install_scenarios,
    peer_scenario,
)
from bench.targets import GET_ECR_CACHED, GET_ECR_COLD, GET_ECR_DUE
from docker_credential_codespaces.constants import PROGRAM

COMMAND = ".venv/bin/python -B -m bench"


def parse_args(argv: list[str]) -> Any:
    """--rounds (30 at least unless --quick), --json, --seed, --helper."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=f"Time {PROGRAM} against `python -c pass`, interleaved over many rounds.",
        epilog=f"Run it from the repository root with the helper's venv interpreter: {COMMAND}",
    )
    parser.add_argument(
        "--rounds", type=int, help="rounds (default 30; at least 30 unless --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="allow few rounds (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON with every sample")
    parser.add_argument("--seed", type=int, help="seed of the per-round order (default: random)")
    parser.add_argument(
        "--no-installs",
        action="store_true",
        help="skip the install-path rows, which install the helper four ways into fresh venvs "
        f"offline from {WHEELHOUSE.relative_to(WHEELHOUSE.parent.parent)} first",
    )
    parser.add_argument(
        "--helper",
        help="the executable to measure, e.g. the one install.sh put on PATH (default: the one "
        "in the venv of the interpreter running the bench); its #! interpreter runs the baselines",
    )
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 5 if args.quick else 30
    if args.rounds < 1 or (args.rounds < 30 and not args.quick):
        parser.error("--rounds must be at least 30 (or use --quick for a smoke test)")
    if args.seed is None:
        args.seed = int.from_bytes(os.urandom(4), "little")
    return args


def helper_interpreter(helper: str) -> tuple[str, str]:
    """The interpreter the helper's script starts, and which wrapper it is, for the header.

    The baselines must use the helper's own interpreter and venv, whatever runs the bench.
    """
    interpreter, *flags = interpreter_command(Path(helper))
    if flags == ["-IS"]:
        return interpreter, "the launcher's (python -I -S), as install.sh writes it"
    return interpreter, (
        "NOT the launcher's; install.sh would write one with "
        "`python -I -m docker_credential_codespaces.launcher PATH`"
    )


def main(argv: list[str] | None = None) -> int:
    """Prepare every scenario, measure them interleaved, print the table or JSON."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    helper = args.helper or str(HELPER)
    if not os.access(helper, os.X_OK):
        raise SystemExit(
            f"bench: no {helper}; run this with the helper's venv ({COMMAND}) "
            "or name the installed executable with --helper"
        )
    helper = os.path.realpath(helper)
    python, wrapper = helper_interpreter(helper)
    keys = dict([KEY_COLD, KEY_CACHED, KEY_RTT, KEY_DUE])
    loadavg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="dcc-bench-") as temp, FakeECR(keys) as fake:
        root = Path(temp)
        spawner = Spawner(python)
        try:
            scenarios = build_scenarios(root, python, helper, fake)
            scenarios.append(peer_scenario(root, helper))
            wheelhouse = None if args.no_installs else WHEELHOUSE
            scenarios += install_scenarios(root, python, wheelhouse)
            floor = rss_floor(spawner)
            warm_up(spawner, scenarios)
            round_trip(fake)  # warm the server's code paths too
            cached_calls = fake.count(key_id=KEY_CACHED[0])
            cold_calls = fake.count(key_id=KEY_COLD[0])
            trips = run_rounds(spawner, scenarios, fake, args.rounds, args.seed)
            floor_after = rss_floor(spawner)
            by_name = {s.name: s for s in scenarios}
            if fake.count(key_id=KEY_CACHED[0]) != cached_calls:
                extra = fake.count(key_id=KEY_CACHED[0]) - cached_calls
                by_name[GET_ECR_CACHED].failures.append(f"{extra} runs missed the cache")
            due = by_name[GET_ECR_DUE]
            wait_for_refreshers(due.env)
            if fake.count(key_id=KEY_DUE[0]) < len(due.walls):
                due.failures.append("some runs started no refresher behind their answer")
            cold = by_name[GET_ECR_COLD]
            if fake.count(key_id=KEY_COLD[0]) - cold_calls != len(cold.walls) + len(cold.failures):
                cold.failures.append("FakeECR saw a different number of exchanges than runs")
            if fake.errors:
                raise SystemExit(f"bench: FakeECR failed: {fake.errors[0]!r}")
        finally:
            spawner.stop()

    stats = {s.name: summarise(s) for s in scenarios}
    rtt_ms = statistics.median(trips) * 1000
    judged = verdicts(stats, rtt_ms)
    meta = {
        "rounds": args.rounds,
        "seed": args.seed,
        "python": python,
        "python_version": subprocess.run(
            [
                python,
                "-I",
                "-S",
                "-c",
                "import sys; print(sys.implementation.name, sys.version.split()[0])",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=RUN_TIMEOUT,
        ).stdout.strip(),
        "helper": helper,
        "wrapper": wrapper,
        "cpus": os.cpu_count(),
        "loadavg": loadavg,
        "rtt_ms": rtt_ms,
        "rss_floor_mib": max(floor, floor_after) / MIB,
        "rss_floor_before_after_kib": [floor, floor_after],
    }
    if args.json:
        print_json(scenarios, stats, judged, meta, trips)
    else:
        print_table(scenarios, stats, judged, meta)
    failed = any(s.failures for s in scenarios)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
