"""`python -m bench.callgrind`: how many instructions one invocation of the helper costs.

The bench's wall times move by several percent between runs on a shared machine, too much to
see a change of 1%; the instruction count under valgrind's callgrind hardly moves. So this
counts it for the hot cases a restructure must not slow down (a `get` answered by a secret, a
`get` that finds nothing, `list`) and prints each case's median, min and max over `--runs`:

    .venv/bin/python -m bench.callgrind                  # this checkout's install, 7 runs
    .venv/bin/python -m bench.callgrind --runs 3
    .venv/bin/python -m bench.callgrind --executable OTHER/.venv/bin/docker-credential-codespaces

Run it from a checkout's root, where `bench` and `beds` are found. Why it works as it does:

* Only the executable runs, as docker runs it (verb in argv, request on stdin, none for
  `list`); nothing of the package is imported, so one tool measures any checkout's install.
* Every run gets a fresh environment from the beds' builder: three secret triples, no secrets
  file, no AWS, no network. The count grows with the environment's size and path lengths, so
  it lives in one fixed directory, recreated each run; a lock keeps two tools apart.
* Each case runs once first without valgrind, its answer checked: a fresh install's first run
  writes bytecode caches, which more than doubles the count. Every counted answer is checked.
* The launcher's `-I` ignores PYTHONHASHSEED: each run hashes with a new seed, so dicts and
  sets collide differently and counts differ by a few tenths of a percent. Hence the median.
* `--trace-children=yes`: a launcher wrapper for a long interpreter path is a /bin/sh script
  that execs Python, and Python is what must be counted. A forked child would leave a second
  out file; that is refused, not summed.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple, Optional

from beds.client import PROGRAM, run_command
from beds.environment import add_secret, isolated_environ

REPO = Path(__file__).resolve().parent.parent
#: The default executable: the one tests/run.sh (as install.sh does) writes into this checkout.
EXECUTABLE = REPO / ".venv" / "bin" / PROGRAM
#: One fixed directory for every run, so that every path in the environment has one length.
BASE = Path("/tmp/dcc-callgrind")
#: A run under valgrind is some 50 times slower than a plain one.
TIMEOUT = 300.0
#: (prefix, server, user, password): fake values only.
SECRETS = (
    ("GHCR", "ghcr.io", "octocat", "fake-password-1"),
    ("EXAMPLE", "registry.example.com", "builder", "fake-password-2"),
    ("MIRROR", "mirror.example.org:5000", "puller", "fake-password-3"),
)
NOWHERE = "nothing.example.net"


class Case(NamedTuple):
    """One invocation: its name, verb, stdin (None: no stdin at all) and expected answer."""

    name: str
    verb: str
    stdin: Optional[bytes]
    returncode: int
    answer: object  # the JSON on stdout, or the bytes of a plain-text answer


FOUND = {"ServerURL": "ghcr.io", "Username": "octocat", "Secret": "fake-password-1"}
CASES = (
    Case("get: plain secret", "get", b"ghcr.io", 0, FOUND),
    Case(
        "get: not found", "get", NOWHERE.encode(), 1, b"credentials not found in native keychain\n"
    ),
    Case("list", "list", None, 0, {server: user for _, server, user, _ in SECRETS}),
)
VALGRIND = ("-q", "--tool=callgrind", "--trace-children=yes")


def environment(executable: Path) -> dict[str, str]:
    """The one environment of every case, built afresh in the fixed directory."""
    root = BASE / "env"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    env = isolated_environ(root, executable)
    for secret in SECRETS:
        add_secret(env, *secret)
    return env


def check(case: Case, result: subprocess.CompletedProcess[bytes]) -> None:
    """Refuse a run whose answer is not the case's: its count would measure something else."""
    answer: object = result.stdout
    if isinstance(case.answer, dict):
        try:
            answer = json.loads(result.stdout)
        except ValueError:
            pass
    if result.returncode != case.returncode or answer != case.answer:
        raise SystemExit(
            f"callgrind: {case.name}: exit {result.returncode}, wrong answer "
            f"({len(result.stdout)} bytes on stdout); stderr: {result.stderr[-2000:]!r}"
        )


def instructions(out_file: Path) -> int:
    """The total instruction count of a callgrind out file (`summary:`, else `totals:`)."""
    lines = out_file.read_text().splitlines()
    for key in ("summary:", "totals:"):
        for line in lines:
            if line.startswith(key):
                return int(line[len(key) :].split()[0])
    raise SystemExit(f"callgrind: no summary or totals line in {out_file}")


def count(case: Case, executable: Path, valgrind: str) -> int:
    """Run the case once under callgrind in a fresh environment; its instruction count."""
    env = environment(executable)
    out = BASE / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    output = f"--callgrind-out-file={out}/callgrind.%p"
    argv = [valgrind, *VALGRIND, output, str(executable), case.verb]
    check(case, run_command(argv, env, case.stdin, TIMEOUT))
    files = sorted(out.iterdir())
    if len(files) != 1:
        raise SystemExit(f"callgrind: {case.name} left {len(files)} out files, not one process")
    return instructions(files[0])


def main(argv: Optional[list[str]] = None) -> int:
    """Warm each case up, count it `--runs` times, print median, min and max per case."""
    parser = argparse.ArgumentParser(prog="python -m bench.callgrind", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--executable", type=Path, default=EXECUTABLE, help=f"({EXECUTABLE})")
    parser.add_argument("--runs", type=int, default=7, help="runs per case (7)")
    args = parser.parse_args(argv)
    executable = Path(os.path.abspath(args.executable))
    valgrind = shutil.which("valgrind")
    if not os.access(executable, os.X_OK):
        parser.error(f"no executable {executable}; tests/run.sh writes it, or name one")
    if valgrind is None:
        parser.error("no valgrind on PATH (apt-get install valgrind)")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    BASE.mkdir(exist_ok=True)
    with open(BASE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another tool's run would share the directory
        for case in CASES:  # the first run of an install writes its bytecode caches
            env = environment(executable)
            check(case, run_command([str(executable), case.verb], env, case.stdin, TIMEOUT))
        counts: dict[str, list[int]] = {case.name: [] for case in CASES}
        for _ in range(args.runs):
            for case in CASES:
                counts[case.name].append(count(case, executable, valgrind))
        shutil.rmtree(BASE / "env", ignore_errors=True)
        shutil.rmtree(BASE / "out", ignore_errors=True)
    version = subprocess.run([valgrind, "--version"], capture_output=True, text=True, check=False)
    print(f"instructions per invocation of {executable}")
    print(f"{args.runs} runs per case, {version.stdout.strip()} --tool=callgrind, 3 triples")
    print(f"{'case':<20}{'median':>14}{'min':>14}{'max':>14}{'spread':>9}")
    for name, values in counts.items():
        median = statistics.median(values)
        spread = (max(values) - min(values)) / median * 100
        print(f"{name:<20}{median:>14,.0f}{min(values):>14,}{max(values):>14,}{spread:>8.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
