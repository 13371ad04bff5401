"""`export`: the credentials as one document, for tools that can read a file but run no helper.

Kubernetes image pull secrets (kind, k3d, minikube), kaniko, Testcontainers, `podman
--authfile` and scripts that set `DOCKER_AUTH_CONFIG` take credentials only from a
config.json-shaped document. This prints one on stdout. Each registry is answered by the same
chain a `get` asks, so an ECR token is a fresh one, from the cache or from AWS. The document
is built whole before a byte of it is written, so a registry that fails leaves stdout empty
rather than half a document; and it is never written to a file here, nor to a terminal
unless `--force` says so: where the secrets go is the user's choice, made in their command.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from typing import Any

from . import dockerconfig
from .chain import chain
from .commands import Parser
from .constants import (
    EXPORT_DOCKER_CONFIG,
    EXPORT_FORMATS,
    EXPORT_KUBERNETES,
    EXPORT_PODMAN_AUTH,
    KUBERNETES_API_VERSION,
    KUBERNETES_DEFAULT_SECRET_NAME,
    KUBERNETES_NAME_MAX,
    KUBERNETES_SECRET_DATA_KEY,
    KUBERNETES_SECRET_KIND,
    KUBERNETES_SECRET_TYPE,
)
from .log import warn
from .servers import containers_key, docker_key, redacted
from .wire import Credential, HelperError, Source

# A Secret's name, as Kubernetes checks it: lower-case RFC 1123 labels joined by dots.
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def requested(names: list[str]) -> list[str]:
    """Docker's keys for the registries named on the command line, in order, each once."""
    keys: list[str] = []
    for name in names:
        key = docker_key(name)
        if key is None:
            raise HelperError(f"{redacted(name)} names no registry; expected [https://]host[:port]")
        if key not in keys:
            keys.append(key)
    return keys


def every_registry(source: Source) -> list[str]:
    """What `--all` exports: every registry `list` shows, Docker Hub's OAuth keys left out.

    That is each registry a secret names, each stored login (local or fallback store) and
    ghcr.io from the codespace token: what a user sees in `list` and `doctor`, never more.
    The Hub's OAuth keys are docker's own bookkeeping, not registries, and no tool reads
    them from a document. `list` goes on without a store it cannot read; an export fails
    instead, as it would otherwise leave that store's logins out unsaid.
    """
    return sorted(entry.key for entry in source.entries() if docker_key(entry.key) == entry.key)


def collect(keys: list[str], source: Source) -> dict[str, Credential]:
    """Each registry's login, from the same chain a `get` asks; the first that fails fails
    them all. The chain answers young ECR tokens (see `main`), with their expiry."""
    found = {}
    for key in keys:
        credential = source.get(key)
        if credential is None:
            raise HelperError(
                f"no credentials for {key}: no secret, stored login or codespace token covers it"
            )
        found[key] = credential
    return found


def auths(found: dict[str, Credential], containers: bool = False) -> dict[str, Any]:
    """The `auths` document docker reads, or with `containers` the one containers/image reads
    (its key for the Hub differs)."""
    entries = {
        containers_key(key) if containers else key: dockerconfig.inline_entry(
            {"Username": login.username, "Secret": login.secret}
        )
        for key, login in found.items()
    }
    return {"auths": entries}


def render(found: dict[str, Credential], form: str, name: str) -> str:
    """The document in the chosen format, as text ending in a newline."""
    if form == EXPORT_PODMAN_AUTH:
        return dockerconfig.render(auths(found, containers=True))
    if form == EXPORT_DOCKER_CONFIG:
        return dockerconfig.render(auths(found))
    config = json.dumps(auths(found), separators=(",", ":")).encode("utf-8")
    manifest = {
        "apiVersion": KUBERNETES_API_VERSION,
        "kind": KUBERNETES_SECRET_KIND,
        "metadata": {"name": name},
        "type": KUBERNETES_SECRET_TYPE,
        "data": {KUBERNETES_SECRET_DATA_KEY: base64.b64encode(config).decode("ascii")},
    }
    return json.dumps(manifest, indent=2) + "\n"


def summary(found: dict[str, Credential]) -> str:
    """The one line on stderr: that stdout holds secrets, and when the first of them expires."""
    from .ecr.messages import when

    count = f"{len(found)} registr{'y' if len(found) == 1 else 'ies'}"
    line = f"the output holds secrets (the credentials of {count}); keep it private"
    dated = sorted((c.expires_at, k) for k, c in found.items() if c.expires_at is not None)
    unknown = [k for k, c in found.items() if c.expires and c.expires_at is None]
    if dated:
        line += f"; the earliest expires at {when(dated[0][0])} ({dated[0][1]})"
    if unknown:
        line += f"; when the ECR token of {', '.join(unknown)} expires cannot be told"
    if not dated and not unknown:
        line += "; none of them expires"
    return line


def secret_name(text: str) -> str:
    """A --name: what Kubernetes accepts as a Secret's name, or one line saying what is wrong."""
    import argparse

    if len(text) > KUBERNETES_NAME_MAX or not _DNS_SUBDOMAIN.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text[:60]!r} is not a Kubernetes name: lower-case letters, digits, '-' and '.', "
            f"at most {KUBERNETES_NAME_MAX}, starting and ending with a letter or digit"
        )
    return text


def main(argv: list[str]) -> int:
    """`export`: the document on stdout, one line on stderr; exit 1 and no document on error."""
    parser = Parser(
        "export",
        "Print the credentials of the registries you name as one document on "
        "stdout, for tools that read a file or a variable and run no credential helper. The "
        "output holds secrets; it is never written to a terminal unless you pass --force.",
    )
    parser.add_argument(
        "--format",
        choices=EXPORT_FORMATS,
        default=EXPORT_DOCKER_CONFIG,
        help=f"{EXPORT_DOCKER_CONFIG}: config.json's auths (DOCKER_AUTH_CONFIG, kaniko); "
        f"{EXPORT_KUBERNETES}: a {KUBERNETES_SECRET_TYPE} Secret; "
        f"{EXPORT_PODMAN_AUTH}: containers-auth.json (--authfile) "
        f"(default {EXPORT_DOCKER_CONFIG})",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--registry",
        action="extend",
        nargs="+",
        metavar="HOST",
        dest="registries",
        help="a registry to export (repeat, or name several)",
    )
    which.add_argument(
        "--all",
        action="store_true",
        help="every registry `list` shows: the secrets', the stored logins', the codespace's",
    )
    parser.add_argument(
        "--name",
        type=secret_name,
        help=f"the Secret's name, with --format {EXPORT_KUBERNETES} "
        f"({KUBERNETES_DEFAULT_SECRET_NAME})",
    )
    parser.add_argument("--force", action="store_true", help="write to a terminal too")
    args = parser.parse_args(argv)
    if args.name is not None and args.format != EXPORT_KUBERNETES:
        parser.error(f"--name is for --format {EXPORT_KUBERNETES}")
    if sys.stdout is None:
        return 1
    if not args.force and sys.stdout.isatty():
        warn(
            "stdout is a terminal, and the output holds secrets; pipe or redirect it "
            "(`| kubectl apply -f -`, `> file`), or pass --force"
        )
        return 1
    # Young ECR tokens: what is written out cannot be refreshed, so a token past its refresh
    # point, which `get` would still serve for a pull, is replaced first.
    source = chain(young=True)
    try:
        keys = every_registry(source) if args.all else requested(args.registries)
        found = collect(keys, source)
    except HelperError as error:
        warn(str(error))
        return 1
    if not found:
        warn("no registry to export: no secret, stored login or codespace token")
        return 1
    try:
        sys.stdout.write(render(found, args.format, args.name or KUBERNETES_DEFAULT_SECRET_NAME))
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away: nobody is left to tell
        return 1
    except OSError as error:
        warn(f"cannot write the document: {error.strerror or type(error).__name__}")
        return 1
    warn(summary(found))
    return 0
