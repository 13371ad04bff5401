"""The release script (scripts/release.py), step by step, as the release workflow runs it.

`check` and `notes` run against this checkout and against copies of its version files made to
disagree; `build` builds both artefacts offline from the wheelhouse that tests/run.sh fills;
`publish-feature` publishes the Feature to the loopback registry bed through the dev container
CLI, which authenticates through the helper, as tests/test_e2e_feature.py publishes it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from beds import registry as bed
from beds import scripts
from beds.client import recorded_verbs, verb_recorder
from beds.environment import add_secret, isolated_environ
from docker_credential_codespaces import __version__

# the release script, not the helper: on the main Python only (tests/run.sh)
pytestmark = pytest.mark.tooling

REPO = Path(__file__).resolve().parent.parent
WHEELHOUSE = REPO / ".venv" / "wheelhouse"
DEVCONTAINER = REPO / ".venv" / "node" / "node_modules" / ".bin" / "devcontainer"
FEATURE = REPO / ".devcontainer" / "features" / "docker-credential-codespaces"
PASSWORD = "CANARY-release-publish"


release = scripts.load("release")


def version_files(root: Path) -> Path:
    """A copy of what `check` reads: the package's version, the Feature, the CHANGELOG."""
    for relative in (
        Path("docker_credential_codespaces") / "__init__.py",
        Path(".devcontainer") / "features" / FEATURE.name / "devcontainer-feature.json",
        Path("CHANGELOG.md"),
    ):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / relative, root / relative)
    return root


def test_check_passes_for_this_versions_tag() -> None:
    done = scripts.run("release", "check", f"v{__version__}")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"release {__version__}: the package, the Feature and the CHANGELOG agree\n"
    )


@pytest.mark.parametrize("tag", ["v9.9.9", "9.9.9", "v1.2", "latest", "v1.2.3-rc1"])
def test_check_refuses_another_tag_in_one_line(tag: str) -> None:
    done = scripts.run("release", "check", tag)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("release.py: ")


def test_check_refuses_a_feature_or_changelog_that_disagrees(tmp_path: Path) -> None:
    root = version_files(tmp_path)
    manifest_path = root / ".devcontainer" / "features" / FEATURE.name / "devcontainer-feature.json"
    manifest = json.loads(manifest_path.read_text())
    assert release.check(root, f"v{__version__}") == __version__

    manifest["options"]["version"]["default"] = "latest"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(release.ReleaseError, match="would install the package latest"):
        release.check(root, f"v{__version__}")

    manifest["options"]["version"]["default"] = __version__
    manifest["version"] = "9.0.0"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(release.ReleaseError, match=r"but the Feature is 9\.0\.0"):
        release.check(root, f"v{__version__}")

    manifest["version"] = __version__
    manifest_path.write_text(json.dumps(manifest))
    changelog = root / "CHANGELOG.md"
    text = changelog.read_text()
    changelog.write_text(text.replace(f"## [{__version__}] - ", f"## [{__version__}] (", 1))
    with pytest.raises(release.ReleaseError, match=f"no section for {__version__}"):
        release.check(root, f"v{__version__}")
    changelog.write_text(text.replace(f"## [{__version__}] - 2026-12-07", f"## [{__version__}]"))
    with pytest.raises(release.ReleaseError, match="has no date"):
        release.check(root, f"v{__version__}")


def test_the_changelog_keeps_unreleased_on_top_and_dates_this_version() -> None:
    headings = [
        line for line in (REPO / "CHANGELOG.md").read_text().splitlines() if line.startswith("## ")
    ]
    assert headings[0] == "## [Unreleased]"
    this = release.HEADING.fullmatch(headings[1])
    assert this is not None and this.group("version") == __version__ and this.group("date")


def test_notes_are_the_changelog_section_of_the_version() -> None:
    done = scripts.run("release", "notes", f"v{__version__}")
    assert done.returncode == 0, done.stderr
    changelog = (REPO / "CHANGELOG.md").read_text()
    start = changelog.index(f"## [{__version__}] - ")
    section = changelog[start:].split("\n## [", 1)[0]
    assert done.stdout.startswith("### ")
    assert done.stdout.strip() in section
    assert "## [" not in done.stdout


def test_the_last_section_leaves_out_the_link_definitions(tmp_path: Path) -> None:
    root = version_files(tmp_path)
    changelog = root / "CHANGELOG.md"
    changelog.write_text(changelog.read_text().replace("## [0.1.0]\n", "## [0.1.0] - 2026-01-01\n"))
    notes = release.changelog_section(root, "0.1.0")
    assert notes.startswith("The first version") and notes.endswith("never echoed.\n")
    assert "]: https://" not in notes


def test_notes_of_an_unknown_version_fail_in_one_line() -> None:
    done = scripts.run("release", "notes", "v0.0.9")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "release.py: CHANGELOG.md has no section for 0.0.9\n"


@pytest.mark.slow
def test_build_makes_the_checked_sdist_and_wheel_of_this_version(tmp_path: Path) -> None:
    if not sorted(WHEELHOUSE.glob("hatchling-*.whl")):
        pytest.skip(f"no hatchling in {WHEELHOUSE}; tests/run.sh fills it")
    env = isolated_environ(tmp_path)
    # The build's isolated environment gets hatchling from the wheelhouse, never the index.
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(WHEELHOUSE))
    outdir = tmp_path / "dist"
    done = scripts.run("release", "build", str(outdir), env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    sdist = outdir / f"docker_credential_codespaces-{__version__}.tar.gz"
    wheel = outdir / f"docker_credential_codespaces-{__version__}-py3-none-any.whl"
    assert sorted(outdir.iterdir()) == sorted([sdist, wheel])
    assert sorted(done.stdout.splitlines()[-2:]) == sorted([str(sdist), str(wheel)])
    assert "PASSED" in done.stdout  # twine check --strict, on both
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(
            f"docker_credential_codespaces-{__version__}.dist-info/METADATA"
        ).decode()
    assert f"\nVersion: {__version__}\n" in metadata
    with tarfile.open(sdist) as archive:
        assert f"docker_credential_codespaces-{__version__}/CHANGELOG.md" in archive.getnames()

    again = scripts.run("release", "build", str(outdir), env=env)
    assert again.returncode == 1
    assert (
        again.stderr
        == f"release.py: {outdir} is not empty; the release is built into an empty directory\n"
    )


# --------------------------------------------------------------------------------------------
# publish-feature against the loopback registry, as the tag workflow runs it against ghcr.io.


@pytest.mark.e2e
def test_publish_feature_to_a_registry_through_the_helper(tmp_path: Path) -> None:
    missing = bed.tools_missing()
    if missing:
        pytest.skip(f"missing tools: {', '.join(missing)}")
    if not DEVCONTAINER.exists():
        pytest.skip(f"no dev container CLI at {DEVCONTAINER}; tests/run.sh installs it")
    env = isolated_environ(tmp_path)
    verb_log = tmp_path / "verbs.log"
    recorder = verb_recorder(tmp_path / "recorder", verb_log)
    env["PATH"] = f"{recorder.parent}:{env['PATH']}"
    with bed.start_registry(user="publisher", password=PASSWORD) as registry:
        # The CLI talks plain HTTP only to a registry named localhost.
        host = f"localhost:{registry.port}"
        add_secret(env, "PUB", host, registry.user, registry.password)
        configured = subprocess.run(
            ["docker-credential-codespaces", "configure"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert configured.returncode == 0, configured.stderr
        recorded_verbs(verb_log)
        # A GitHub owner may be spelled in capitals; OCI names are lower case.
        published = scripts.run(
            "release",
            "publish-feature",
            "--registry",
            host,
            "--namespace",
            "E2E/Release",
            "--devcontainer",
            str(DEVCONTAINER),
            env=env,
        )
        output = published.stdout + published.stderr
        assert published.returncode == 0, output[-4000:]
        assert PASSWORD not in output
        assert "get" in recorded_verbs(verb_log)
        reference = f"{host}/e2e/release/{FEATURE.name}:{__version__}"
        assert published.stdout.splitlines()[-1] == f"published {reference}"
        major, minor, _ = __version__.split(".")
        for tag in (__version__, f"{major}.{minor}", major, "latest"):
            assert bed.manifest_digest(registry, f"e2e/release/{FEATURE.name}:{tag}")
