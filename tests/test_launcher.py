"""The launcher: the executable it writes runs the helper, whatever the interpreter's path."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beds.client import HELPER, interpreter_command, run_command
from beds.environment import add_secret
from docker_credential_codespaces import launcher
from docker_credential_codespaces.wire import HelperError

ANSWER = b'{"ServerURL":"ghcr.io","Username":"u","Secret":"p"}\n'


def write_and_get(env: dict[str, str], wrapper: Path, interpreter: str) -> bytes:
    launcher.write(str(wrapper), interpreter)
    add_secret(env, "GH", "ghcr.io", "u", "p")
    result = run_command([str(wrapper), "get"], env, b"ghcr.io")
    assert (result.returncode, result.stderr) == (0, b""), result
    return result.stdout


def test_the_written_executable_answers(env: dict[str, str], tmp_path: Path) -> None:
    wrapper = tmp_path / "docker-credential-codespaces"
    assert write_and_get(env, wrapper, interpreter_command()[0]) == ANSWER
    assert wrapper.stat().st_mode & 0o777 == 0o755 & ~current_umask()
    assert wrapper.read_text().startswith(f"#!{interpreter_command()[0]} -IS\n")


def test_an_interpreter_path_with_a_blank_goes_through_sh(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A `#!` line ends at its first blank, so such a path is run by /bin/sh's exec instead."""
    odd = tmp_path / "with blank 'and quote'"
    odd.mkdir()
    (odd / "python").symlink_to(interpreter_command()[0])
    wrapper = tmp_path / "helper"
    assert write_and_get(env, wrapper, str(odd / "python")) == ANSWER
    assert wrapper.read_text().startswith("#!/bin/sh\n")
    assert interpreter_command(wrapper) == [str(odd / "python"), "-IS"]


def test_an_interpreter_path_too_long_for_the_kernel_goes_through_sh(tmp_path: Path) -> None:
    long_path = "/" + "d" * launcher.SHEBANG_MAX + "/python"
    assert launcher.script(long_path, ["/x"]).startswith("#!/bin/sh\n")


def test_the_package_comes_first_on_sys_path() -> None:
    """The checkout (editable) or site-packages (installed) that holds this very package."""
    paths = launcher.import_paths()
    assert paths[0] == str(Path(launcher.__file__).resolve().parent.parent)
    assert len(paths) == len(set(paths))


def test_the_suite_runs_the_launchers_executable() -> None:
    """tests/run.sh writes .venv's executable as install.sh does; this suite tests that one."""
    assert HELPER.read_text() == launcher.script(sys.executable, launcher.import_paths())


def test_usage_and_unwritable_target_are_one_line(tmp_path: Path) -> None:
    python = interpreter_command()[0]
    module = "docker_credential_codespaces.launcher"
    usage = run_command([python, "-m", module], dict(os.environ), None)
    assert (usage.returncode, usage.stderr.count(b"\n")) == (2, 1)
    target = tmp_path / "missing" / "helper"
    failed = run_command([python, "-m", module, str(target)], dict(os.environ), None)
    assert (failed.returncode, failed.stderr.count(b"\n")) == (1, 1)
    assert b"Traceback" not in failed.stderr


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize(
    "path",
    [
        "/opt/venv\udcff/bin/python",
        "/opt/line\nbreak/python",
        "/opt/carriage\rreturn/python",
        "/opt/nul\0byte/python",
        "python3",  # the kernel would look it up from docker's working directory
        "venv/bin/python",
        " /opt/padded/python",
    ],
)
def test_an_interpreter_path_a_script_cannot_hold_is_refused_in_one_line(path: str) -> None:
    with pytest.raises(HelperError, match=r"^cannot name ") as refused:
        launcher.script(path, ["/x"])
    assert "\n" not in str(refused.value)


# Directory names that the `#!` line and the sh exec line each read by their own rules: a
# blank sends the path to sh, where Python reads the same bytes in a string literal (a
# backslash starts an escape), and `coding:` on the `#!` line declares the file's encoding.
AWKWARD = [
    "blank \\N",
    "blank \\x",
    "blank \\u",
    "blank \\U{x}",
    "blank \\d",
    "blank ends \\",
    "blank \\'quote'\\",
    "blank '''three''' \"\"\"",
    "coding:bogus",
    "coding=utf-16",
    "coding:ascii \u00e9",
    "no-blank\\N",
]


@pytest.mark.parametrize("name", AWKWARD)
def test_an_awkward_interpreter_path_still_runs(
    env: dict[str, str], tmp_path: Path, name: str
) -> None:
    r"""A path holding a blank and `\N`, `\x` or `\u` made every run a SyntaxError (any other
    backslash a SyntaxWarning on docker's terminal, from Python 3.12); a `coding:` in it, on
    the `#!` line, did as much. Each runs now, with nothing on stderr."""
    odd = tmp_path / name
    odd.mkdir()
    (odd / "python").symlink_to(interpreter_command()[0])
    wrapper = tmp_path / "helper"
    assert write_and_get(env, wrapper, str(odd / "python")) == ANSWER
    assert interpreter_command(wrapper) == [str(odd / "python"), "-IS"]


# Any character a path may hold, but a line break or NUL (and those str.splitlines takes for
# a line break, which interpreter_command splits on).
PATH_CHARS = st.characters(
    blacklist_categories=("Cs",),
    blacklist_characters="\n\r\0\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
)


# What either reader gives a meaning to, drawn often among any other character.
MEANINGFUL = [
    " ",
    "\t",
    "\\",
    "'",
    '"',
    "N",
    "x",
    "u",
    "U",
    "{",
    "0",
    "coding:",
    "coding=",
    "$",
    "`",
]


@settings(max_examples=300, deadline=None)
@given(
    path=st.lists(st.one_of(st.sampled_from(MEANINGFUL), PATH_CHARS), max_size=24).map(
        lambda parts: "/" + "".join(parts)
    )
)
def test_python_and_sh_both_read_back_any_path(
    tmp_path_factory: pytest.TempPathFactory, path: str
) -> None:
    """Python compiles the script without a warning, and sh's words (shlex, in POSIX mode)
    give back the very path, whatever it holds."""
    text = launcher.script(path, ["/x"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile(text, "helper", "exec")
    wrapper = tmp_path_factory.mktemp("script") / "helper"
    wrapper.write_text(text, encoding="utf-8")
    assert interpreter_command(wrapper) == [path, "-IS"]
