"""The mutation command (scripts/mutation.py): which mutants count for which rule, the list of
equivalent mutants, and the stamps that let the test command skip a rule nothing has changed.

The mutmut run itself is what tests/run.sh does through `--changed` whenever a rule's module,
its tests or its listed mutants changed; these tests hold the command's own rules in process.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from beds import scripts

# the mutation command, not the helper: on the main Python only (tests/run.sh)
pytestmark = pytest.mark.tooling

mutation = scripts.load("mutation")
REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("path", "functions", "mutant", "owned"),
    [
        ("servers.py", (), "docker_credential_codespaces.servers.x_split_server__mutmut_3", True),
        ("servers.py", (), "docker_credential_codespaces.servers.x__normal__mutmut_1", True),
        ("servers.py", (), "docker_credential_codespaces.secrets.x_scan__mutmut_1", False),
        ("servers.py", (), "docker_credential_codespaces.serversx.x_a__mutmut_1", False),
        # a method's mutant: mutmut joins class and method with ǁ
        ("wire.py", (), "docker_credential_codespaces.wire.xǁCredentialǁ__init____mutmut_2", True),
        # a package's __init__ is the package; its submodules are rules of their own
        ("ecr/__init__.py", (), "docker_credential_codespaces.ecr.x_registry__mutmut_1", True),
        ("ecr/__init__.py", (), "docker_credential_codespaces.ecr.token.x_decode__mutmut_1", False),
        ("ecr/token.py", (), "docker_credential_codespaces.ecr.token.x_decode__mutmut_1", True),
        # one function of a module
        (
            "probe.py",
            ("is_loopback",),
            "docker_credential_codespaces.probe.x_is_loopback__mutmut_4",
            True,
        ),
        (
            "probe.py",
            ("is_loopback",),
            "docker_credential_codespaces.probe.x_login__mutmut_4",
            False,
        ),
        (
            "probe.py",
            ("is_loopback",),
            "docker_credential_codespaces.probe.x_is_loopback2__mutmut_1",
            False,
        ),
    ],
)
def test_which_mutants_a_rule_counts(
    path: str, functions: tuple[str, ...], mutant: str, owned: bool
) -> None:
    rule = mutation.Rule(path, ("tests/test_x.py",), functions)
    assert rule.owns(mutant) is owned


@pytest.mark.parametrize(
    ("path", "functions", "globs"),
    [
        ("servers.py", (), ["docker_credential_codespaces.servers.x*"]),
        ("ecr/__init__.py", (), ["docker_credential_codespaces.ecr.x*"]),
        ("ecr/token.py", (), ["docker_credential_codespaces.ecr.token.x*"]),
        (
            "probe.py",
            ("is_loopback",),
            ["docker_credential_codespaces.probe.x_is_loopback__mutmut_*"],
        ),
    ],
)
def test_the_names_mutmut_is_asked_to_run(
    path: str, functions: tuple[str, ...], globs: list[str]
) -> None:
    assert mutation.Rule(path, (), functions).globs() == globs


def test_every_rule_names_a_module_and_tests_that_exist() -> None:
    for rule in mutation.RULES.values():
        assert (REPO / mutation.PACKAGE / rule.path).is_file(), rule
        assert rule.tests, rule
        for test in rule.tests:
            assert (REPO / test).is_file(), (rule, test)


def test_every_listed_mutant_belongs_to_a_rule() -> None:
    """An entry no rule owns would never be checked for staleness: it would rot silently."""
    listed = mutation.equivalents(REPO)
    assert listed
    for mutant in listed:
        assert any(rule.owns(mutant) for rule in mutation.RULES.values()), mutant


def _root(tmp_path: Path, listed: str = "") -> Path:
    """A checkout's worth of what the stamps read: the rule modules, their tests, the list."""
    parts = {
        part
        for rule in mutation.RULES.values()
        for part in (f"{mutation.PACKAGE}/{rule.path}", *rule.tests)
    }
    parts |= set(mutation.SHARED) | {f"beds/{bed.name}" for bed in (REPO / "beds").glob("*.py")}
    for part in parts:
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / part, tmp_path / part)
    (tmp_path / mutation.EQUIVALENTS).write_text(listed, "utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("docker_credential_codespaces.servers.x_a__mutmut_1", "line 1"),
        ("docker_credential_codespaces.servers.x_a__mutmut_1: ", "line 1"),
        ("docker credential: why", "line 1"),
    ],
)
def test_a_malformed_list_line_is_named(tmp_path: Path, line: str, problem: str) -> None:
    root = _root(tmp_path, f"{line}\n")
    with pytest.raises(mutation.MutationError, match=f"equivalent_mutants.txt:{problem[-1]}: "):
        mutation.equivalents(root)


def test_comments_and_blank_lines_are_not_mutants(tmp_path: Path) -> None:
    root = _root(tmp_path, "# a: b\n\n  \ndocker_credential_codespaces.wire.x_a__mutmut_1: x; y\n")
    assert mutation.equivalents(root) == {"docker_credential_codespaces.wire.x_a__mutmut_1": "x; y"}


@pytest.mark.parametrize(
    "changed", ["module", "tests", "listed", "a bed", "shared", "other listed", "other bed"]
)
def test_a_stamp_changes_with_what_a_clean_run_vouched_for(tmp_path: Path, changed: str) -> None:
    line = "docker_credential_codespaces.servers.x_a__mutmut_1: edit; why"
    other = "docker_credential_codespaces.wire.x_a__mutmut_1: edit; why"
    root = _root(tmp_path, f"{line}\n{other}\n")
    rule = mutation.RULES["wire"]
    line = line.replace("servers", "wire")
    other = other.replace("wire", "servers")
    (root / mutation.EQUIVALENTS).write_text(f"{line}\n{other}\n", "utf-8")
    before = mutation.stamp(root, "wire", rule, mutation.equivalents(root))
    if changed == "a bed":  # test_wire imports beds.sources
        with (root / "beds" / "sources.py").open("a") as bed:
            bed.write("\n")
    elif changed == "other bed":  # which no test of wire imports
        with (root / "beds" / "dns.py").open("a") as bed:
            bed.write("\n")
    elif changed == "shared":
        with (root / "tests" / "conftest.py").open("a") as conftest:
            conftest.write("\n")
    elif changed == "module":
        with (root / mutation.PACKAGE / rule.path).open("a") as module:
            module.write("\n")
    elif changed == "tests":
        with (root / rule.tests[0]).open("a") as test:
            test.write("\n")
    elif changed == "listed":
        (root / mutation.EQUIVALENTS).write_text(f"{line} again\n{other}\n", "utf-8")
    else:
        (root / mutation.EQUIVALENTS).write_text(f"{line}\n", "utf-8")
    after = mutation.stamp(root, "wire", rule, mutation.equivalents(root))
    # another rule's listed mutants, and a bed its tests do not import, are not its business
    assert (before == after) is changed.startswith("other")


def test_changed_runs_nothing_when_every_stamp_is_current(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _root(tmp_path)
    listed = mutation.equivalents(root)
    stamps = [mutation.stamp(root, n, r, listed) for n, r in mutation.RULES.items()]
    (root / mutation.STAMPS).write_text("\n".join(stamps) + "\n", "utf-8")
    assert mutation.main(["--changed"], root=root) == 0
    assert capsys.readouterr().out.startswith("mutation: every rule is as its last clean run")


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["nosuchrule"], "mutation: no rule named 'nosuchrule'; the rules are servers, "),
        (["servers", "--children", "0"], "mutation: --children must be at least 1\n"),
        (["--children", "x"], "mutation: argument --children: invalid int value: 'x'\n"),
        (["--no-such-flag"], "mutation: unrecognized arguments: --no-such-flag\n"),
    ],
)
def test_a_wrong_call_is_one_line_and_exit_1(argv: list[str], error: str) -> None:
    done = scripts.run("mutation", *argv)
    assert done.returncode == 1
    assert done.stderr.startswith(error)
    assert done.stderr.count("\n") == 1
    assert done.stdout == ""


SERVERS = "docker_credential_codespaces.servers"


@pytest.mark.parametrize(
    ("status", "listed", "row", "failed"),
    [
        ({f"{SERVERS}.x_a__mutmut_1": "killed"}, {}, "| servers | 1 | 1 | 0 | 0 |", []),
        ({f"{SERVERS}.x_a__mutmut_1": "timeout"}, {}, "| servers | 1 | 1 | 0 | 0 |", []),
        (
            {f"{SERVERS}.x_a__mutmut_1": "survived"},
            {f"{SERVERS}.x_a__mutmut_1": "why"},
            "| servers | 1 | 0 | 1 | 0 |",
            [],
        ),
        (
            {f"{SERVERS}.x_a__mutmut_1": "survived"},
            {},
            "| servers | 1 | 0 | 0 | 1 |",
            [f"{SERVERS}.x_a__mutmut_1: survived: "],
        ),
        (
            {f"{SERVERS}.x_a__mutmut_1": "no tests"},
            {},
            "| servers | 1 | 0 | 0 | 1 |",
            [f"{SERVERS}.x_a__mutmut_1: no tests: "],
        ),
        (
            {f"{SERVERS}.x_a__mutmut_1": "killed"},
            {f"{SERVERS}.x_a__mutmut_1": "why"},
            "| servers | 1 | 1 | 0 | 0 |",
            [f"{SERVERS}.x_a__mutmut_1: listed as equivalent, but a test kills it"],
        ),
        (
            {f"{SERVERS}.x_a__mutmut_1": "no tests"},
            {f"{SERVERS}.x_a__mutmut_1": "why"},
            "| servers | 1 | 0 | 0 | 1 |",
            [f"{SERVERS}.x_a__mutmut_1: listed as equivalent, but no tests"],
        ),
        (
            {f"{SERVERS}.x_a__mutmut_1": "killed"},
            {f"{SERVERS}.x_a__mutmut_2": "why"},
            "| servers | 1 | 1 | 0 | 0 |",
            [f"{SERVERS}.x_a__mutmut_2: listed as equivalent, but mutmut no longer makes it"],
        ),
        ({}, {}, "| servers | 0 | 0 | 0 | 0 |", ["servers: mutmut made no mutant of servers.py"]),
    ],
)
def test_what_fails_a_rule(
    tmp_path: Path, status: dict[str, str], listed: dict[str, str], row: str, failed: list[str]
) -> None:
    """Killed (or timed out) passes; a survivor passes only listed; a listed mutant that is
    killed or gone fails, so the list never outlives its code; each rule is judged alone."""
    rules = {"servers": mutation.RULES["servers"], "wire": mutation.RULES["wire"]}
    status = {**status, "docker_credential_codespaces.wire.x_b__mutmut_1": "killed"}
    rows, failures = mutation.report(rules, status, listed, tmp_path)
    assert rows[2] == row
    assert failures["wire"] == []
    assert len(failures["servers"]) == len(failed)
    for line, start in zip(failures["servers"], failed):
        assert line.startswith(start)
