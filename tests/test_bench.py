"""The benchmark keeps working as the helper changes: every scenario runs and answers rightly.

Timings are never tested here (the machines are noisy; `python -B -m bench` reports ratios for
a person to read). What is a fact is that each scenario gets the answer it expects, that the cold
and cached ECR runs did what their names say (the bench counts FakeECR's calls), and that the
JSON carries the columns the README's table shows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from beds.client import HELPER
from beds.environment import isolated_environ

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = {
    "baseline: python -c pass",
    "baseline: python -I -S -c pass",
    "get: plain secret",
    "get: not found",
    "get: ECR, token cached",
    "get: ECR, past refresh point",
    "list: 50 triples",
    "get: 1 triple",
    "get: 100 triples",
    "get: 1,000 triples",
    "baseline: python -I -S -c pass, 1,000 triples",
    'baseline: python -c "import boto3"',
    "baseline: python -I, botocore.session, no teardown",
    "get: ECR cold (FakeECR)",
    "peer: ecr-login get, cached",
}
INSTALL_ROWS = {
    "get: plain secret, installed by install.sh",
    "baseline: python -c pass, install.sh's venv",
    "get: plain secret, installed by the dev container Feature",
    "baseline: python -c pass, Feature's venv",
    "get: plain secret, pip install in a fresh venv (its bundled pip)",
    "baseline: python -c pass, pip's venv",
    "get: plain secret, pipx install",
    "baseline: python -c pass, pipx's venv",
}
WHEELHOUSE = REPO / ".venv" / "wheelhouse"

pytestmark = pytest.mark.slow


def run_bench(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-B", "-m", "bench", "--helper", str(HELPER), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=isolated_environ(root),
        timeout=300,
        check=False,
    )


def test_every_scenario_runs_and_answers_rightly(tmp_path: Path) -> None:
    result = run_bench(tmp_path, "--quick", "--rounds", "2", "--json", "--seed", "7")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    document = json.loads(result.stdout)
    rows = {row["name"]: row for row in document["scenarios"]}
    assert set(rows) == SCENARIOS | INSTALL_ROWS
    for name, row in rows.items():
        if row["unavailable"]:  # only the compiled peer may be missing, and it says how to add it
            if name in INSTALL_ROWS and not WHEELHOUSE.is_dir():
                assert "tests/run.sh builds the wheelhouse" in row["unavailable"]
                continue
            assert name.startswith("peer:") and "apt-get install" in row["unavailable"]
            continue
        assert row["failures"] == [], name
        assert len(row["wall_ms"]) == 2 and len(row["rss_kib"]) == 2, name
        for column in ("median_ms", "min_ms", "max_ms", "rss_mib", "ratio_to_baseline"):
            assert row[column] > 0, (name, column)
        assert row["verdict"] is None or row["verdict"].startswith(("PASS", "MISS")), name
    assert rows["baseline: python -c pass"]["ratio_to_baseline"] == 1.0
    assert document["meta"]["rounds"] == 2 and document["meta"]["seed"] == 7
    assert set(document["triples_growth_ms"]) == {"total", "interpreter"}
    if WHEELHOUSE.is_dir():
        assert set(document["install_path_ratios"]) == {"install.sh", "Feature", "pip", "pipx"}


def test_the_table_names_every_scenario_and_its_ratio(tmp_path: Path) -> None:
    result = run_bench(tmp_path, "--quick", "--rounds", "1", "--seed", "7", "--no-installs")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("scenario"))
    for column in ("median ms", "min", "max", "RSS MiB", "x base", "x -I -S", "PASS/MISS"):
        assert column in header
    for name in SCENARIOS | INSTALL_ROWS:
        assert any(line.startswith(name) for line in lines), name
    for name in INSTALL_ROWS:  # skipped, and saying so in their own row
        assert any(line.startswith(name) and "--no-installs" in line for line in lines), name
    assert any(line.startswith("1,000 triples against 1: ") for line in lines)
    assert lines[-1] == "every target met" or lines[-1].startswith("targets missed: ")


def test_too_few_rounds_are_refused_without_quick(tmp_path: Path) -> None:
    result = run_bench(tmp_path, "--rounds", "5")
    assert result.returncode == 2
    assert "--rounds must be at least 30" in result.stderr


def test_callgrind_counts_the_three_cases(tmp_path: Path) -> None:
    """`python -m bench.callgrind` runs each case under valgrind and prints a count for it."""
    if shutil.which("valgrind") is None:
        if os.environ.get("CI"):  # tests/run.sh installs it: missing in CI is a broken setup
            pytest.fail("valgrind is missing in CI; tests/run.sh installs it")
        pytest.skip("bench.callgrind needs valgrind; tests/run.sh installs it")
    result = subprocess.run(
        [sys.executable, "-B", "-m", "bench.callgrind", "--runs", "1", "--executable", str(HELPER)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=isolated_environ(tmp_path),
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    rows = {}
    for line in result.stdout.splitlines():
        name, *columns = line.rsplit(maxsplit=4)
        if name in ("get: plain secret", "get: not found", "list"):
            rows[name] = [int(column.replace(",", "")) for column in columns[:3]]
    assert set(rows) == {"get: plain secret", "get: not found", "list"}, result.stdout
    for name, (median, low, high) in rows.items():
        assert median == low == high > 0, name  # one run: its count is the median, min and max
