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
from beds.sources import Fixed
from beds.values import NOT_FOUND
from docker_credential_codespaces import __version__, cli
from docker_credential_codespaces.chain import Chain, chain
from docker_credential_codespaces.constants import STDIN_CAP
from docker_credential_codespaces.wire import (
    HELP,
    Credential,
    Entry,
    HelperError,
    Source,
    json_string,
    serve,
)

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
    encoded = json_string(text)
    assert encoded.isascii() and "\n" not in encoded
    assert json.loads(encoded) == text


# --- the protocol in process: serve over a source in memory, every verb and error as a table
# (the subprocess tests above prove the executable; these name each rule, and a mutation
# of it fails here: docs/testing.md)

USAGE_LINE = "Usage: docker-credential-codespaces <store|get|erase|list|version>\n"


def served(
    argv: list[str], stdin: bytes = b"", source: Source | None = None
) -> tuple[int, str, Source]:
    source = source if source is not None else Fixed({"r.example": ("u", "p")}, True)
    out = io.StringIO()
    code = serve(source, ["docker-credential-codespaces", *argv], io.BytesIO(stdin), out)
    return code, out.getvalue(), source


@pytest.mark.parametrize(
    ("argv", "stdin", "code", "out"),
    [
        ([], b"", 1, USAGE_LINE),
        (["get", "extra"], b"r.example", 1, USAGE_LINE),
        (["bogus"], b"", 1, "docker-credential-codespaces: unknown action: bogus\n"),
        (
            ["version"],
            b"",
            0,
            f"docker-credential-codespaces (docker_credential_codespaces) {__version__}\n",
        ),
        (
            ["--version"],
            b"",
            0,
            f"docker-credential-codespaces (docker_credential_codespaces) {__version__}\n",
        ),
        (
            ["-v"],
            b"",
            0,
            f"docker-credential-codespaces (docker_credential_codespaces) {__version__}\n",
        ),
        (["--help"], b"", 0, HELP),
        (["-h"], b"", 0, HELP),
        (["help"], b"", 0, HELP),
        (["get"], b"r.example", 0, '{"ServerURL":"r.example","Username":"u","Secret":"p"}\n'),
        (["get"], b"  r.example\n", 0, '{"ServerURL":"r.example","Username":"u","Secret":"p"}\n'),
        (["get"], b"q.example", 1, "credentials not found in native keychain\n"),
        (["get"], b"", 1, "no credentials server URL\n"),
        (["get"], b" \n\t", 1, "no credentials server URL\n"),
        (["get"], b"\xff", 1, "input is not valid UTF-8\n"),
        (["get"], b"x" * (STDIN_CAP + 1), 1, f"input is larger than {STDIN_CAP} bytes\n"),
        (["get"], b" " * STDIN_CAP, 1, "no credentials server URL\n"),  # the cap itself is read
        (["erase"], b"r.example", 0, ""),
        (["erase"], b"never.example", 0, ""),  # nothing to forget: docker logout's success
        (["erase"], b"", 1, "no credentials server URL\n"),
        (["list"], b"", 0, '{"r.example":"u"}\n'),
    ],
)
def test_every_verb_in_process(argv: list[str], stdin: bytes, code: int, out: str) -> None:
    assert served(argv, stdin)[:2] == (code, out)


def store_request(**fields: object) -> bytes:
    return json.dumps(fields).encode()


@pytest.mark.parametrize(
    ("stdin", "out"),
    [
        (b"not json", "invalid credentials: input is not valid JSON\n"),
        (b"[" * 100_000, "invalid credentials: input is not valid JSON\n"),
        (b"[]", "invalid credentials: expected a JSON object\n"),
        (
            store_request(ServerURL="s.example", Username=7, Secret="p"),
            "invalid credentials: Username must be a string\n",
        ),
        (
            store_request(ServerURL=None, Username="u", Secret="p"),
            "invalid credentials: ServerURL must be a string\n",
        ),
        (
            store_request(ServerURL="s.example", Username="u", Secret=["p"]),
            "invalid credentials: Secret must be a string\n",
        ),
        (
            b'{"ServerURL":"s.example","Username":"\\ud800","Secret":"p"}',
            "invalid credentials: Username is not valid Unicode\n",
        ),
        (store_request(Username="u", Secret="p"), "no credentials server URL\n"),
        (store_request(ServerURL="  ", Username="u", Secret="p"), "no credentials server URL\n"),
        (
            store_request(ServerURL="s.example", Username="", Secret="p"),
            "no credentials username\n",
        ),
        (store_request(ServerURL="s.example", Secret="p"), "no credentials username\n"),
    ],
)
def test_store_refuses_in_one_line(stdin: bytes, out: str) -> None:
    code, printed, source = served(["store"], stdin)
    assert (code, printed) == (1, out)
    assert isinstance(source, Fixed) and set(source.known) == {"r.example"}  # nothing stored


def test_store_keeps_the_trimmed_server_and_every_field_as_sent() -> None:
    code, out, source = served(
        ["store"], store_request(ServerURL=" s.example\n", Username=" u ", Secret="")
    )
    assert (code, out) == (0, "")
    assert isinstance(source, Fixed) and source.known["s.example"] == (" u ", "")


def test_a_store_nothing_takes_is_one_line() -> None:
    code, out, _ = served(
        ["store"], store_request(ServerURL="https://u:CANARY@s.example", Username="u"), Fixed({})
    )
    assert (code, out) == (1, "nothing can store a login for '***@s.example'\n")


def test_list_never_reads_stdin_and_prints_an_empty_object() -> None:
    class Unreadable(io.BytesIO):
        def read(self, *args: object) -> bytes:
            raise AssertionError("list read stdin")

    out = io.StringIO()
    assert serve(Fixed({}), ["x", "list"], Unreadable(), out) == 0
    assert out.getvalue() == "{}\n"
    keys = {"b.example": ("two", "p"), "a.example": ('q"uote', "p"), "c.example": ("\u00e9", "p")}
    assert served(["list"], source=Fixed(keys))[1] == (
        '{"a.example":"q\\"uote","b.example":"two","c.example":"\\u00e9"}\n'
    )


def test_an_error_is_one_ascii_line() -> None:
    class Failing(Source):
        def get(self, server_url: str) -> Credential | None:
            raise HelperError("first\nsecond\u00e9  third")

    assert served(["get"], b"r.example", Failing())[:2] == (1, "first second\\xe9 third\n")


def test_a_failing_source_is_said_in_list_and_list_still_answers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Failing(Source):
        def entries(self) -> list[Entry]:
            raise HelperError("the store is broken")

    assert served(["list"], source=Failing())[:2] == (0, "{}\n")
    assert capsys.readouterr().err == "docker-credential-codespaces: the store is broken\n"


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("plain", '"plain"'),
        ("", '""'),
        ('q"uote', '"q\\"uote"'),
        ("back\\slash", '"back\\\\slash"'),
        ("\u00e9", '"\\u00e9"'),
        ("tab\t", '"tab\\t"'),
    ],
)
def test_json_string_quotes_only_what_must_be(text: str, literal: str) -> None:
    assert json_string(text) == literal


def test_a_credential_says_whether_and_when_it_expires_and_hides_its_secret() -> None:
    plain = Credential("u", "CANARY")
    dated = Credential("u", "CANARY", 5.0)
    undated = Credential("u", "CANARY", expires=True)
    assert (plain.username, plain.secret, plain.expires, plain.expires_at) == (
        "u",
        "CANARY",
        False,
        None,
    )
    assert (dated.expires, dated.expires_at) == (True, 5.0)
    assert (undated.expires, undated.expires_at) == (True, None)
    assert all("CANARY" not in repr(c) for c in (plain, dated, undated))
    assert repr(dated) == "Credential(username='u', expires_at=5.0)"
    assert plain == Credential("u", "CANARY") and plain != dated and plain != ("u", "CANARY")


def test_an_entry_holds_what_list_and_doctor_read() -> None:
    source = Fixed({})
    entry = Entry("r.example", "u", source, "local store", "R_CONTAINER_REGISTRY_PASSWORD")
    assert (entry.key, entry.username, entry.source, entry.where, entry.variable) == (
        "r.example",
        "u",
        source,
        "local store",
        "R_CONTAINER_REGISTRY_PASSWORD",
    )
    assert Entry("k", "u", source, "w").variable is None
    assert repr(entry) == "Entry(key='r.example', where='local store')"


def test_erase_forgets_the_trimmed_name_it_was_sent() -> None:
    code, out, source = served(["erase"], b" r.example\n")
    assert (code, out) == (0, "")
    assert isinstance(source, Fixed) and source.deleted == ["r.example"]


def test_stdin_is_read_with_a_bound_never_whole() -> None:
    """A request is read up to one byte past the cap: an endless stdin costs no memory."""

    class Endless(io.RawIOBase):
        def __init__(self) -> None:
            self.asked: list[int | None] = []

        def read(self, size: int | None = -1) -> bytes:
            self.asked.append(size)
            if size is None or size < 0:
                raise AssertionError("stdin read whole")
            return b"x" * size

    stdin = Endless()
    out = io.StringIO()
    assert serve(Fixed({}), ["x", "get"], stdin, out) == 1  # type: ignore[arg-type]
    assert out.getvalue() == f"input is larger than {STDIN_CAP} bytes\n"
    assert stdin.asked == [STDIN_CAP + 1]


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
