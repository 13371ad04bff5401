"""What a run prints: medians per scenario, ratios to the baselines, and each target's verdict,
as a table for a person or as JSON with every sample. Ratios, not milliseconds, are what can be
compared across machines and runs."""

from __future__ import annotations

import json
import statistics
import sys
from typing import Any

from bench.scenarios import Scenario
from bench.targets import (
    BASELINE,
    BASELINE_1000,
    BASELINE_BOTO3,
    BASELINE_ISOLATED,
    COLD_FACTOR,
    DUE_EXTRA_MS,
    GET_ECR_CACHED,
    GET_ECR_COLD,
    GET_ECR_DUE,
    GET_NOT_FOUND,
    GET_PLAIN,
    GET_TRIPLES,
    HOT_FACTOR,
    INSTALL_PATHS,
    LIST_50,
    LIST_FACTOR,
    RSS_SLACK_MIB,
    TRIPLES_EXTRA_MS,
)
from docker_credential_codespaces.constants import PROGRAM

MIB = 1024.0  # ru_maxrss is in KiB on Linux


def summarise(scenario: Scenario) -> dict[str, Any]:
    """Median, min and max wall ms, peak RSS MiB (median and max of the runs' peaks)."""
    if not scenario.walls:
        return {}
    ms = [s * 1000 for s in scenario.walls]
    return {
        "median_ms": statistics.median(ms),
        "min_ms": min(ms),
        "max_ms": max(ms),
        "rss_mib": statistics.median(scenario.rss) / MIB,
        "rss_max_mib": max(scenario.rss) / MIB,
    }


def verdicts(stats: dict[str, dict[str, Any]], rtt_ms: float) -> dict[str, tuple[str, str]]:
    """Scenario name -> (target text, PASS / MISS with what missed) for every targeted row."""
    base = stats.get(BASELINE)
    result: dict[str, tuple[str, str]] = {}
    if not base:
        return result

    def judge(name: str, target: str, limit_ms: float, rss: bool) -> None:
        row = stats.get(name)
        if not row:
            result[name] = (target, "ERROR")
            return
        missed = []
        if row["median_ms"] > limit_ms:
            missed.append(f"time +{row['median_ms'] - limit_ms:.1f} ms")
        if rss and row["rss_mib"] > base["rss_mib"] + RSS_SLACK_MIB:
            missed.append(f"RSS base+{row['rss_mib'] - base['rss_mib']:.1f} MiB")
        result[name] = (target, "MISS: " + ", ".join(missed) if missed else "PASS")

    rss_target = f" & RSS <= base+{RSS_SLACK_MIB:g}"
    for name in (GET_PLAIN, GET_NOT_FOUND, GET_ECR_CACHED):
        judge(name, f"<= {HOT_FACTOR}x{rss_target}", HOT_FACTOR * base["median_ms"], True)
    cached = stats.get(GET_ECR_CACHED)
    if cached:
        limit = cached["median_ms"] + DUE_EXTRA_MS
        judge(GET_ECR_DUE, f"<= cached +{DUE_EXTRA_MS:g} ms{rss_target}", limit, True)
    judge(LIST_50, f"<= {LIST_FACTOR}x{rss_target}", LIST_FACTOR * base["median_ms"], True)
    one = stats.get(GET_TRIPLES[1])
    if one:
        limit = one["median_ms"] + TRIPLES_EXTRA_MS
        judge(GET_TRIPLES[1000], f"<= 1 triple +{TRIPLES_EXTRA_MS:g} ms", limit, False)
    for get_name, base_name in INSTALL_PATHS.values():
        own = stats.get(base_name)
        if own:
            limit = HOT_FACTOR * own["median_ms"]
            judge(get_name, f"<= {HOT_FACTOR}x its venv's base", limit, False)
    boto3 = stats.get(BASELINE_BOTO3)
    if boto3:
        limit = COLD_FACTOR * boto3["median_ms"] + rtt_ms
        judge(GET_ECR_COLD, f"<= {COLD_FACTOR}x boto3 + RTT", limit, False)
    return result


def triples_growth(stats: dict[str, dict[str, Any]]) -> tuple[float, float] | None:
    """(get with 1,000 triples minus get with 1, the interpreter's own share of it) in ms."""
    rows = [stats.get(n) for n in (GET_TRIPLES[1000], GET_TRIPLES[1], BASELINE_1000)]
    floor = stats.get(BASELINE_ISOLATED)
    if not all(rows) or not floor:
        return None
    many, one, interpreter = (row["median_ms"] for row in rows)  # type: ignore[index]
    return many - one, interpreter - floor["median_ms"]


def install_ratios(stats: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Install path -> median of its `get` over the median of its own venv's `python -c pass`."""
    ratios = {}
    for path, (get_name, base_name) in INSTALL_PATHS.items():
        get, base = stats.get(get_name), stats.get(base_name)
        if get and base:
            ratios[path] = get["median_ms"] / base["median_ms"]
    return ratios


def print_table(
    scenarios: list[Scenario],
    stats: dict[str, dict[str, Any]],
    judged: dict[str, tuple[str, str]],
    meta: dict[str, Any],
) -> None:
    """The header that says what the numbers mean, then one row per scenario."""
    base = stats.get(BASELINE, {}).get("median_ms")
    print(f"{PROGRAM} start-up bench: {meta['rounds']} rounds, interleaved in one run")
    print(
        "All figures are relative to the baseline `python -c pass`, measured interleaved\n"
        f"with every scenario in this same run (order shuffled each round, seed {meta['seed']});\n"
        "compare ratios, not milliseconds, across machines or runs."
    )
    print(f"helper: {meta['helper']}\n  wrapper: {meta['wrapper']}")
    print(f"interpreter: {meta['python']} ({meta['python_version']})")
    print(
        "wall: fork to reaped exit, stdout/stderr read; RSS: median of each run's ru_maxrss "
        f"(floor {meta['rss_floor_mib']:.1f} MiB)"
    )
    print(
        f"loopback round trip (RTT), one signed POST to FakeECR: median {meta['rtt_ms']:.2f} ms"
        f"; load average before: {meta['loadavg']}"
    )
    print()
    floor = stats.get(BASELINE_ISOLATED, {}).get("median_ms")
    header = (
        "scenario",
        "median ms",
        "min",
        "max",
        "RSS MiB",
        "x base",
        "x -I -S",
        "target",
        "PASS/MISS",
    )
    rows = []
    for scenario in scenarios:
        row = stats.get(scenario.name)
        target, verdict = judged.get(scenario.name, ("", "-"))
        if scenario.unavailable:
            rows.append((scenario.name, "-", "-", "-", "-", "-", "-", target, scenario.unavailable))
            continue
        if not row:
            rows.append((scenario.name, "-", "-", "-", "-", "-", "-", target, "ERROR: no good run"))
            continue
        if scenario.failures:
            verdict = f"ERROR: {len(scenario.failures)} wrong answers; {verdict}"
        ratio = f"{row['median_ms'] / base:.2f}" if base else "-"
        to_floor = f"{row['median_ms'] / floor:.2f}" if floor else "-"
        rows.append(
            (
                scenario.name,
                f"{row['median_ms']:.1f}",
                f"{row['min_ms']:.1f}",
                f"{row['max_ms']:.1f}",
                f"{row['rss_mib']:.1f}",
                ratio,
                to_floor,
                target,
                verdict,
            )
        )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    right = {1, 2, 3, 4, 5, 6}
    for line in [header, *rows]:
        cells = [
            str(cell).rjust(width) if i in right else str(cell).ljust(width)
            for i, (cell, width) in enumerate(zip(line, widths))
        ]
        print("  ".join(cells).rstrip())
    near_floor = [
        name for name, row in stats.items() if row and row["rss_mib"] < meta["rss_floor_mib"] + 0.5
    ]
    if near_floor:
        print(
            f"\nRSS within 0.5 MiB of the floor, so possibly the floor's: {', '.join(near_floor)}"
        )
    growth = triples_growth(stats)
    if growth is not None:
        total, interpreter = growth
        # Signed: each part is a difference of medians, and the rest can fall below zero
        # when the helper's scan costs less than the noise between those medians.
        print(
            f"\n1,000 triples against 1: {total:+.1f} ms, of which the interpreter alone "
            f"(python -I -S -c pass with and without them) {interpreter:+.1f} ms, the rest "
            f"(the helper's own scan, and noise) {total - interpreter:+.1f} ms"
        )
    ratios = install_ratios(stats)
    if ratios:
        each = ", ".join(f"{path} {ratio:.2f}x" for path, ratio in ratios.items())
        print(f"\nhot get by install path, against its own venv's python -c pass: {each}")
    misses = [name for name, (_, verdict) in judged.items() if verdict != "PASS"]
    print()
    print(f"targets missed: {', '.join(misses)}" if misses else "every target met")
    for scenario in scenarios:
        for problem in scenario.failures[:3]:
            print(f"  {scenario.name}: {problem}")


def print_json(
    scenarios: list[Scenario],
    stats: dict[str, dict[str, Any]],
    judged: dict[str, tuple[str, str]],
    meta: dict[str, Any],
    trips: list[float],
) -> None:
    """The same as JSON, with every raw sample and the round trips."""
    document = {
        "meta": meta,
        "note": "relative to the baseline measured interleaved in the same run",
        "triples_growth_ms": dict(
            zip(("total", "interpreter"), triples_growth(stats) or (None, None))
        ),
        "rtt_samples_ms": [t * 1000 for t in trips],
        "install_path_ratios": install_ratios(stats),
        "scenarios": [
            {
                "name": s.name,
                "argv": s.argv,
                "stdin": s.stdin.decode("utf-8", "replace"),
                "unavailable": s.unavailable or None,
                **stats[s.name],
                "ratio_to_baseline": (
                    stats[s.name]["median_ms"] / stats[BASELINE]["median_ms"]
                    if stats[s.name] and stats.get(BASELINE)
                    else None
                ),
                "ratio_to_isolated_baseline": (
                    stats[s.name]["median_ms"] / stats[BASELINE_ISOLATED]["median_ms"]
                    if stats[s.name] and stats.get(BASELINE_ISOLATED)
                    else None
                ),
                "target": judged.get(s.name, (None, None))[0],
                "verdict": judged.get(s.name, (None, None))[1],
                "failures": s.failures,
                "wall_ms": [w * 1000 for w in s.walls],
                "rss_kib": s.rss,
            }
            for s in scenarios
        ],
    }
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")
