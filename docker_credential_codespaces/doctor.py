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

from . import dockerconfig, ecr, log, probe, secrets, settings
from .chain import Chain, chain
from .codespace_token import CodespaceToken
from .commands import Parser
from .constants import (
    CONFIG_FILE,
    DEV_CONTAINERS_STORE_PREFIX,
    DEVCONTAINER_PACKAGES_READ,
    DEVCONTAINER_REPOSITORIES,
    DOCKER_HUB_KEY,
    DOCKER_HUB_TOKEN_PREFIXES,
    ENV_CODESPACES,
    ENV_DOCKER_AUTH_CONFIG,
    ENV_DOCKER_CONFIG,
    ENV_SECRETS_FILE,
    ERR_NOT_FOUND,
    GHCR,
    GHCR_SHARING_SETTING,
    GOOGLE_JSON_KEY_BASE64_USER,
    GOOGLE_JSON_KEY_USER,
    GOOGLE_KEY_FIELDS,
    HARBOR_ROBOT_PREFIX,
    HELPER_NAME,
    HELPER_PROGRAM_PREFIX,
    IDENTITY_TOKEN_USERNAME,
    PROGRAM,
    QUAY_ROBOT_SEPARATOR,
    SECRET_PASSWORD,
    SECRET_SERVER,
    SECRET_USER,
)
from .ecr import TOKEN
from .ecr.answer import describe
from .fallback import FallbackStore
from .secrets import Secrets, Triple, TripleEntry, registry_token
from .servers import docker_key, hub_sign_in
from .wire import Entry, HelperError, Source

# The longest --timeout: a login that takes longer than this is not coming.
MAX_TIMEOUT = 600.0
GHCR_NOTE = (
    "the codespace token can pull this repository's packages but not push; to push, "
    "`docker login ghcr.io` with a personal access token that has write:packages"
)
NOT_A_REGISTRY_NOTE = "not a registry but docker's own sign-in record; it is never checked"
# No triple at all. In a codespace the helper is there for the secrets, so that is a problem,
# and GitHub's page names its two causes: a user- or organisation-level secret reaches only the
# repositories it is assigned to, and a running codespace sees new secrets only after a restart.
NO_SECRET_IN_CODESPACE = (
    f"no registry secret (X{SECRET_SERVER}, _USER, _PASSWORD) reached this codespace: a "
    "user- or organisation-level Codespaces secret must be assigned to this "
    "repository, and a running codespace sees new secrets only after it is stopped and started"
)
# Outside a codespace nobody sets them for you, and the helper may serve stored logins alone.
NO_SECRET_ELSEWHERE = (
    f"no registry secret is set: for each registry set X{SECRET_SERVER}, X{SECRET_USER} and "
    f"X{SECRET_PASSWORD} (any prefix X) in the environment (in a dev container, "
    f"devcontainer.json's remoteEnv) or in the secrets file that {ENV_SECRETS_FILE} names"
)
# A --check of a registry whose credentials the chain could not give.
NO_CREDENTIALS = "no credentials"
# What a `dev-containers-<id>` credsStore is, in words.
DEV_CONTAINERS_WORDS = (
    "VS Code Dev Containers' forwarder to the credentials of the host VS Code runs on; "
    "it answers only while VS Code is attached to this container"
)


class Row:
    """One registry the helper knows, and what doctor found about it.

    `password_variable` names where the password comes from, for hints about it; `registry`
    is False for a stored key that names no registry (docker's Docker Hub sign-in records),
    which is never wired or checked.
    """

    def __init__(self, key: str, source: str, password_variable: str | None = None) -> None:
        self.key = key
        self.source = source
        self.password_variable = password_variable
        self.registry = docker_key(key) == key
        registry = ecr.registry(key)
        if not self.registry:
            self.kind = "Docker Hub sign-in" if hub_sign_in(key) else "other"
        elif key == DOCKER_HUB_KEY:
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


def registry_rows(entries: list[Entry]) -> list[Row]:
    """A row for each registry the chain knows, in its order, with what can be told of each
    without the network: an ECR secret's token, the hints about a triple, the notes."""
    now = time.time()
    rows = []
    for entry in entries:
        row = Row(entry.key, entry.where, entry.variable)
        if isinstance(entry, TripleEntry):
            token = registry_token(entry.triple, repair=False)
            if token is not None and entry.triple.aws is not None:
                row.identity = describe(entry.triple.aws)
                row.state, row.problems = token.status(now)
            else:
                row.problems, row.notes = secret_hints(entry.triple)
        elif isinstance(entry.source, CodespaceToken):
            row.notes.append(GHCR_NOTE)
        elif not row.registry:
            row.notes.append(NOT_A_REGISTRY_NOTE)
        rows.append(row)
    return rows


def secret_hints(secret: Triple) -> tuple[list[str], list[str]]:
    """What the registry behind a triple is known to want, as (problems, notes): each one
    line naming the variable, never its value. A pure function of the triple."""
    problems, notes = [], []
    user, password = secret.variable(SECRET_USER), secret.variable(SECRET_PASSWORD)
    if (
        secret.key == DOCKER_HUB_KEY
        and secret.user != IDENTITY_TOKEN_USERNAME
        and not secret.password.startswith(DOCKER_HUB_TOKEN_PREFIXES)
    ):
        notes.append(
            f"{password} is not a Docker Hub access token ({', '.join(DOCKER_HUB_TOKEN_PREFIXES)}"
            "...): Hub accounts with 2FA or SSO refuse passwords; create a personal access "
            "token in Docker Hub's account settings and use it instead"
        )
    if secret.user in (GOOGLE_JSON_KEY_USER, GOOGLE_JSON_KEY_BASE64_USER):
        wrong = _service_account_key_fault(secret.user, secret.password)
        if wrong:
            encoded = ", base64-encoded" if secret.user == GOOGLE_JSON_KEY_BASE64_USER else ""
            problems.append(
                f"{password} must be a Google service-account key for user {secret.user} "
                f"(the key file's JSON{encoded}, with {', '.join(GOOGLE_KEY_FIELDS)}), but "
                f"{wrong}; paste the whole key file as the secret: a multi-line key works "
                "through the secrets file"
            )
    mangled = _mangled_user(secret.user)
    if mangled:
        notes.append(
            f"{user} {mangled}: a Harbor robot is {HARBOR_ROBOT_PREFIX}<name> and a Quay "
            f"robot <org>{QUAY_ROBOT_SEPARATOR}<name>; write it in single quotes in a shell"
        )
    return problems, notes


def _service_account_key_fault(user: str, password: str) -> str:
    """What is wrong with a Google `_json_key`/`_json_key_base64` password, or "" if nothing.

    Only field names are said, never a value (not even json's own error, which quotes it).
    """
    text = password
    if user == GOOGLE_JSON_KEY_BASE64_USER:
        import binascii

        try:
            text = binascii.a2b_base64(password.strip().encode("ascii")).decode("utf-8")
        except (binascii.Error, ValueError):
            return "it is not base64 of UTF-8 text"
    try:
        key = json.loads(text)
    except (ValueError, RecursionError):
        return "it is not JSON"
    if not isinstance(key, dict):
        return "it is not a JSON object"
    missing = [f for f in GOOGLE_KEY_FIELDS if not isinstance(key.get(f), str) or not key[f]]
    return f"it has no {', '.join(missing)}" if missing else ""


def _mangled_user(user: str) -> str:
    """How a user name looks cut or mangled by a shell, or "": a Harbor `robot$name` cut at
    the `$` (or its `$` escaped in vain), a Quay `org+name` cut at the `+`, quotes kept,
    white space, or percent-encoding."""
    if user.rstrip("$") == HARBOR_ROBOT_PREFIX[:-1]:
        return f"is just {user!r}, as if cut at the '$'"
    if user.endswith(QUAY_ROBOT_SEPARATOR):
        return f"ends in '{QUAY_ROBOT_SEPARATOR}', as if cut after it"
    if "\\" in user:
        return "holds a backslash, as a shell leaves one escaping in vain"
    if user[:1] in "'\"" or user[-1:] in "'\"":
        return "holds quotes at its ends, as if copied with the shell's quoting"
    if any(c.isspace() for c in user):
        return "holds white space"
    if "%24" in user.lower() or "%2b" in user.lower():
        return "holds percent-encoding (%24 is '$', %2B is '+')"
    return ""


def secrets_file_problems() -> list[str]:
    """Each registry variable of the secrets file whose line does not decode, by name only."""
    damaged: list[tuple[str, str]] = []
    path = secrets.secrets_file_path()
    secrets.read_file(path, damaged=damaged)
    return [
        f"{name} in the secrets file {path} is {why}, so it is ignored"
        + (
            " (shell loaders that split lines on every '=' do this; split on the first only)"
            if why == secrets.PADDING_CUT
            else ""
        )
        for name, why in damaged
    ]


def cache_problems() -> list[str]:
    """Why the ECR token cache cannot be used, if it cannot (looked at, never mended)."""
    directory = settings.cache_dir(repair=False)
    try:
        if directory is not None:
            directory.check()
    except HelperError as error:
        return [f"the ECR token cache is off, so every pull asks AWS: {error}"]
    return []


def store_notes(source: Chain) -> list[str]:
    """What to know about where the logins are kept: VS Code's forwarder, named in words."""
    for store in source.sources():
        if isinstance(store, FallbackStore) and is_dev_containers_store(store.name):
            return [
                f"logins are kept by the fallback store {store.program}: {DEV_CONTAINERS_WORDS}"
            ]
    return []


def is_dev_containers_store(name: str) -> bool:
    """Whether a credsStore is the one VS Code Dev Containers injects (`dev-containers-<id>`)."""
    return name.startswith(DEV_CONTAINERS_STORE_PREFIX) and len(name) > len(
        DEV_CONTAINERS_STORE_PREFIX
    )


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
    if os.environ.get(ENV_DOCKER_CONFIG) and not os.path.lexists(path):
        problems.append(
            f"{ENV_DOCKER_CONFIG} is set, but {os.path.dirname(path)} holds no {CONFIG_FILE}: "
            f"podman and buildah then fail (stat {path}: no such file or directory) before "
            f"they ask any credential helper; run `{PROGRAM} configure`, which creates it"
        )
    try:
        config = dockerconfig.load(path)
    except HelperError as error:
        return [*problems, str(error)]
    store = config.get("credsStore")
    forwarder = (
        f" (its credsStore {store} is {DEV_CONTAINERS_WORDS}; `configure` keeps it as the "
        "fallback store)"
        if isinstance(store, str) and is_dev_containers_store(store)
        else ""
    )
    for row in (row for row in rows if row.registry):
        keys = dockerconfig.helper_keys([row.key])
        entries = [dockerconfig.credential_helper(config, key, store=False) for key in keys]
        for key, other in zip(keys, entries):
            if other not in (None, HELPER_NAME):
                row.problems.append(
                    f"credHelpers in {path} sends {key} to {HELPER_PROGRAM_PREFIX}{other}, "
                    "so this helper is never asked"
                )
        if HELPER_NAME in entries:
            continue
        if dockerconfig.credential_helper(config, row.key) == HELPER_NAME:
            row.problems.append(
                "skopeo and podman will not ask this helper (they ignore credsStore); "
                f"run `{PROGRAM} configure`"
            )
        else:
            row.problems.append(
                f"docker will not ask this helper: {path} has no credsStore "
                f"{HELPER_NAME!r} and no credHelpers entry{forwarder}; "
                f"run `{PROGRAM} configure`"
            )
    return problems


def run_checks(source: Source, rows: list[Row], timeout: float) -> None:
    """Log in to every registry at once, the whole of each (its credentials, an ECR
    exchange, DNS, TLS, every request) within `timeout` seconds.

    Socket timeouts alone cannot promise that: a server that sends a byte a second never
    lets one expire, and a name lookup has none. So each check runs in a daemon thread, and
    one still running at the deadline is reported as unreachable and left behind: the
    process exits without waiting for it (cli.entry).
    """
    import threading

    checked = [row for row in rows if row.registry]
    outcomes: dict[int, probe.Outcome] = {}

    def check(index: int, row: Row) -> None:
        """The outcome for one registry, into `outcomes`."""
        try:
            login = source.get(row.key)
        except HelperError as error:
            outcomes[index] = probe.Outcome(NO_CREDENTIALS, str(error))
            return
        if login is None:
            outcomes[index] = probe.Outcome(NO_CREDENTIALS, ERR_NOT_FOUND)
            return
        outcomes[index] = probe.login(row.key, login.username, login.secret, timeout)

    threads = [
        threading.Thread(target=check, args=(index, row), daemon=True)
        for index, row in enumerate(checked)
    ]
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    late = probe.Outcome(probe.UNREACHABLE, f"no answer within {timeout:g} s")
    for index, row in enumerate(checked):
        outcome = outcomes.get(index, late)
        row.check = outcome.summary
        if not outcome.ok:
            detail = outcome.detail if outcome.summary == NO_CREDENTIALS else str(outcome)
            row.problems.append(f"check failed: {detail}")
        if row.key == GHCR and outcome.summary == probe.FORBIDDEN:
            row.notes.append(ghcr_forbidden_hint(row))


def ghcr_forbidden_hint(row: Row) -> str:
    """Why ghcr.io says 403 to a good token (a bad one gets 401), and where to fix it."""
    whose = row.password_variable or "the stored login's token"
    return (
        f"ghcr.io accepted {whose} but refused the package (403): it is not shared with "
        "this repository; add the repository in the package's settings under "
        f"{GHCR_SHARING_SETTING}, or give the codespace {DEVCONTAINER_PACKAGES_READ} on the "
        f"package's repository under {DEVCONTAINER_REPOSITORIES} in devcontainer.json"
    )


def report(check: bool, timeout: float) -> dict[str, Any]:
    """The whole diagnosis as data: rows, problems, notes, and whether all is well."""
    source = chain(repair=False)
    entries, failures = source.survey()
    rows = registry_rows(entries)
    found = next(s for s in source.sources() if isinstance(s, Secrets)).survey()
    problems = [skipped.message for skipped in found.passed_over]
    if any(t.aws is not None and t.aws.kind != TOKEN for t in found.answers.values()):
        problems += cache_problems()
    problems += secrets_file_problems()
    problems += log.problems()
    problems += [str(failure) for failure in failures]
    notes = store_notes(source)
    if not found.answers and not found.passed_over:  # a broken triple is said by the scan
        if os.environ.get(ENV_CODESPACES) == "true":
            problems.append(NO_SECRET_IN_CODESPACE)
        else:
            notes.append(NO_SECRET_ELSEWHERE)
    problems += wiring_problems(rows)
    if check:
        run_checks(source, rows, timeout)
    every = problems + [f"{row.key}: {p}" for row in rows for p in row.problems]
    return {
        "registries": [row.as_dict() for row in rows],
        "problems": problems,
        "notes": notes,
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
    notes = result["notes"] + [f"{r['registry']}: {n}" for r in rows for n in r["notes"]]
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
        "doctor",
        "Explain which registries the helper knows, where their credentials come "
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
