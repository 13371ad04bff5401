"""The GitHub Actions workflows as facts: thin steps over the repository's own scripts, every
action pinned to a commit, and each permission granted only to the one job that needs it.

tests/run.sh also runs actionlint and zizmor over them; these are the rules neither states.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

# the workflows, not the helper: on the main Python only (tests/run.sh)
pytestmark = pytest.mark.tooling

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO / ".github" / "workflows"
#: `owner/repo@<commit> # vX.Y.Z`: the commit is what runs, the comment what it is.
PINNED = re.compile(r"[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+")


def workflow(name: str) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return loaded


def uses_lines() -> list[str]:
    return [
        line.split("uses:", 1)[1].strip()
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for line in path.read_text().splitlines()
        if line.strip().startswith(("uses:", "- uses:"))
    ]


def test_every_action_is_pinned_to_a_commit_and_says_its_version() -> None:
    lines = uses_lines()
    assert lines
    for line in lines:
        assert PINNED.fullmatch(line), line
    # One commit per action: a version bump changes every use at once.
    commits: dict[str, set[str]] = {}
    for line in lines:
        action, rest = line.split("@", 1)
        commits.setdefault(action, set()).add(rest)
    assert all(len(pins) == 1 for pins in commits.values()), commits


def test_no_workflow_grants_anything_by_default() -> None:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        loaded = workflow(path.name)
        assert loaded["permissions"] == {}, path.name
        for name, job in loaded["jobs"].items():
            assert "permissions" in job, f"{path.name}: {name} says what it needs"
            assert "write-all" not in str(job["permissions"])


def test_ci_runs_the_readmes_test_command_on_push_and_pull_request() -> None:
    ci = workflow("ci.yml")
    assert set(ci[True]) == {"push", "pull_request"}  # YAML 1.1 reads `on` as true
    runs = [step.get("run") for step in ci["jobs"]["test"]["steps"]]
    assert ".ci/run" in runs
    assert (REPO / ".ci" / "run").read_text().rstrip().endswith("exec tests/run.sh")
    assert "tests/run.sh" in (REPO / "README.md").read_text()


def test_a_version_tag_publishes_everything_each_job_with_its_own_permission() -> None:
    release = workflow("release.yml")
    assert release[True] == {"push": {"tags": ["v[0-9]+.[0-9]+.[0-9]+"]}}
    jobs = release["jobs"]
    granted = {
        (name, scope)
        for name, job in jobs.items()
        for scope, level in job["permissions"].items()
        if level == "write"
    }
    assert granted == {
        ("package-index", "id-token"),
        ("feature", "packages"),
        ("github-release", "contents"),
    }
    # Trusted publishing: the index's action with no token, in the environment the index trusts.
    index = jobs["package-index"]
    assert index["environment"] == {"name": "package-index"}
    (publish,) = [step for step in index["steps"] if "gh-action-pypi-publish" in step["uses"]]
    assert "with" not in publish
    # The Feature goes out after the package it installs, the release after both.
    assert jobs["package-index"]["needs"] == "build"
    assert jobs["feature"]["needs"] == "package-index"
    assert set(jobs["github-release"]["needs"]) == {"build", "feature"}
    script = "\n".join(
        step.get("run", "") for job in jobs.values() for step in job["steps"]
    ).replace("\n", " ")
    for command in ("check", "build dist", "notes", "publish-feature --registry ghcr.io"):
        assert f"scripts/release.py {command}" in script, command
    assert "secrets." not in (WORKFLOWS / "release.yml").read_text()
