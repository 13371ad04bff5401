"""Cut a release: what a version tag must agree with, the packages, the notes, the Feature.

The release workflow (.github/workflows/release.yml) is a thin list of these steps, so that
what it does is tested here (tests/test_release.py) and can be run by hand from a checkout:

    python3 scripts/release.py check v0.2.0     the tag, the package, the Feature and the
                                                CHANGELOG name one version
    python3 scripts/release.py build DIR        the sdist and the wheel into DIR, checked by twine
    python3 scripts/release.py notes v0.2.0     that version's CHANGELOG section, for the
                                                GitHub release
    python3 scripts/release.py publish-feature --registry HOST --namespace OWNER/REPO
                                                the Feature as an OCI artifact, with the dev
                                                container CLI

Only the standard library, so that `check` and `notes` need nothing installed; `build` needs
`build` and `twine` in the interpreter that runs it, and `publish-feature` the dev container
CLI. Every failure is one line on stderr and exit 1. docs/release.md says how a release is cut.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

#: The checkout this script belongs to.
ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "docker_credential_codespaces"
FEATURES = Path(".devcontainer") / "features"
FEATURE_ID = "docker-credential-codespaces"
#: Semantic versions without pre-release parts: the Feature's tags (major, minor, full)
#: are derived from it, and the dev container CLI publishes nothing else.
VERSION = re.compile(r"\d+\.\d+\.\d+")
#: A released CHANGELOG heading, as Keep a Changelog writes it: `## [0.2.0] - 2026-12-07`.
HEADING = re.compile(r"## \[(?P<version>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?\s*")


class ReleaseError(Exception):
    """A release step that cannot go on; the message is the one line said."""


def package_version(root: Path) -> str:
    """The package's `__version__`, read from the source rather than imported: the script
    runs before anything is installed."""
    text = (root / PACKAGE / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if found is None:
        raise ReleaseError(f"{PACKAGE}/__init__.py holds no __version__")
    return found.group(1)


def feature_manifest(root: Path) -> dict[str, Any]:
    path = root / FEATURES / FEATURE_ID / "devcontainer-feature.json"
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


def version_of(tag: str) -> str:
    """The version a tag names: `v0.2.0` and `0.2.0` both name 0.2.0."""
    version = tag[1:] if tag.startswith("v") else tag
    if not VERSION.fullmatch(version):
        raise ReleaseError(f"{tag!r} is not a version tag such as v1.2.3")
    return version


def changelog_section(root: Path, version: str) -> str:
    """The body of the CHANGELOG's section for `version`, which must be dated and not empty:
    the GitHub release says exactly what the CHANGELOG says."""
    lines = (root / "CHANGELOG.md").read_text(encoding="utf-8").splitlines()
    headings = [
        (index, found) for index, line in enumerate(lines) if (found := HEADING.fullmatch(line))
    ]
    for position, (index, heading) in enumerate(headings):
        if heading.group("version") != version:
            continue
        if heading.group("date") is None:
            raise ReleaseError(f"CHANGELOG.md's section {version} has no date")
        end = headings[position + 1][0] if position + 1 < len(headings) else len(lines)
        lines = lines[index + 1 : end]
        break
    else:
        raise ReleaseError(f"CHANGELOG.md has no section for {version}")
    # The link definitions at the foot belong to no section.
    body = [line for line in lines if not re.match(r"\[[^\]]+\]: ", line)]
    text = "\n".join(body).strip()
    if not text:
        raise ReleaseError(f"CHANGELOG.md's section {version} is empty")
    return text + "\n"


def check(root: Path, tag: str) -> str:
    """That the tag, the package, the Feature and its default, and the CHANGELOG agree: a
    Feature version always means one helper version, and a release says what changed."""
    version = version_of(tag)
    package = package_version(root)
    if package != version:
        raise ReleaseError(f"the tag {tag} names {version}, but the package is {package}")
    manifest = feature_manifest(root)
    if manifest["version"] != version:
        raise ReleaseError(
            f"the tag {tag} names {version}, but the Feature is {manifest['version']}"
        )
    default = manifest["options"]["version"]["default"]
    if default != version:
        raise ReleaseError(f"the Feature {version} would install the package {default} by default")
    changelog_section(root, version)
    return version


def build(root: Path, outdir: Path, python: str = sys.executable) -> list[Path]:
    """The sdist, and the wheel built from it (as `python -m build` does), checked by twine."""
    version = package_version(root)
    if outdir.exists() and any(outdir.iterdir()):
        raise ReleaseError(f"{outdir} is not empty; the release is built into an empty directory")
    run([python, "-m", "build", "--outdir", str(outdir), str(root)])
    built = sorted(outdir.iterdir())
    expected = sorted(
        [outdir / f"{PACKAGE}-{version}.tar.gz", outdir / f"{PACKAGE}-{version}-py3-none-any.whl"]
    )
    if built != expected:
        names = ", ".join(path.name for path in built)
        raise ReleaseError(f"the build made {names}; expected the sdist and wheel of {version}")
    run([python, "-m", "twine", "check", "--strict", *map(str, built)])
    return built


def publish_feature(root: Path, registry: str, namespace: str, devcontainer: str) -> str:
    """Publish the Feature under REGISTRY/NAMESPACE with the dev container CLI, which tags it
    with its version, major, minor and `latest`. The CLI takes credentials from docker's config
    (and so from this helper) or, for ghcr.io, from GITHUB_TOKEN; none passes through here."""
    version = package_version(root)
    feature = feature_manifest(root)["version"]
    if feature != version:
        raise ReleaseError(f"the Feature is {feature} but the package is {version}")
    # OCI repository names are lower case; a GitHub owner or repository name need not be.
    namespace = namespace.lower()
    run(
        [
            devcontainer,
            "features",
            "publish",
            str(root / FEATURES),
            "--registry",
            registry,
            "--namespace",
            namespace,
        ]
    )
    return f"{registry}/{namespace}/{FEATURE_ID}:{version}"


def run(argv: list[str]) -> None:
    """Run one tool, its output passed through; a failure names the tool."""
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, check=False)
    except OSError as error:
        raise ReleaseError(f"cannot run {argv[0]}: {error.strerror}") from None
    if done.returncode != 0:
        raise ReleaseError(f"{' '.join(argv[:3])} failed (exit {done.returncode})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="release.py", description="Cut a release.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="the tag names the version everywhere").add_argument("tag")
    commands.add_parser("build", help="the sdist and the wheel, checked").add_argument(
        "outdir", type=Path
    )
    commands.add_parser("notes", help="the CHANGELOG section of a version").add_argument("tag")
    publish = commands.add_parser("publish-feature", help="the Feature as an OCI artifact")
    publish.add_argument("--registry", required=True, help="ghcr.io, or a test registry")
    publish.add_argument("--namespace", required=True, help="OWNER/REPO")
    publish.add_argument("--devcontainer", default="devcontainer", help="the dev container CLI")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            print(
                f"release {check(ROOT, args.tag)}: the package, the Feature and the CHANGELOG agree"
            )
        elif args.command == "build":
            for path in build(ROOT, args.outdir):
                print(path)
        elif args.command == "notes":
            sys.stdout.write(changelog_section(ROOT, version_of(args.tag)))
        else:
            reference = publish_feature(ROOT, args.registry, args.namespace, args.devcontainer)
            print(f"published {reference}")
    except ReleaseError as error:
        print(f"release.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
