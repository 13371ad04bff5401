"""log.py: the helper's voice on stderr, and the one reader of its on/off settings (1/true/yes/on
is on; unset, empty, 0/false/no/off is off; case-insensitive; anything else is said once and
taken as off), in process."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from typing import TextIO

import pytest

from docker_credential_codespaces import log

NAME = "DOCKER_CREDENTIAL_CODESPACES_TEST_FLAG"
ON = ["1", "true", "TRUE", "True", "yes", "YES", "on", "On", " on "]
OFF = ["", "0", "false", "FALSE", "no", "No", "off", "OFF", " 0 "]


@pytest.mark.parametrize("value", ON)
def test_on(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(NAME, value)
    assert log.flag(NAME) is True


@pytest.mark.parametrize("value", [*OFF, None])
def test_off(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(NAME, raising=False)
    else:
        monkeypatch.setenv(NAME, value)
    assert log.flag(NAME) is False
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("value", ["maybe", "2", "enabled", "y"])
def test_anything_else_is_said_once_and_off(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    monkeypatch.setattr(log, "_warned", set())
    monkeypatch.setenv(NAME, value)
    assert log.flag(NAME) is False
    assert log.flag(NAME) is False
    assert capsys.readouterr().err == (
        f"docker-credential-codespaces: {NAME} is not 1/true/yes/on or 0/false/no/off; "
        "taken as off\n"
    )


DEBUG = "DOCKER_CREDENTIAL_CODESPACES_DEBUG"
NO_CACHE = "DOCKER_CREDENTIAL_CODESPACES_NO_CACHE"
NO_GITHUB_TOKEN = "DOCKER_CREDENTIAL_CODESPACES_NO_GITHUB_TOKEN"


def mistyped(name: str) -> str:
    return f"{name} is not 1/true/yes/on or 0/false/no/off; taken as off"


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("1", "docker-credential-codespaces: no secret names r.example\n"),
        ("On", "docker-credential-codespaces: no secret names r.example\n"),
        (None, ""),
        ("off", ""),
        # a mistyped DEBUG is off: its own mistake is said, the hint is not
        ("verbose", f"docker-credential-codespaces: {mistyped(DEBUG)}\n"),
    ],
)
def test_debug_hints_only_when_asked(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    value: str | None,
    said: str,
) -> None:
    monkeypatch.setattr(log, "_warned", set())
    if value is None:
        monkeypatch.delenv(DEBUG, raising=False)
    else:
        monkeypatch.setenv(DEBUG, value)
    log.debug("no secret names r.example")
    assert capsys.readouterr() == ("", said)


@pytest.mark.parametrize(
    ("values", "problems"),
    [
        ({}, []),
        ({DEBUG: "1", NO_CACHE: "off", NO_GITHUB_TOKEN: ""}, []),
        ({DEBUG: "verbose"}, [mistyped(DEBUG)]),
        ({NO_GITHUB_TOKEN: "y", DEBUG: "on"}, [mistyped(NO_GITHUB_TOKEN)]),
        (
            {NO_GITHUB_TOKEN: "please", NO_CACHE: "2", DEBUG: "enabled"},
            [mistyped(DEBUG), mistyped(NO_CACHE), mistyped(NO_GITHUB_TOKEN)],
        ),
        # a variable that is not one of the helper's settings is not doctor's business
        ({NAME: "maybe"}, []),
    ],
)
def test_doctor_hears_every_mistyped_setting_in_one_order(
    use_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    values: dict[str, str],
    problems: list[str],
) -> None:
    """Listed for doctor to print, whichever run said them already, and never said here."""
    monkeypatch.setattr(log, "_warned", set())
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    assert log.problems() == problems
    assert capsys.readouterr() == ("", "")


@contextlib.contextmanager
def closed_stream() -> Iterator[TextIO]:
    stream = io.StringIO()
    stream.close()
    yield stream


@contextlib.contextmanager
def pipe_without_reader() -> Iterator[TextIO]:
    read, write = os.pipe()
    os.close(read)
    stream = open(write, "w", buffering=1)  # noqa: SIM115 - closed below, where the flush fails
    try:
        yield stream
    finally:
        with contextlib.suppress(BrokenPipeError):
            stream.close()


@pytest.mark.parametrize("broken", [closed_stream, pipe_without_reader])
def test_a_warning_to_a_broken_stderr_is_lost_not_fatal(
    monkeypatch: pytest.MonkeyPatch, broken: Callable[[], contextlib.AbstractContextManager[TextIO]]
) -> None:
    """A closed stderr (ValueError) or one whose reader went away (BrokenPipeError) must not
    turn an answer already given into a traceback."""
    with broken() as stream, monkeypatch.context() as patched:
        patched.setattr("sys.stderr", stream)
        log.warn("said to no one")
