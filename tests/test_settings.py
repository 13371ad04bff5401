"""settings.py: the directories, computed without platformdirs on Linux but agreeing with it;
and every boolean variable of the helper read the same way, end to end (the reader itself is
log.py's, held in test_log.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import platformdirs
import pytest

from beds.aws import FakeECR
from beds.client import run_helper
from beds.environment import add_secret
from beds.values import ECR_HOST
from docker_credential_codespaces import settings
from docker_credential_codespaces.files import UnsafeDirectory
from docker_credential_codespaces.wire import HelperError

# --- directories ------------------------------------------------------------------------------

APP = "docker-credential-codespaces"


# XDG homes as a user may set them: unset, empty, blank, relative (a devcontainer.json
# `remoteEnv` of `~/.local/share` is never expanded), padded, and absolute.
XDG_VALUES = [
    None,
    "",
    "   ",
    "relative/base",
    "~/.local/share",
    ".",
    " /custom/base",
    "/custom/base ",
    "/custom/base",
    "/custom/base/",
]
# HOME likewise: platformdirs takes a relative or empty one as unset.
HOME_VALUES = [None, "", "relative-home", " /padded", "/custom/home", "/custom/home/"]


# platformdirs ignores a relative or padded XDG home since 4.14; older releases, which pip
# picks for the oldest Pythons, are no oracle for that rule (the helper keeps it on every
# Python: test_a_relative_xdg_home_puts_nothing_under_the_working_directory holds it there).
PLATFORMDIRS_XDG_RULE = (4, 14)
PLATFORMDIRS = tuple(int(part) for part in platformdirs.__version__.split(".")[:2])


@pytest.mark.skipif(
    PLATFORMDIRS < PLATFORMDIRS_XDG_RULE,
    reason=f"platformdirs {platformdirs.__version__} predates the XDG rule for relative "
    "values (4.14); the Pythons that install 4.14 compare with it",
)
@pytest.mark.parametrize("home", HOME_VALUES)
@pytest.mark.parametrize("xdg", XDG_VALUES)
def test_same_as_platformdirs(
    use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, xdg: str | None, home: str | None
) -> None:
    """The XDG rule platformdirs follows: a value that is not an absolute path is ignored, as
    if unset. A relative one used to be joined to docker's working directory."""
    for variable, value in (("XDG_DATA_HOME", xdg), ("XDG_CACHE_HOME", xdg), ("HOME", home)):
        if value is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, value)
    try:
        expected = (
            platformdirs.user_data_dir(APP, appauthor=False),
            platformdirs.user_cache_dir(APP, appauthor=False),
        )
    except RuntimeError:  # platformdirs finds no home: the helper has none either
        expected = (None, None)
    assert (settings.user_data_dir(), settings.user_cache_dir()) == expected
    assert all(path is None or os.path.isabs(path) for path in expected)


def test_a_relative_xdg_home_puts_nothing_under_the_working_directory(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The report's steps: `XDG_DATA_HOME=~/.local/share` set where no shell expands it. The
    store was written under docker's working directory, the user's project."""
    project = tmp_path / "project"
    project.mkdir()
    env.update(XDG_DATA_HOME="~/.local/share", XDG_CACHE_HOME=".cache")
    body = json.dumps({"ServerURL": "r.example", "Username": "u", "Secret": "CANARY-xdg"})
    stored = run_helper(env, "store", stdin=body.encode(), cwd=project)
    assert (stored.returncode, stored.stdout, stored.stderr) == (0, b"", b"")
    got = run_helper(env, "get", stdin=b"r.example", cwd=project)
    assert json.loads(got.stdout)["Secret"] == "CANARY-xdg"
    assert list(project.iterdir()) == []
    home = Path(env["HOME"])
    assert (home / ".local/share" / APP / "credentials.json").is_file()


@pytest.mark.parametrize("value", ["relative/store", "~/.creds", "   ", " /padded/store"])
def test_a_relative_directory_setting_is_refused_in_one_line(
    env: dict[str, str], tmp_path: Path, value: str
) -> None:
    """The helper's own settings are refused, naming the variable, rather than ignored as the
    XDG homes are: the user meant the store to be there, and must not find it elsewhere
    unsaid. Nothing is written, under the working directory or anywhere."""
    project = tmp_path / "project"
    project.mkdir()
    env["DOCKER_CREDENTIAL_CODESPACES_STORE_DIR"] = value
    body = json.dumps({"ServerURL": "r.example", "Username": "u", "Secret": "CANARY-rel"})
    stored = run_helper(env, "store", stdin=body.encode(), cwd=project)
    assert stored.returncode == 1
    assert stored.stdout.count(b"\n") == 1
    assert b"named by DOCKER_CREDENTIAL_CODESPACES_STORE_DIR, is not an absolute path" in (
        stored.stdout
    )
    got = run_helper(env, "get", stdin=b"r.example", cwd=project)
    assert got.stdout == b"credentials not found in native keychain\n"
    assert got.stderr.count(b"\n") == 1 and b"STORE_DIR" in got.stderr
    configured = run_helper(env, "configure", cwd=project)
    # configure says it as the store's failure to list, then as its own: the same line
    assert configured.returncode == 1 and len(set(configured.stderr.splitlines())) == 1
    assert b"named by DOCKER_CREDENTIAL_CODESPACES_STORE_DIR" in configured.stderr
    assert list(project.iterdir()) == []
    assert not (Path(env["XDG_DATA_HOME"]) / APP).exists()
    assert b"CANARY" not in stored.stdout + got.stderr + configured.stderr


@pytest.mark.parametrize("value", ["relative/cache", "~/.cache"])
def test_a_relative_cache_setting_turns_the_cache_off_naming_it(
    use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    """The token cache, like any cache, is then off (the ECR cache says so once on stderr),
    and nothing is created under the working directory."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    monkeypatch.setenv("DOCKER_CREDENTIAL_CODESPACES_CACHE_DIR", value)
    directory = settings.cache_dir()
    assert directory is not None
    for use in (directory.check, directory.ensure):
        with pytest.raises(
            UnsafeDirectory, match="named by DOCKER_CREDENTIAL_CODESPACES_CACHE_DIR"
        ):
            use()
    assert list(project.iterdir()) == []


def test_overrides_and_switch_off(use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CREDENTIAL_CODESPACES_STORE_DIR", "/s")
    monkeypatch.setenv("DOCKER_CREDENTIAL_CODESPACES_CACHE_DIR", "/c")
    store, cache = settings.store_dir(), settings.cache_dir()
    assert cache is not None
    assert (store.path, cache.path) == ("/s", "/c")
    assert (store.setting, cache.setting) == (
        "DOCKER_CREDENTIAL_CODESPACES_STORE_DIR",
        "DOCKER_CREDENTIAL_CODESPACES_CACHE_DIR",
    )
    monkeypatch.setenv("DOCKER_CREDENTIAL_CODESPACES_NO_CACHE", "1")
    assert settings.cache_dir() is None


def test_no_home(use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(variable)
    monkeypatch.setattr(settings.os.path, "expanduser", lambda path: path)
    assert settings.cache_dir() is None
    with pytest.raises(HelperError, match="DOCKER_CREDENTIAL_CODESPACES_STORE_DIR"):
        settings.store_dir()


# The rule spelt out, platformdirs aside (it is an oracle only from 4.14): an absolute XDG home,
# else the home's `.local/share` and `.cache`, the home's trailing slashes dropped and nothing
# else of it (a home of `/` gives `/.local/share`, never `//.local/share`).
@pytest.mark.parametrize(
    ("xdg", "home", "data", "cache"),
    [
        (None, "/custom/home", "/custom/home/.local/share", "/custom/home/.cache"),
        (None, "/custom/home//", "/custom/home/.local/share", "/custom/home/.cache"),
        (None, "/", "/.local/share", "/.cache"),
        (None, "/home/MAX", "/home/MAX/.local/share", "/home/MAX/.cache"),
        (None, "/home/u ", "/home/u /.local/share", "/home/u /.cache"),
        ("", "/custom/home", "/custom/home/.local/share", "/custom/home/.cache"),
        ("relative/base", "/", "/.local/share", "/.cache"),
        ("/custom/base", "/custom/home", "/custom/base", "/custom/base"),
        ("/custom/base/", "/", "/custom/base", "/custom/base"),
    ],
)
def test_the_xdg_rule(
    use_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    xdg: str | None,
    home: str,
    data: str,
    cache: str,
) -> None:
    monkeypatch.setenv("HOME", home)
    for variable in ("XDG_DATA_HOME", "XDG_CACHE_HOME"):
        if xdg is None:
            monkeypatch.delenv(variable)
        else:
            monkeypatch.setenv(variable, xdg)
    assert (settings.user_data_dir(), settings.user_cache_dir()) == (
        f"{data}/{APP}",
        f"{cache}/{APP}",
    )


@pytest.mark.parametrize("kind", ["data", "cache"])
def test_other_platforms_ask_platformdirs_for_no_author_folder(
    monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Off Linux the answer is platformdirs' own, for this program with `appauthor=False`: on
    Windows any other author puts the program's folder in a folder of that author's name."""
    asked: list[tuple[str | None, str | bool | None]] = []

    def answer(appname: str | None = None, appauthor: str | bool | None = None) -> str:
        asked.append((appname, appauthor))
        return "C:\\Users\\u\\AppData\\Local\\" + str(appname)

    monkeypatch.setattr(platformdirs, f"user_{kind}_dir", answer)
    monkeypatch.setattr(settings.sys, "platform", "win32")
    directory = getattr(settings, f"user_{kind}_dir")()
    assert (directory, asked) == (f"C:\\Users\\u\\AppData\\Local\\{APP}", [(APP, False)])


DIRECTORIES = [
    ("store_dir", "DOCKER_CREDENTIAL_CODESPACES_STORE_DIR", "XDG_DATA_HOME"),
    ("cache_dir", "DOCKER_CREDENTIAL_CODESPACES_CACHE_DIR", "XDG_CACHE_HOME"),
]


@pytest.mark.parametrize("repair", [None, True, False])  # None: not passed, the default
@pytest.mark.parametrize("named", [False, True])
@pytest.mark.parametrize(("function", "setting", "xdg"), DIRECTORIES)
def test_the_directory_and_whether_it_is_repaired(
    use_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    function: str,
    setting: str,
    xdg: str,
    named: bool,
    repair: bool | None,
) -> None:
    """The helper's own directory under its XDG home, or the one a setting names (and which is
    then the user's), repaired unless the caller (doctor) only reads."""
    if named:
        monkeypatch.setenv(setting, "/named/directory")
    directory = getattr(settings, function)(*(() if repair is None else (repair,)))
    assert directory is not None
    assert (directory.path, directory.setting, directory.repair) == (
        "/named/directory" if named else f"{use_env[xdg]}/{APP}",
        setting if named else None,
        repair is not False,
    )


# --- every boolean variable of the helper reads the same way, end to end ---------------------


@pytest.mark.parametrize(("value", "cached"), [("false", True), ("0", True), ("yes", False)])
def test_no_cache(ecr_env: dict[str, str], fake: FakeECR, value: str, cached: bool) -> None:
    """`NO_CACHE=false` once turned the cache off."""
    ecr_env["DOCKER_CREDENTIAL_CODESPACES_NO_CACHE"] = value
    for _ in range(2):
        assert run_helper(ecr_env, "get", stdin=ECR_HOST.encode()).returncode == 0
    assert fake.count() == (1 if cached else 2)


@pytest.mark.parametrize(("value", "answered"), [("false", True), ("off", True), ("TRUE", False)])
def test_no_github_token(env: dict[str, str], value: str, answered: bool) -> None:
    """`NO_GITHUB_TOKEN=false` once turned the codespace token off."""
    env.update(CODESPACES="true", GITHUB_TOKEN="ghs_CANARY", GITHUB_USER="octo")
    env["DOCKER_CREDENTIAL_CODESPACES_NO_GITHUB_TOKEN"] = value
    result = run_helper(env, "get", stdin=b"ghcr.io")
    assert (result.returncode == 0) is answered
    listed = json.loads(run_helper(env, "list", stdin=None).stdout)
    assert listed == ({"ghcr.io": "octo"} if answered else {})


@pytest.mark.parametrize(("value", "hints"), [("false", False), ("no", False), ("On", True)])
def test_debug(env: dict[str, str], value: str, hints: bool) -> None:
    env["DOCKER_CREDENTIAL_CODESPACES_DEBUG"] = value
    result = run_helper(env, "get", stdin=b"nowhere.example")
    assert result.stdout == b"credentials not found in native keychain\n"
    assert (b"no secret and no stored login" in result.stderr) is hints


def test_a_mistyped_flag_is_one_line_and_doctor_names_it(env: dict[str, str]) -> None:
    """Said once by the run that reads it (a quiet success never reads DEBUG), and by doctor."""
    add_secret(env, "GH", "ghcr.io", "u", "p")
    env["DOCKER_CREDENTIAL_CODESPACES_DEBUG"] = "verbose"
    env["DOCKER_CREDENTIAL_CODESPACES_NO_CACHE"] = "please"
    line = b"DOCKER_CREDENTIAL_CODESPACES_DEBUG is not 1/true/yes/on or 0/false/no/off"
    assert run_helper(env, "get", stdin=b"ghcr.io").returncode == 0
    missing = run_helper(env, "get", stdin=b"nowhere.example")
    assert missing.stdout == b"credentials not found in native keychain\n"
    assert missing.stderr.count(b"\n") == 1 and line in missing.stderr
    doctor = run_helper(env, "doctor", "--json", stdin=None)
    problems = json.loads(doctor.stdout)["problems"]
    assert any(p.startswith(line.decode()) for p in problems)
    assert any(p.startswith("DOCKER_CREDENTIAL_CODESPACES_NO_CACHE is not") for p in problems)
