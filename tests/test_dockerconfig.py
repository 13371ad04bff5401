"""config.json's codec, in process: inline logins out of `auths` and back, masking, and the
credHelpers keys containers/image needs."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from docker_credential_codespaces import dockerconfig
from docker_credential_codespaces.wire import HelperError


def auth(pair: str) -> str:
    return base64.b64encode(pair.encode()).decode()


@pytest.mark.parametrize(
    ("entry", "login"),
    [
        ({"auth": auth("u:p")}, {"Username": "u", "Secret": "p"}),
        ({"auth": auth("u:p:with:colons")}, {"Username": "u", "Secret": "p:with:colons"}),
        ({"identitytoken": "tok"}, {"Username": "<token>", "Secret": "tok"}),
        ({"identitytoken": "tok", "auth": auth("u:p")}, {"Username": "<token>", "Secret": "tok"}),
        ({"auth": auth("no-colon")}, None),
        ({"auth": auth(":p")}, None),
        ({"auth": "not base64!"}, None),
        # docker decodes `auth` strictly (Go's StdEncoding) and refuses the file over one it
        # cannot: a lenient decoder would drop the stray byte and carry a login docker never had
        ({"auth": "dTp!wdw=="}, None),
        ({"auth": "dTpwdw"}, None),
        ({"auth": "dTpw dw=="}, None),
        ({"auth": "dTpwdw==="}, None),
        ({"auth": "dTpwdw=="}, {"Username": "u", "Secret": "pw"}),
        ({"auth": 7}, None),
        ({}, None),
        # every spelling docker's Go decoder honours: names in any case, the last one winning
        ({"Auth": auth("u:p")}, {"Username": "u", "Secret": "p"}),
        ({"AUTH": auth("u:p")}, {"Username": "u", "Secret": "p"}),
        ({"auth": auth("old:x"), "Auth": auth("u:p")}, {"Username": "u", "Secret": "p"}),
        ({"username": "u", "password": "p"}, {"Username": "u", "Secret": "p"}),
        ({"Username": "u", "PASSWORD": "p"}, {"Username": "u", "Secret": "p"}),
        ({"u\u017fername": "u", "pa\u017f\u017fword": "p"}, {"Username": "u", "Secret": "p"}),
        ({"username": "u", "password": "p", "auth": auth("a:b")}, {"Username": "a", "Secret": "b"}),
        ({"username": "u"}, None),
        ({"password": "p"}, None),
        ({"username": "u", "password": 7}, None),
        ({"IdentityToken": "tok"}, {"Username": "<token>", "Secret": "tok"}),
        ({"IDENTITYTOKEN": "tok", "Auth": auth("u:p")}, {"Username": "<token>", "Secret": "tok"}),
        ({"identityto\u212aen": "tok"}, {"Username": "<token>", "Secret": "tok"}),
        ({"identitytoken": "", "username": "u", "password": "p"}, {"Username": "u", "Secret": "p"}),
        # not docker's names: "pa\u00dfword" folds to "password" only under full case folding
        ({"username": "u", "pa\u00dfword": "p"}, None),
        ({"auth_": auth("u:p")}, None),
    ],
)
def test_inline_logins(entry: dict[str, object], login: dict[str, str] | None) -> None:
    found, kept = dockerconfig.inline_logins({"auths": {"https://r.example/v2/": entry}})
    assert found == ({"r.example": login} if login is not None else {})
    assert kept == {}


def raw_auth(pair: bytes) -> str:
    return base64.b64encode(pair).decode()


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        # docker keeps the bytes `auth` decodes to, UTF-8 or not: its login is there
        ({"auth": raw_auth(b"u:p\xff\xfe")}, "its `auth` is not UTF-8"),
        ({"auth": raw_auth(b"\xe9t\xe9:p")}, "its `auth` is not UTF-8"),
        ({"Auth": raw_auth(b"u:\xc3"), "username": "v", "password": "q"}, "not UTF-8"),
        # JSON lets a string hold half a surrogate pair; UTF-8 cannot
        ({"username": "u", "password": "p\ud800"}, "unpaired surrogate"),
        ({"username": "\udcff", "password": "p"}, "unpaired surrogate"),
        ({"identitytoken": "t\udfff"}, "unpaired surrogate"),
    ],
)
def test_a_login_docker_has_but_no_helper_can_carry_is_named(
    entry: dict[str, object], why: str
) -> None:
    """Such a login was skipped as if docker had none, so configure set credsStore and docker
    stopped sending it (exit 0), or the store's write raised a traceback."""
    found, kept = dockerconfig.inline_logins({"auths": {"r.example": entry}})
    assert found == {}
    assert list(kept) == ["r.example"] and why in kept["r.example"]


@pytest.mark.parametrize(
    "login",
    [{"Username": "u", "Secret": "p:q"}, {"Username": "<token>", "Secret": "id-token"}],
)
def test_inline_entry_reads_back_as_the_same_login(login: dict[str, str]) -> None:
    config = {"auths": {"r.example": dockerconfig.inline_entry(login)}}
    assert dockerconfig.inline_logins(config) == ({"r.example": login}, {})


def test_masked_hides_every_secret_field_and_leaves_the_original() -> None:
    config = {"auths": {"r": {"auth": "CANARY", "identitytoken": "CANARY", "email": "e"}}}
    masked = dockerconfig.masked(config)
    assert "CANARY" not in repr(masked) and masked["auths"]["r"]["email"] == "e"
    assert config["auths"]["r"]["auth"] == "CANARY"


def test_masked_hides_secrets_in_every_spelling_headers_and_proxy_userinfo() -> None:
    config = {
        "auths": {
            "a": {"Auth": "CANARY-1", "AUTH": "CANARY-2", "username": "visible-user"},
            "b": {"IdentityToken": "CANARY-3", "Password": "CANARY-4", "RegistryToken": "CANARY-5"},
        },
        "Auths": {"c": {"auth": "CANARY-6"}},
        "HttpHeaders": {"Authorization": "Bearer CANARY-7", "X-Meta": "CANARY-8"},
        "proxies": {
            "default": {
                "httpProxy": "http://puser:CANARY-9@proxy.internal:3128",
                "httpsProxy": "CANARY-10:x@proxy.internal:3128/path",
                "ftpProxy": "socks5://a@b:CANARY-11@proxy.internal:1080",
                "noProxy": "localhost,127.0.0.1",
            },
            "tcp://remote:2376": {"allProxy": ["http://u:CANARY-12@p:1/"]},
        },
    }
    masked = dockerconfig.masked(config)
    assert "CANARY" not in repr(masked)
    assert masked["auths"]["a"]["username"] == "visible-user"
    assert masked["HttpHeaders"] == {"Authorization": "<hidden>", "X-Meta": "<hidden>"}
    proxies = masked["proxies"]["default"]
    assert proxies["httpProxy"] == "http://<hidden>@proxy.internal:3128"
    assert proxies["httpsProxy"] == "<hidden>@proxy.internal:3128/path"
    assert proxies["ftpProxy"] == "socks5://<hidden>@proxy.internal:1080"
    assert proxies["noProxy"] == "localhost,127.0.0.1"


CONFIG = {
    "credsStore": "desktop",
    "credHelpers": {"ghcr.io": "codespaces", "docker.io": "pass", "odd.example": 7},
}


@pytest.mark.parametrize(
    ("key", "store", "helper"),
    [
        ("ghcr.io", True, "codespaces"),
        ("ghcr.io", False, "codespaces"),
        ("docker.io", True, "pass"),
        ("https://index.docker.io/v1/", True, "desktop"),  # docker's Hub key has no entry
        ("https://index.docker.io/v1/", False, None),
        ("quay.io", True, "desktop"),
        ("quay.io", False, None),  # containers/image has no credsStore
        ("odd.example", True, "desktop"),  # an entry that is no name is no entry
    ],
)
def test_credential_helper_is_which_helper_a_client_runs(
    key: str, store: bool, helper: str | None
) -> None:
    assert dockerconfig.credential_helper(CONFIG, key, store) == helper
    assert dockerconfig.credential_helper({}, key, store) is None


def test_helper_keys() -> None:
    keys = ["https://index.docker.io/v1/", "ghcr.io", "https://index.docker.io/v1/access-token"]
    assert dockerconfig.helper_keys([*keys, "ghcr.io"]) == [
        "https://index.docker.io/v1/",
        "docker.io",
        "ghcr.io",
    ]


def test_a_config_json_it_could_not_read_back_is_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """configure and unconfigure read config.json up to CONFIG_CAP: a file they wrote past it
    could not be read again, even to undo it. Refused in one line, the file left as it was."""
    path = tmp_path / "config.json"
    path.write_text('{"psFormat": "x"}')
    monkeypatch.setattr(dockerconfig, "CONFIG_CAP", 64)
    with pytest.raises(HelperError, match=r"more than the 64 it is read back with") as refused:
        dockerconfig.write(
            str(path), {"credHelpers": {f"r{n}.example": "codespaces" for n in range(9)}}
        )
    assert "\n" not in str(refused.value)
    assert path.read_text() == '{"psFormat": "x"}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]
