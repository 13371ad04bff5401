"""config.json's codec, in process: inline logins out of `auths` and back, masking, and the
credHelpers keys containers/image needs."""

from __future__ import annotations

import base64
import os
import stat
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


@pytest.mark.parametrize(
    ("docker_config", "path"),
    [
        ("/etc/dc", "/etc/dc/config.json"),
        ("relative/dir", "relative/dir/config.json"),
        ("", "/home/u/.docker/config.json"),  # docker treats an empty DOCKER_CONFIG as unset
        (None, "/home/u/.docker/config.json"),
    ],
)
def test_config_path_is_where_docker_reads_it(
    docker_config: str | None, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", "/home/u")
    if docker_config is None:
        monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    else:
        monkeypatch.setenv("DOCKER_CONFIG", docker_config)
    assert dockerconfig.config_path() == path


@pytest.mark.parametrize(
    ("content", "config"),
    [
        (None, {}),  # no file: nothing configured yet
        (b"", {}),
        (b" \n\t", {}),
        (b'{"credsStore": "pass"}', {"credsStore": "pass"}),
        (b'\n {"auths": {}} \n', {"auths": {}}),
    ],
)
def test_load(tmp_path: Path, content: bytes | None, config: dict[str, object]) -> None:
    path = tmp_path / "config.json"
    if content is not None:
        path.write_bytes(content)
    assert dockerconfig.load(str(path)) == config


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"[1, 2]", "{path} does not hold a JSON object; fix it first"),
        (b'"text"', "{path} does not hold a JSON object; fix it first"),
        (b"null", "{path} does not hold a JSON object; fix it first"),
        (b"{not json", "{path} is not valid JSON; fix it, then run this again"),
        (b"\xff\xfe{}", "{path} is not valid JSON; fix it, then run this again"),
        (b"{}" + b" " * 63, "{path} is larger than 64 bytes"),
    ],
)
def test_load_names_a_config_json_it_cannot_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, error: str
) -> None:
    """A file that is not docker's is one line naming it, never a reset to {}: configure would
    otherwise write over the user's file."""
    path = tmp_path / "config.json"
    path.write_bytes(content)
    monkeypatch.setattr(dockerconfig, "CONFIG_CAP", 64)
    with pytest.raises(HelperError) as refused:
        dockerconfig.load(str(path))
    assert str(refused.value) == error.format(path=path)
    assert path.read_bytes() == content


def test_load_reads_a_config_json_of_exactly_its_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b"{}" + b" " * 62)
    monkeypatch.setattr(dockerconfig, "CONFIG_CAP", 64)
    assert dockerconfig.load(str(path)) == {}


def test_config_cap_is_16_mib() -> None:
    assert dockerconfig.CONFIG_CAP == 16 * 1024 * 1024


def test_render_is_tab_indented_with_a_final_newline_as_docker_writes_it() -> None:
    config = {"auths": {"r.example": {"auth": "eDp5"}}, "credsStore": "codespaces"}
    assert dockerconfig.render(config) == (
        '{\n\t"auths": {\n\t\t"r.example": {\n\t\t\t"auth": "eDp5"\n\t\t}\n\t},\n'
        '\t"credsStore": "codespaces"\n}\n'
    )


NEW_CONFIG = {"credsStore": "codespaces"}
NEW_TEXT = '{\n\t"credsStore": "codespaces"\n}\n'


@pytest.mark.parametrize(
    ("before", "backup"),
    [
        (None, None),  # no file: created, nothing to back up
        (b"", b""),
        (b'{"psFormat": "x"}', b'{"psFormat": "x"}'),
    ],
)
def test_write_keeps_the_old_file_as_the_backup(
    tmp_path: Path, before: bytes | None, backup: bytes | None
) -> None:
    path = tmp_path / "config.json"
    if before is not None:
        path.write_bytes(before)
    made = dockerconfig.write(str(path), NEW_CONFIG)
    assert path.read_text() == NEW_TEXT
    if backup is None:
        assert made is None
        assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]
    else:
        assert made == f"{path}.bak"
        assert Path(made).read_bytes() == backup
        assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "config.json.bak"]


@pytest.mark.parametrize("layout", ["linked file", "linked directory"])
def test_write_goes_through_links_and_leaves_them_links(tmp_path: Path, layout: str) -> None:
    """In a codespace ~/.docker is a link into the persisted share: a file written in the
    link's place would be lost when the codespace stops."""
    target = tmp_path / "persisted" / ".docker"
    target.mkdir(parents=True)
    (target / "config.json").write_text('{"psFormat": "x"}')
    home = tmp_path / "home" / ".docker"
    home.parent.mkdir()
    if layout == "linked file":
        home.mkdir()
        (home / "config.json").symlink_to(target / "config.json")
    else:
        home.symlink_to(target)
    made = dockerconfig.write(str(home / "config.json"), NEW_CONFIG)
    assert made == str((target / "config.json.bak").resolve())
    assert (target / "config.json").read_text() == NEW_TEXT
    assert (target / "config.json.bak").read_text() == '{"psFormat": "x"}'
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "config.json.bak"]
    link = home / "config.json" if layout == "linked file" else home
    assert link.is_symlink()


def test_write_creates_a_missing_directory_private(tmp_path: Path) -> None:
    path = tmp_path / ".docker" / "config.json"
    umask = os.umask(0o022)
    try:
        assert dockerconfig.write(str(path), NEW_CONFIG) is None
    finally:
        os.umask(umask)
    assert path.read_text() == NEW_TEXT
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_write_names_a_directory_it_cannot_make(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / ".docker" / "config.json"
    with pytest.raises(HelperError) as refused:
        dockerconfig.write(str(path), NEW_CONFIG)
    assert str(refused.value) == f"cannot write {path}: Not a directory"


@pytest.mark.parametrize(("slack", "written"), [(0, True), (-1, False)])
def test_write_refuses_one_byte_past_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack: int, written: bool
) -> None:
    path = tmp_path / "config.json"
    monkeypatch.setattr(dockerconfig, "CONFIG_CAP", len(NEW_TEXT) + slack)
    if written:
        dockerconfig.write(str(path), NEW_CONFIG)
        assert path.read_text() == NEW_TEXT
    else:
        with pytest.raises(HelperError, match="it is left as it was"):
            dockerconfig.write(str(path), NEW_CONFIG)
        assert not path.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
@pytest.mark.parametrize("exists", [True, False])
def test_write_keeps_the_owner(tmp_path: Path, exists: bool) -> None:
    """Root wiring a user's config.json must not leave the user unable to `docker login`: the
    file and its backup keep the old file's owner, a new file takes its directory's."""
    directory = tmp_path / ".docker"
    directory.mkdir()
    os.chown(directory, 4321, 4322)
    path = directory / "config.json"
    if exists:
        path.write_text("{}")
        os.chown(path, 4323, 4324)
    dockerconfig.write(str(path), NEW_CONFIG)
    owner = (4323, 4324) if exists else (4321, 4322)
    for written in [path, directory / "config.json.bak"] if exists else [path]:
        assert (written.stat().st_uid, written.stat().st_gid) == owner, written


@pytest.mark.parametrize(
    ("server", "entry", "kept"),
    [
        ("r.example@evil", {"auth": auth("u:p")}, []),  # no registry's key
        ("r.example", "not an object", []),
        ("r.example", {}, []),
        ("r.example", {"auth": "dTpw\u00e9dw=="}, []),  # not ASCII
        ("r.example", {"auth": "dTp\udfffwdw=="}, []),  # not ASCII, and no UTF-8 either
        ("r.example", {"auth": "not base64!"}, []),
        ("r.example", {"auth": auth("no-colon")}, []),
        ("r.example", {"auth": raw_auth(b"u:\xff")}, ["r.example"]),
        ("r.example", {"username": "u", "password": "p\ud800"}, ["r.example"]),
    ],
)
def test_an_entry_passed_over_never_stops_the_rest(
    server: str, entry: object, kept: list[str]
) -> None:
    config = {"auths": {server: entry, "z.example": {"auth": auth("u:p")}}}
    found, why = dockerconfig.inline_logins(config)
    assert found == {"z.example": {"Username": "u", "Secret": "p"}}
    assert list(why) == kept


@pytest.mark.parametrize("config", [{}, {"auths": None}, {"auths": ["r.example"]}, {"auths": "r"}])
def test_auths_that_is_no_object_holds_no_login(config: dict[str, object]) -> None:
    assert dockerconfig.inline_logins(config) == ({}, {})


@pytest.mark.parametrize(
    ("login", "entry"),
    [
        ({"Username": "u", "Secret": "p:q"}, {"auth": "dTpwOnE="}),
        ({"Username": "\u00e9", "Secret": "\u00fc"}, {"auth": "w6k6w7w="}),  # UTF-8, as docker
        ({"Username": "<token>", "Secret": "id-token"}, {"identitytoken": "id-token"}),
    ],
)
def test_inline_entry_is_what_docker_writes(login: dict[str, str], entry: dict[str, str]) -> None:
    assert dockerconfig.inline_entry(login) == entry


def test_masked_hides_exactly_the_secrets() -> None:
    config = {
        "auths": {
            "a": {"Auth": "s1", "email": "e", "IdentityToken": "s2", "x": {"auth": "kept"}},
            "b": "not an object",
            "c": {"password": "s3", "registrytoken": "s4", "username": "u"},
        },
        "AUTHS": ["not an object"],
        "httpHeaders": {"Authorization": "s5"},
        "HttpHeaders": "not an object",
        "Proxies": {"default": {"httpProxy": "http://u:s6@p:1"}},
        "credsStore": "pass",
    }
    assert dockerconfig.masked(config) == {
        "auths": {
            "a": {
                "Auth": "<hidden>",
                "email": "e",
                "IdentityToken": "<hidden>",
                "x": {"auth": "kept"},
            },
            "b": "not an object",
            "c": {"password": "<hidden>", "registrytoken": "<hidden>", "username": "u"},
        },
        "AUTHS": ["not an object"],
        "httpHeaders": {"Authorization": "<hidden>"},
        "HttpHeaders": "not an object",
        "Proxies": {"default": {"httpProxy": "http://<hidden>@p:1"}},
        "credsStore": "pass",
    }


@pytest.mark.parametrize(
    ("proxy", "shown"),
    [
        ("http://u:p@proxy:3128", "http://<hidden>@proxy:3128"),
        ("u:p@proxy:3128/path", "<hidden>@proxy:3128/path"),
        ("socks5://a@b:c@proxy:1080", "socks5://<hidden>@proxy:1080"),  # the last @ ends it
        ("http://u:p@proxy/r?next=https://x", "http://<hidden>@proxy/r?next=https://x"),
        ("http://proxy:3128/a@b", "http://proxy:3128/a@b"),  # an @ in the path is no userinfo
        ("localhost,127.0.0.1", "localhost,127.0.0.1"),
        (["http://u:p@p:1/", "plain"], ["http://<hidden>@p:1/", "plain"]),
        ({"deeper": ["http://u:p@p:1"]}, {"deeper": ["http://<hidden>@p:1"]}),
        (7, 7),
        (None, None),
    ],
)
def test_masked_hides_the_userinfo_of_proxy_urls(proxy: object, shown: object) -> None:
    masked = dockerconfig.masked({"proxies": {"default": {"httpProxy": proxy}}})
    assert masked == {"proxies": {"default": {"httpProxy": shown}}}


def test_credential_helper_asks_as_docker_unless_told() -> None:
    """docker, the caller that does not say, honours credsStore."""
    assert dockerconfig.credential_helper(CONFIG, "quay.io") == "desktop"


@pytest.mark.parametrize(
    ("registries", "keys"),
    [
        ([], []),
        (["ghcr.io", "ghcr.io"], ["ghcr.io"]),
        (["https://index.docker.io/v1/"], ["https://index.docker.io/v1/", "docker.io"]),
        (["https://index.docker.io/v1/refresh-token", "ghcr.io"], ["ghcr.io"]),
        (["GHCR.io", "quay.io"], ["quay.io"]),  # not a docker key: no entry docker would read
    ],
)
def test_helper_keys_table(registries: list[str], keys: list[str]) -> None:
    assert dockerconfig.helper_keys(registries) == keys
