"""`doctor`: what the helper knows, where each registry's credentials come from, what is wrong.

GitHub's advice for registry trouble is to paste the secret into `docker login`; this says
instead, naming variables and never their values, which secret to fix and whether docker will
ask this helper at all. `--check` also logs in to each registry the way `docker login` does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from typing import Any

from . import codespace_token, dockerconfig, ecr, probe, secrets, settings
from .commands import Parser
from .constants import DOCKER_HUB_KEY, ENV_DOCKER_AUTH_CONFIG, GHCR, HELPER_NAME, PROGRAM
from .ecr import TOKEN
from .logins import logins
from .resolve import CodespacesHelper
from .wire import HelperError

# The longest --timeout: a login that takes longer than this is not coming.
MAX_TIMEOUT = 600.0
GHCR_NOTE = (
    "the codespace token can pull this repository's packages but not push; to push, "
    "`docker login ghcr.io` with a personal access token that has write:packages"
)


class Row:
    """One registry the helper knows, and what doctor found about it."""

    def __init__(self, key: str, source: str) -> None:
        self.key = key
        self.source = source
        registry = ecr.registry(key)
        if key == DOCKER_HUB_KEY:
            self.kind = "Docker Hub"
        elif registry is None:
            self.kind = "registry"
        else:
            self.kind = "ECR Public" if registry.public else "ECR"
        self.identity: str | None = None  # an ECR secret's AWS identity, as login names it
        self.state = "ready"
        self.check: str | None = None
        self.problems: list[str] = []
        self.notes: list[str] = []

    def as_dict(self) -> dict[str, Any]:
        return {
            "registry": self.key,
            "source": self.source,
            "kind": self.kind,
            "identity": self.identity,
            "state": self.state,
            "check": self.check,
            "problems": self.problems,
            "notes": self.notes,
        }


def secret_findings() -> tuple[list[Row], list[str]]:
    """Rows for the secrets that answer, and a problem for each triple that does not."""
    found = secrets.scan()
    problems = [skipped.message for skipped in found.passed_over]
    if any(s.aws is not None and s.aws.kind != TOKEN for s in found.answers.values()):
        problems += cache_problems()
    now = time.time()
    rows = []
    for key, secret in found.answers.items():
        row = Row(key, f"secret {secret.prefix}")
        if secret.aws is not None:
            from .ecr import login

            row.identity = login.describe(secret.aws)
            row.state, row.problems = login.status(secret, now)
        rows.append(row)
    return rows, problems


def cache_problems() -> list[str]:
    """Why the ECR token cache cannot be used, if it cannot."""
    directory = settings.cache_dir()
    try:
        if directory is not None:
            directory.check()
    except HelperError as error:
        return [f"the ECR token cache is off, so every pull asks AWS: {error}"]
    return []


def login_rows(known: set[str]) -> tuple[list[Row], list[str]]:
    """Rows for the stored logins (local or fallback store), and the codespace token."""
    source = logins()
    problems = []
    try:
        stored = source.entries()
    except HelperError as error:
        problems.append(str(error))
        stored = {}
    rows = []
    for key in sorted(stored):
        if key not in known:
            rows.append(Row(key, source.description))
            known.add(key)
    if GHCR not in known and codespace_token.applies():
        row = Row(GHCR, "Codespaces token")
        row.notes.append(GHCR_NOTE)
        rows.append(row)
    return rows, problems


def wiring_problems(rows: list[Row]) -> list[str]:
    """Whether docker, and skopeo/podman, will ask this helper for each registry."""
    problems = []
    if os.environ.get(ENV_DOCKER_AUTH_CONFIG):
        problems.append(
            "DOCKER_AUTH_CONFIG is set; docker uses it instead of any credential helper"
        )
    if shutil.which(PROGRAM) is None:
        problems.append(f"{PROGRAM} is not on PATH, so docker cannot run it")
    path = dockerconfig.config_path()
    try:
        config = dockerconfig.load(path)
    except HelperError as error:
        return [*problems, str(error)]
    store = config.get("credsStore")
    named = config.get("credHelpers")
    helpers: dict[str, Any] = named if isinstance(named, dict) else {}
    for row in rows:
        for key in dockerconfig.helper_keys([row.key]):
            other = helpers.get(key)
            if other not in (None, HELPER_NAME):
                row.problems.append(
                    f"credHelpers in {path} sends {key} to docker-credential-{other}, "
                    "so this helper is never asked"
                )
        if any(helpers.get(k) == HELPER_NAME for k in dockerconfig.helper_keys([row.key])):
            continue
        if store == HELPER_NAME:
            row.problems.append(
                "skopeo and podman will not ask this helper (they ignore credsStore); "
                f"run `{PROGRAM} configure`"
            )
        else:
            row.problems.append(
                f"docker will not ask this helper: {path} has no credsStore "
                f"{HELPER_NAME!r} and no credHelpers entry; run `{PROGRAM} configure`"
            )
    return problems


def run_checks(rows: list[Row], timeout: float) -> None:
    """Log in to every registry at once, each within `timeout` seconds."""
    from concurrent.futures import ThreadPoolExecutor

    helper = CodespacesHelper()

    def check(row: Row) -> tuple[str, str]:
        """(short outcome, detail) for one registry."""
        try:
            username, secret = helper.get(row.key)
        except HelperError as error:
            return "no credentials", str(error)
        outcome = probe.login(row.key, username, secret, timeout)
        return outcome, outcome

    if not rows:
        return
    with ThreadPoolExecutor(max_workers=min(8, len(rows))) as pool:
        for row, (outcome, detail) in zip(rows, pool.map(check, rows)):
            row.check = outcome.split(" (")[0]
            if outcome != probe.OK:
                row.problems.append(f"check failed: {detail}")


def report(check: bool, timeout: float) -> dict[str, Any]:
    """The whole diagnosis as data: rows, problems, notes, and whether all is well."""
    rows, problems = secret_findings()
    problems += settings.problems()

    more, login_problems = login_rows({row.key for row in rows})
    rows += more
    problems += login_problems
    problems += wiring_problems(rows)
    if check:
        run_checks(rows, timeout)
    every = problems + [f"{row.key}: {p}" for row in rows for p in row.problems]
    return {
        "registries": [row.as_dict() for row in rows],
        "problems": problems,
        "ok": not every,
    }


def render(result: dict[str, Any]) -> str:
    """The report for a person: a table of registries, then what is wrong and what to know."""
    rows = result["registries"]
    lines = []
    if rows:
        header = ("REGISTRY", "SOURCE", "KIND", "STATE")
        table = [header] + [
            (
                r["registry"],
                r["source"],
                r["kind"],
                r["state"] + (f"; check: {r['check']}" if r["check"] else ""),
            )
            for r in rows
        ]
        widths = [max(len(line[i]) for line in table) for i in range(3)]
        for line in table:
            lines.append(
                "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line[:3])) + "  " + line[3]
            )
    else:
        lines.append("no registry is known: no secret triple, no stored login")
    problems = result["problems"] + [f"{r['registry']}: {p}" for r in rows for p in r["problems"]]
    notes = [f"{r['registry']}: {n}" for r in rows for n in r["notes"]]
    if problems:
        lines += ["", "Problems:"] + [f"  - {p}" for p in problems]
    if notes:
        lines += ["", "Notes:"] + [f"  - {n}" for n in notes]
    if not problems:
        lines += ["", "Nothing is wrong."]
    return "\n".join(lines) + "\n"


def _seconds(text: str) -> float:
    """A --timeout: seconds from 1 to MAX_TIMEOUT, since inf or nan would crash the sockets."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 1.0 <= value <= MAX_TIMEOUT:  # nan fails every comparison
        raise argparse.ArgumentTypeError(f"{text!r} is not seconds from 1 to {MAX_TIMEOUT:g}")
    return value


def main(argv: list[str]) -> int:
    """`doctor`: exit 0 only when nothing is wrong."""
    parser = Parser(
        prog=f"{PROGRAM} doctor",
        description="Explain which registries the helper knows, where their credentials come "
        "from, and what is wrong; secrets' values are never shown.",
    )
    parser.add_argument("--check", action="store_true", help="also log in to each registry")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=15.0,
        help=f"seconds per registry for --check, 1 to {MAX_TIMEOUT:g} (15)",
    )
    args = parser.parse_args(argv)
    result = report(args.check, args.timeout)
    sys.stdout.write(json.dumps(result, indent=2) + "\n" if args.json else render(result))
    return 0 if result["ok"] else 1
