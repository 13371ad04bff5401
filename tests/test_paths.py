"""The XDG directories computed without platformdirs agree with platformdirs itself."""

from __future__ import annotations

import platformdirs
import pytest

from docker_credential_codespaces import paths
from docker_credential_codespaces.errors import HelperError

APP = "docker-credential-codespaces"


@pytest.mark.parametrize("xdg", [None, "", "   ", "/custom/base"])
def test_same_as_platformdirs(
    use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, xdg: str | None
) -> None:
    for variable in ("XDG_DATA_HOME", "XDG_CACHE_HOME"):
        if xdg is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, xdg)
    assert paths.user_data_dir() == platformdirs.user_data_dir(APP, appauthor=False)
    assert paths.user_cache_dir() == platformdirs.user_cache_dir(APP, appauthor=False)


def test_overrides_and_switch_off(use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CREDENTIAL_CODESPACES_STORE_DIR", "/s")
    monkeypatch.setenv("DOCKER_CREDENTIAL_CODESPACES_CACHE_DIR", "/c")
    store, cache = paths.store_dir(), paths.cache_dir()
    assert cache is not None
    assert (store.path, cache.path) == ("/s", "/c")
    monkeypatch.setenv("DOCKER_CREDENTIAL_CODESPACES_NO_CACHE", "1")
    assert paths.cache_dir() is None


def test_no_home(use_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(variable)
    monkeypatch.setattr(paths.os.path, "expanduser", lambda path: path)
    assert paths.cache_dir() is None
    with pytest.raises(HelperError, match="DOCKER_CREDENTIAL_CODESPACES_STORE_DIR"):
        paths.store_dir()
