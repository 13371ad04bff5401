"""Mutation testing of the rule modules: every mutant killed by an in-process test, or listed.

The rule modules are the ones whose mistakes would answer for the wrong registry, with the
wrong secret, or at the wrong time: the server names, the secrets scan and reader, the wire
protocol, the config.json codec, the directories, the on/off reader, what `doctor --check`
counts as loopback, and the ECR hosts, identities and tokens. mutmut 3 changes them one small
edit at a time and runs the fast in-process tests that cover the edited function; an edit that
no test fails on is a rule the tests do not hold.

    python scripts/mutation.py                 every rule module (a few minutes)
    python scripts/mutation.py servers wire    some of them, by the names in RULES
    python scripts/mutation.py --changed       only those changed since their last clean run

A surviving mutant fails the run unless it is listed in tests/equivalent_mutants.txt (it
changes nothing, and the line says why); a listed mutant that no longer survives fails it too,
so the list never outlives the code it was written for. After a clean run the modules' stamps
(a hash of each module, its tests and its listed mutants) are written to
tests/mutation_stamps.txt; `--changed`, which the test command runs, does only the modules
whose stamp differs, so an unchanged checkout costs nothing. Work happens in a copy of the
working tree under a temporary folder; the checkout is touched only by the stamps.
Exit 0 when every mutant is killed or listed, 1 otherwise (each survivor named with its edit).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

#: The checkout this script belongs to.
ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "docker_credential_codespaces"
EQUIVALENTS = Path("tests") / "equivalent_mutants.txt"
STAMPS = Path("tests") / "mutation_stamps.txt"
#: What the copy needs besides the package: the tests, the beds they import, the config.
COPIED = [PACKAGE, "beds", "tests"]
#: mutmut's statuses that mean a test noticed the edit.
CAUGHT = {"killed", "timeout", "segfault"}


@dataclass(frozen=True)
class Rule:
    """One rule module: its file, the functions whose mutants count (all when empty), and the
    fast in-process test files that hold it (mutmut runs, of these, the tests that cover the
    edited function)."""

    path: str
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        """The dotted name of the module's mutants; a package's __init__ is the package."""
        dotted = self.path.removesuffix(".py").replace("/", ".")
        return f"{PACKAGE}.{dotted.removesuffix('.__init__')}"

    def globs(self) -> list[str]:
        """mutmut's names of the mutants that count: `module.x_function__mutmut_N`, or, for
        the whole module, every function's and method's (`module.xǁClassǁmethod__mutmut_N`)."""
        if self.functions:
            return [f"{self.module}.x_{name}__mutmut_*" for name in self.functions]
        return [f"{self.module}.x*"]

    def owns(self, mutant: str) -> bool:
        """Whether a mutant's name is one of this rule's."""
        prefix = f"{self.module}.x"
        if not mutant.startswith(prefix) or "." in mutant[len(prefix) :]:
            return False
        if not self.functions:
            return True
        return any(mutant.startswith(f"{self.module}.x_{name}__mutmut_") for name in self.functions)


RULES: dict[str, Rule] = {
    "servers": Rule("servers.py", ("tests/test_servers.py",)),
    "wire": Rule("wire.py", ("tests/test_wire.py", "tests/test_chain.py")),
    "secrets": Rule("secrets.py", ("tests/test_secrets.py",)),
    "dockerconfig": Rule("dockerconfig.py", ("tests/test_dockerconfig.py",)),
    "settings": Rule("settings.py", ("tests/test_settings.py",)),
    "log": Rule("log.py", ("tests/test_log.py",)),
    "loopback": Rule("probe.py", ("tests/test_probe.py",), ("is_loopback",)),
    "ecr": Rule("ecr/__init__.py", ("tests/test_ecr_hosts.py", "tests/test_ecr_identity.py")),
    "ecr-token": Rule("ecr/token.py", ("tests/test_token.py",)),
}


class MutationError(Exception):
    """A run that could not be made; its text is the one line the user sees."""


def equivalents(root: Path) -> dict[str, str]:
    """The listed mutants, name to why. Comments and blank lines are skipped."""
    listed: dict[str, str] = {}
    for number, line in enumerate((root / EQUIVALENTS).read_text("utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, colon, why = line.partition(": ")
        if not colon or not why.strip() or " " in name:
            raise MutationError(
                f"{EQUIVALENTS}:{number}: not 'mutant name: why it changes nothing'"
            )
        listed[name] = why.strip()
    return listed


#: What every rule's run depends on besides its module and its tests: this command (which
#: mutants count, what a kill is), the project's settings (mutmut's pin, pytest's), the
#: constants every module reads, and the fixtures every test file may use.
SHARED = ("scripts/mutation.py", "pyproject.toml", f"{PACKAGE}/constants.py", "tests/conftest.py")


def beds_of(root: Path, test: str) -> list[str]:
    """The bed modules a test file imports (`from beds.x import ...`, `from beds import x`)."""
    found: set[str] = set()
    for line in (root / test).read_text("utf-8").splitlines():
        named = re.match(r"from beds(?:\.(\w+))? import (.+)", line.strip())
        if named:
            modules = [named.group(1)] if named.group(1) else re.findall(r"\w+", named.group(2))
            found.update(f"beds/{module}.py" for module in modules)
    return sorted(part for part in found if (root / part).is_file())


def stamp(root: Path, name: str, rule: Rule, listed: dict[str, str]) -> str:
    """What a clean run of one rule vouches for: the rule itself, its module, its tests and
    the beds they import, what every run shares, and its listed mutants. Any of them changed,
    and `--changed` runs the rule again."""
    digest = hashlib.sha256(repr(rule).encode() + b"\0")
    beds = sorted({bed for test in rule.tests for bed in beds_of(root, test)})
    for part in (f"{PACKAGE}/{rule.path}", *rule.tests, *beds, *SHARED):
        digest.update(part.encode() + b"\0" + (root / part).read_bytes() + b"\0")
    for mutant in sorted(m for m in listed if rule.owns(m)):
        digest.update(f"{mutant}: {listed[mutant]}\n".encode())
    return f"{name} {digest.hexdigest()}"


def stamps(root: Path) -> set[str]:
    """The stamps of the last clean runs."""
    try:
        return set((root / STAMPS).read_text("utf-8").splitlines())
    except FileNotFoundError:
        return set()


def copy_tree(root: Path, into: Path) -> None:
    """The working tree's package, beds, tests and config, as they are now (edits included)."""
    for part in COPIED:
        shutil.copytree(
            root / part,
            into / part,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "mutants"),
        )
    shutil.copy2(root / "pyproject.toml", into / "pyproject.toml")


def configure(into: Path, rules: list[Rule]) -> None:
    """mutmut's settings in the copy's pyproject: the files to mutate, the tests to run."""
    paths = sorted({f"{PACKAGE}/{rule.path}" for rule in rules})
    tests = sorted({test for rule in rules for test in rule.tests})
    text = (into / "pyproject.toml").read_text("utf-8")
    text += (
        "\n[tool.mutmut]\n"
        f"source_paths = {paths!r}\n"
        f"also_copy = {COPIED!r}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-m", '
        '"not e2e and not slow and not deep"]\n'
        f"pytest_add_cli_args_test_selection = {tests!r}\n"
    ).replace("'", '"')
    (into / "pyproject.toml").write_text(text, "utf-8")


def mutmut() -> str:
    """The mutmut beside this interpreter (the test extras install it into the venv)."""
    found = Path(sys.executable).parent / "mutmut"
    if found.exists():
        return str(found)
    on_path = shutil.which("mutmut")
    if on_path is None:
        raise MutationError("no mutmut: on Python 3.11 or later, pip install -e '.[test]'")
    return on_path


def run_mutmut(into: Path, rules: list[Rule], children: int, log: Path) -> dict[str, str]:
    """Every counted mutant's status, after one mutmut run in the copy."""
    program = mutmut()
    globs = [glob for rule in rules for glob in rule.globs()]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with log.open("wb") as out:
        done = subprocess.run(
            [program, "run", "--max-children", str(children), *globs],
            cwd=into,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
        )
    if done.returncode != 0:
        tail = log.read_text("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise MutationError(f"mutmut run failed (exit {done.returncode}): {tail[0][-200:]}")
    results = subprocess.run(
        [program, "results", "--all", "true"],
        cwd=into,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    status: dict[str, str] = {}
    for line in results.stdout.splitlines():
        found = re.fullmatch(r"\s*(\S+): (.+)", line)
        if found and any(rule.owns(found.group(1)) for rule in rules):
            status[found.group(1)] = found.group(2).strip()
    return status


def edit(into: Path, mutant: str) -> str:
    """The lines a mutant changes, from `mutmut show`, for the survivor's line."""
    shown = subprocess.run(
        [mutmut(), "show", mutant],
        cwd=into,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    changed = [line for line in shown.splitlines() if re.match(r"[-+] ", line)]
    return " / ".join(line.strip() for line in changed)[:300]


def report(
    rules: dict[str, Rule], status: dict[str, str], listed: dict[str, str], into: Path
) -> tuple[list[str], dict[str, list[str]]]:
    """The table, a row a rule, and each rule's lines that fail the run."""
    rows = [
        "| rule | mutants | killed | equivalent (listed) | survived |",
        "|---|---|---|---|---|",
    ]
    failures: dict[str, list[str]] = {}
    for name, rule in rules.items():
        failed = failures.setdefault(name, [])
        mine = {m: s for m, s in status.items() if rule.owns(m)}
        if not mine:
            failed.append(f"{name}: mutmut made no mutant of {rule.path} (is the name right?)")
        counts: Counter[str] = Counter()
        for mutant, state in sorted(mine.items()):
            if state in CAUGHT:
                counts["killed"] += 1
                if mutant in listed:
                    failed.append(f"{mutant}: listed as equivalent, but a test kills it")
            elif mutant not in listed:
                counts["survived"] += 1
                failed.append(f"{mutant}: {state}: {edit(into, mutant)}")
            elif state == "survived":
                counts["equivalent"] += 1
            else:  # a listed mutant no test ran is not shown equivalent
                counts["survived"] += 1
                failed.append(f"{mutant}: listed as equivalent, but {state}")
        rows.append(
            f"| {name} | {len(mine)} | {counts['killed']} | {counts['equivalent']} |"
            f" {counts['survived']} |"
        )
        for mutant in sorted(m for m in listed if rule.owns(m) and m not in mine):
            failed.append(f"{mutant}: listed as equivalent, but mutmut no longer makes it")
    return rows, failures


class _Parser(argparse.ArgumentParser):
    """argparse, with a wrong call said in one line and exit 1, as every other failure."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"mutation: {message}\n")


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = _Parser(prog="scripts/mutation.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("rules", nargs="*", metavar="RULE", help=f"of {', '.join(RULES)}")
    parser.add_argument(
        "--changed",
        action="store_true",
        help="only the rules whose module, tests or listed mutants changed since a clean run",
    )
    parser.add_argument("--children", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", action="store_true", help="keep the work folder, and say where")
    args = parser.parse_args(argv)
    try:
        if args.children < 1:
            raise MutationError("--children must be at least 1")
        unknown = [name for name in args.rules if name not in RULES]
        if unknown:
            raise MutationError(f"no rule named {unknown[0]!r}; the rules are {', '.join(RULES)}")
        listed = equivalents(root)
        chosen = {name: RULES[name] for name in args.rules or RULES}
        if args.changed:
            done = stamps(root)
            chosen = {
                name: rule
                for name, rule in chosen.items()
                if stamp(root, name, rule, listed) not in done
            }
            if not chosen:
                print(f"mutation: every rule is as its last clean run left it ({STAMPS})")
                return 0
        # what the run vouches for is the tree as it is copied, whatever changes meanwhile
        vouched = {name: stamp(root, name, rule, listed) for name, rule in chosen.items()}
        work = Path(tempfile.mkdtemp(prefix="dcc-mutation-"))
        try:
            copy_tree(root, work)
            configure(work, list(chosen.values()))
            print(f"mutation: mutmut over {', '.join(chosen)}", flush=True)
            status = run_mutmut(work, list(chosen.values()), args.children, work / "mutmut.log")
            rows, failures = report(chosen, status, listed, work)
        finally:
            if args.keep:
                print(f"mutation: the work folder is {work}")
            else:
                shutil.rmtree(work, ignore_errors=True)
        print("\n".join(rows))
        # a clean rule is stamped even when another failed: the next --changed skips it
        kept = {
            line
            for line in stamps(root)
            if line.split(" ")[0] in RULES and line.split(" ")[0] not in chosen
        }
        kept |= {vouched[name] for name, failed in failures.items() if not failed}
        (root / STAMPS).write_text("".join(f"{line}\n" for line in sorted(kept)), "utf-8")
        for line in (line for failed in failures.values() for line in failed):
            print(f"mutation: {line}", file=sys.stderr)
        return 1 if any(failures.values()) else 0
    except (MutationError, OSError, ValueError, subprocess.CalledProcessError) as error:
        print(f"mutation: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
