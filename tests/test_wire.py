"""The wire protocol, byte for byte, through the installed executable as docker runs it."""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beds.client import HELPER, run_helper
from beds.environment import add_secret
from docker_credential_codespaces import __version__, cli
from docker_credential_codespaces.chain import Chain, chain
from docker_credential_codespaces.wire import Credential, Source, serve

NOT_FOUND = b"credentials not found in native keychain\n"
USAGE = b"Usage: docker-credential-codespaces <store|get|erase|list|version>\n"


def test_get_from_secret_echoes_server_url_as_received(env: dict[str, str]) -> None:
    add_secret(env, "GH", "ghcr.io", "octocat", "s3cr3t")
    result = run_helper(env, "get", stdin=b"https://ghcr.io")
    assert result.returncode == 0
    assert result.stdout == (
        b'{"ServerURL":"https://ghcr.io","Username":"octocat","Secret":"s3cr3t"}\n'
    )
    assert result.stderr == b""


def test_get_trims_whitespace_like_docker(env: dict[str, str]) -> None:
    add_secret(env, "GH", "ghcr.io", "octocat", "s3cr3t")
    result = run_helper(env, "get", stdin=b"  ghcr.io\n")
    assert json.loads(result.stdout)["ServerURL"] == "ghcr.io"


def test_not_found_is_exact_and_silent(env: dict[str, str]) -> None:
    result = run_helper(env, "get", stdin=b"unknown.example.com")
    assert (result.returncode, result.stdout, result.stderr) == (1, NOT_FOUND, b"")


def test_not_found_hint_only_under_debug(env: dict[str, str]) -> None:
    env["DOCKER_CREDENTIAL_CODESPACES_DEBUG"] = "1"
    result = run_helper(env, "get", stdin=b"unknown.example.com")
    assert (result.returncode, result.stdout) == (1, NOT_FOUND)
    assert b"unknown.example.com" in result.stderr


@pytest.mark.parametrize("verb", ["get", "erase"])
@pytest.mark.parametrize("stdin", [b"", b"  \n\t"])
def test_empty_server_url(env: dict[str, str], verb: str, stdin: bytes) -> None:
    result = run_helper(env, verb, stdin=stdin)
    assert (result.returncode, result.stdout) == (1, b"no credentials server URL\n")


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [
        (b'{"ServerURL":"","Username":"u","Secret":"s"}', b"no credentials server URL\n"),
        (b'{"ServerURL":"r.example","Username":"","Secret":"s"}', b"no credentials username\n"),
        (b'{"ServerURL":"r.example","Secret":"s"}', b"no credentials username\n"),
        (b"{not json", b"invalid credentials: input is not valid JSON\n"),
        (b"", b"invalid credentials: input is not valid JSON\n"),
        (b"[1,2]", b"invalid credentials: expected a JSON object\n"),
        (
            b'{"ServerURL":"r.example","Username":7}',
            b"invalid credentials: Username must be a string\n",
        ),
        (b"[" * 100000 + b"]" * 100000, b"invalid credentials: input is not valid JSON\n"),
    ],
)
def test_store_errors(env: dict[str, str], request_body: bytes, expected: bytes) -> None:
    result = run_helper(env, "store", stdin=request_body)
    assert (result.returncode, result.stdout, result.stderr) == (1, expected, b"")


def test_store_get_list_erase_round_trip(env: dict[str, str]) -> None:
    body = b'{"ServerURL":"https://reg.example:5000","Username":"alice","Secret":"pw"}'
    assert run_helper(env, "store", stdin=body).returncode == 0
    got = run_helper(env, "get", stdin=b"reg.example:5000/team/app")
    assert got.stdout == (
        b'{"ServerURL":"reg.example:5000/team/app","Username":"alice","Secret":"pw"}\n'
    )
    assert run_helper(env, "list", stdin=None).stdout == b'{"reg.example:5000":"alice"}\n'
    for _ in range(2):  # erase is idempotent: docker logout erases several variants
        erased = run_helper(env, "erase", stdin=b"http://reg.example:5000")
        assert (erased.returncode, erased.stdout) == (0, b"")
    assert run_helper(env, "get", stdin=b"reg.example:5000").stdout == NOT_FOUND


def test_identity_token_passes_through(env: dict[str, str]) -> None:
    body = b'{"ServerURL":"reg.example","Username":"<token>","Secret":"idtok"}'
    assert run_helper(env, "store", stdin=body).returncode == 0
    got = json.loads(run_helper(env, "get", stdin=b"reg.example").stdout)
    assert (got["Username"], got["Secret"]) == ("<token>", "idtok")


def test_list_is_empty_object_never_null(env: dict[str, str]) -> None:
    result = run_helper(env, "list", stdin=None)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"{}\n", b"")


def test_list_never_reads_stdin(env: dict[str, str]) -> None:
    """docker-py hands the helper its own stdin: reading it would hang forever."""
    with subprocess.Popen(
        [str(HELPER), "list"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    ) as process:
        try:
            code = process.wait(timeout=30)  # stdin stays open and unwritten
        finally:
            process.kill()
        assert code == 0
        assert process.stdout is not None and process.stdout.read() == b"{}\n"


def test_list_shows_usernames_never_secrets(env: dict[str, str]) -> None:
    add_secret(env, "A", "https://ghcr.io/", "octo", "CANARY-list-1")
    add_secret(env, "HUB", "docker.io", "hubuser", "CANARY-list-2")
    add_secret(env, "ECR", "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "AKIAX", "CANARY-3")
    result = run_helper(env, "list", stdin=None)
    assert json.loads(result.stdout) == {
        "ghcr.io": "octo",
        "https://index.docker.io/v1/": "hubuser",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com": "AWS",
    }
    assert b"CANARY" not in result.stdout + result.stderr


@pytest.mark.parametrize("flag", ["version", "--version", "-v"])
def test_version(env: dict[str, str], flag: str) -> None:
    result = run_helper(env, flag, stdin=None)
    expected = f"docker-credential-codespaces (docker_credential_codespaces) {__version__}\n"
    assert (result.returncode, result.stdout.decode()) == (0, expected)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(env: dict[str, str], flag: str) -> None:
    result = run_helper(env, flag, stdin=None)
    assert result.returncode == 0
    assert result.stdout.startswith(USAGE)


@pytest.mark.parametrize("args", [(), ("get", "extra")])
def test_wrong_argument_count(env: dict[str, str], args: tuple[str, ...]) -> None:
    result = run_helper(env, *args, stdin=None)
    assert (result.returncode, result.stdout) == (1, USAGE)


def test_unknown_action(env: dict[str, str]) -> None:
    result = run_helper(env, "fetch", stdin=None)
    assert (result.returncode, result.stdout) == (
        1,
        b"docker-credential-codespaces: unknown action: fetch\n",
    )


@pytest.mark.parametrize("verb", ["get", "store", "erase"])
def test_input_over_cap(env: dict[str, str], verb: str) -> None:
    result = run_helper(env, verb, stdin=b"a" * (1024 * 1024 + 1))
    assert (result.returncode, result.stdout) == (1, b"input is larger than 1048576 bytes\n")
    assert b"Traceback" not in result.stderr


@pytest.mark.parametrize("verb", ["get", "store", "erase"])
def test_input_not_utf8(env: dict[str, str], verb: str) -> None:
    result = run_helper(env, verb, stdin=b"\xff\xfe ghcr.io")
    assert (result.returncode, result.stdout) == (1, b"input is not valid UTF-8\n")


def test_input_at_cap_is_read(env: dict[str, str]) -> None:
    result = run_helper(env, "get", stdin=b" " * (1024 * 1024 - 7) + b"ghcr.io")
    assert result.stdout == NOT_FOUND


@pytest.mark.parametrize("verb", ["store", "erase"])
def test_invalid_server_url_for_writes(env: dict[str, str], verb: str) -> None:
    stdin = (
        b'{"ServerURL":"user@evil.example","Username":"u","Secret":"s"}'
        if verb == "store"
        else b"user@evil.example"
    )
    result = run_helper(env, verb, stdin=stdin)
    assert result.returncode == 1
    assert result.stdout.startswith(b"invalid server URL '***@evil.example'")
    assert result.stdout.count(b"\n") == 1


def test_store_for_secret_covered_registry_writes_nothing(env: dict[str, str]) -> None:
    add_secret(env, "GH", "ghcr.io", "octocat", "from-secret")
    body = b'{"ServerURL":"ghcr.io","Username":"other","Secret":"CANARY-typed"}'
    result = run_helper(env, "store", stdin=body)
    assert (result.returncode, result.stdout) == (0, b"")
    assert b"GH_CONTAINER_REGISTRY_SERVER" in result.stderr
    assert b"CANARY" not in result.stderr
    assert json.loads(run_helper(env, "get", stdin=b"ghcr.io").stdout)["Secret"] == "from-secret"
    store_dir = env["XDG_DATA_HOME"] + "/docker-credential-codespaces"
    assert not os.path.exists(store_dir + "/credentials.json")
    erased = run_helper(env, "erase", stdin=b"ghcr.io")
    assert (erased.returncode, erased.stdout) == (0, b"")
    assert json.loads(run_helper(env, "get", stdin=b"ghcr.io").stdout)["Secret"] == "from-secret"


def test_python_dash_m_is_the_same_program(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "docker_credential_codespaces", "version"],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.stdout == run_helper(env, "version", stdin=None).stdout


def test_serve_in_process(use_env: dict[str, str]) -> None:
    """The wire module runs on plain byte streams, without a subprocess."""
    out = io.StringIO()
    assert serve(chain(), ["x", "get"], io.BytesIO(b"nowhere.example"), out) == 1
    assert out.getvalue() == NOT_FOUND.decode()


def test_unexpected_exception_is_one_line(use_env: dict[str, str]) -> None:
    class Broken(Source):
        def get(self, server_url: str) -> Credential | None:
            raise RuntimeError("CANARY-internal")

    out = io.StringIO()
    assert serve(Chain([Broken]), ["x", "get"], io.BytesIO(b"r.example"), out) == 1
    assert out.getvalue() == "docker-credential-codespaces: internal error (RuntimeError)\n"


def test_userinfo_in_a_refused_url_is_never_echoed(env: dict[str, str]) -> None:
    env["DOCKER_CREDENTIAL_CODESPACES_DEBUG"] = "1"
    for verb in ("get", "erase"):
        result = run_helper(env, verb, stdin=b"https://robot:CANARY-pw@reg.example/x")
        assert result.returncode == 1
        assert b"CANARY" not in result.stdout + result.stderr


@given(st.text())
def test_json_string_is_json(text: str) -> None:
    from docker_credential_codespaces.wire import json_string

    encoded = json_string(text)
    assert encoded.isascii() and "\n" not in encoded
    assert json.loads(encoded) == text


def dispatched_commands() -> set[str]:
    """The people's commands cli.main sends to their modules, read from its code: every
    string that `command` is compared with (`==` or `in`)."""
    tree = ast.parse(Path(cli.__file__).read_text())
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
    names = set()
    for node in ast.walk(main):
        if isinstance(node, ast.Compare) and getattr(node.left, "id", None) == "command":
            for constant in ast.walk(node.comparators[0]):
                if isinstance(constant, ast.Constant) and isinstance(constant.value, str):
                    names.add(constant.value)
    return names


def test_help_lists_every_command_people_run(env: dict[str, str]) -> None:
    commands = dispatched_commands()
    assert {"configure", "unconfigure", "doctor", "warm", "export"} <= commands
    result = run_helper(env, "--help", stdin=None)
    assert result.returncode == 0
    listed = {
        line.split()[1]
        for line in result.stdout.decode().splitlines()
        if line.startswith("  docker-credential-codespaces ")
    }
    assert listed == commands
    for verb in ("get", "store", "erase", "list", "version"):
        assert f"\n  {verb} " in result.stdout.decode()
