"""Server-name matching: docker's keys, Docker Hub's aliases, look-alikes, and ECR hosts."""

from __future__ import annotations

import pytest

from docker_credential_codespaces.servers import (
    api_host,
    containers_key,
    docker_key,
    host_part,
    hub_sign_in,
    redacted,
    split_server,
    store_key,
)

HUB = "https://index.docker.io/v1/"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("ghcr.io", "ghcr.io"),
        ("GHCR.IO", "ghcr.io"),
        ("https://ghcr.io", "ghcr.io"),
        ("HTTPS://ghcr.io/", "ghcr.io"),
        ("http://ghcr.io", "ghcr.io"),
        ("ghcr.io/octo/app", "ghcr.io"),
        ("https://ghcr.io/v2/octo/app/manifests/latest", "ghcr.io"),
        ("localhost:5000", "localhost:5000"),
        ("localhost", "localhost"),
        ("localhost:05000", "localhost:5000"),
        ("127.0.0.1:5000/ns/repo", "127.0.0.1:5000"),
        ("[::1]:5000", "[::1]:5000"),
        ("mycompany.azurecr.io", "mycompany.azurecr.io"),
        ("  ghcr.io\n", "ghcr.io"),
        ("https://index.docker.io/v1/", HUB),
        ("docker.io", HUB),
        ("index.docker.io", HUB),
        ("registry-1.docker.io", HUB),
        ("index.docker.io/library/alpine", HUB),
        ("https://registry-1.docker.io/v2/", HUB),
        ("http://docker.io", HUB),
        ("docker.io:443", "docker.io:443"),
    ],
)
def test_docker_key(name: str, key: str) -> None:
    assert docker_key(name) == key


@pytest.mark.parametrize(
    "name",
    [
        "https://index.docker.io/v1/access-token",
        "https://index.docker.io/v1/refresh-token",
        "https://index.docker.io/v1/refresh-token/",
        "index.docker.io/v1/access-token",
        "docker.io/v1/access-token",
        "http://registry-1.docker.io/v1/refresh-token//",
    ],
)
def test_hub_oauth_keys_are_never_hub(name: str) -> None:
    assert docker_key(name) is None
    assert store_key(name) in (
        "https://index.docker.io/v1/access-token",
        "https://index.docker.io/v1/refresh-token",
    )


# Names that must never be answered with the credentials of mycompany.azurecr.io.
LOOKALIKES = [
    "mycompany.azurecr.io.evil.example",
    "evil.example/mycompany.azurecr.io",
    "mycompany.azurecr.io@evil.example",
    "https://mycompany.azurecr.io@evil.example",
    "https://user:pw@mycompany.azurecr.io",
    "evilmycompany.azurecr.io",
    "mycompany.azurecr.io.",
    ".mycompany.azurecr.io",
    "mycompany..azurecr.io",
    "mycompany.azurecr.io?x=1",
    "mycompany.azurecr.io#frag",
    "mycompany.azurecr.io\\evil.example",
    "evil.example\\mycompany.azurecr.io",
    "mycompany%2eazurecr.io",
    "mycompany.azurecr.io%2f.evil.example",
    "mycompany.azurecr.\u0456o",  # Cyrillic i
    "xn--mycompany-azurecr-io",
    "mycompany.azurecr.io:80",
    "mycompany.azurecr.io:",
    "mycompany.azurecr.io:0",
    "mycompany.azurecr.io:99999",
    "mycompany.azurecr.io:5000x",
    "ftp://mycompany.azurecr.io",
    "file:///mycompany.azurecr.io",
    "mycompany.azurecr.io evil.example",
    "mycompany.azurecr.io\x00",
    "https://evil.example/https://mycompany.azurecr.io",
]


@pytest.mark.parametrize("name", LOOKALIKES)
def test_lookalikes_never_match(name: str) -> None:
    assert docker_key(name) != "mycompany.azurecr.io"


# The rule's edges, each on both sides: what a mutation of a bound or a condition would let
# through, or refuse, is named here (docs/testing.md, mutation testing).
@pytest.mark.parametrize(
    ("name", "key"),
    [
        # ports: 1 to 65535, at most five digits (leading zeros dropped)
        ("r.example:1", "r.example:1"),
        ("r.example:65535", "r.example:65535"),
        ("r.example:00001", "r.example:1"),
        ("r.example:0", None),
        ("r.example:65536", None),
        ("r.example:000001", None),
        ("r.example:", None),
        ("r.example:5x", None),
        # a name of at most 253 characters, labels of at most 63
        ("a" * 63 + ".example", "a" * 63 + ".example"),
        ("a" * 64 + ".example", None),
        (".".join(["a" * 49] * 5) + ".abc", ".".join(["a" * 49] * 5) + ".abc"),  # 253
        (".".join(["a" * 49] * 5) + ".abcd", None),  # 254
        ("-a.example", None),
        ("a-.example", None),
        ("a-b.example", "a-b.example"),
        ("a!b.example", None),
        # IPv6 in brackets: lower-cased, two colons or more, hex digits only
        ("[::1]", "[::1]"),
        ("[::]:5000", "[::]:5000"),
        ("[::ABC]:5000", "[::abc]:5000"),
        ("[]", None),
        ("[1]", None),
        ("[:1]", None),
        ("[g::1]", None),
        ("[::1g]", None),
        ("[::1", None),
        ("[::1]5000", None),
        # only the first `://` is the scheme's; the rest is path
        ("https://ghcr.io/x://y", "ghcr.io"),
        # white space and non-ASCII are refused anywhere, the path included
        ("ghcr.io/a b", None),
        ("ghcr.io/\u00e9", None),
        ("ghcr.io/\x7f", None),
        ("", None),
        # a Hub path that only starts like the OAuth keys is the Hub
        ("https://index.docker.io/v1/access-tokenX", HUB),
    ],
)
def test_the_rule_at_its_edges(name: str, key: str | None) -> None:
    assert docker_key(name) == key
    assert (split_server(name) is None) is (key is None)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("docker.io", HUB),
        ("ghcr.io/x", "ghcr.io"),
        ("https://index.docker.io/v1/access-token", HUB + "access-token"),
        ("docker.io/v1/refresh-token/", HUB + "refresh-token"),
        ("no spaces.example", None),
    ],
)
def test_store_key(name: str, key: str | None) -> None:
    assert store_key(name) == key


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("ghcr.io", "'ghcr.io'"),
        ("  ghcr.io \n", "'ghcr.io'"),
        ("https://robot:CANARY-pw@reg.example/x", "'***@reg.example/x'"),
        ("a@b@reg.example", "'***@reg.example'"),
        ("x" * 100, repr("x" * 100)),
        ("x" * 101, repr("x" * 100 + "...")),
        ("o'neil", repr("o'neil")),
    ],
)
def test_redacted_hides_userinfo_and_keeps_a_line_short(url: str, shown: str) -> None:
    assert redacted(url) == shown
    assert "CANARY" not in redacted(url)


@pytest.mark.parametrize(
    ("key", "sign_in"),
    [
        (HUB + "access-token", True),
        (HUB + "refresh-token", True),
        ("https://docker.io/v1/refresh-token/", True),
        (HUB, False),
        ("ghcr.io/v1/access-token", False),
        ("not a name", False),
    ],
)
def test_hub_sign_in(key: str, sign_in: bool) -> None:
    assert hub_sign_in(key) is sign_in


@pytest.mark.parametrize(
    ("key", "host", "api", "containers"),
    [
        (HUB, "docker.io", "registry-1.docker.io", "docker.io"),
        ("ghcr.io", "ghcr.io", "ghcr.io", "ghcr.io"),
        ("localhost:5000", "localhost", "localhost:5000", "localhost:5000"),
        ("[::1]:5000", "[::1]", "[::1]:5000", "[::1]:5000"),
    ],
)
def test_the_hubs_other_names(key: str, host: str, api: str, containers: str) -> None:
    """What a SERVER naming the key must contain, where its API answers, and containers/image's
    key for it: the Hub differs in each, every other registry is itself."""
    assert host_part(key) == host
    assert api_host(key) == api
    assert containers_key(key) == containers


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://ecr.example", "'https://ecr.example'"),
        ("user:pw@evil.example", "'***@evil.example'"),
        ("https://u:pw@proxy.example/p", "'***@proxy.example/p'"),
        ("https://proxy.example/?X-Api-Key=k", "'https://proxy.example/?***'"),
        ("https://proxy.example/#k", "'https://proxy.example/#***'"),
        ("https://u:p?w#d@proxy.example/?k=v#f", "'***@proxy.example/?***'"),
        ("https://proxy.example/?to=a@b", "'***@b'"),  # over-masked, never under
        ("host?k=" + "x" * 200, "'host?***'"),
        # the first mark cuts, never a later one; a mark at the very start cuts too
        ("https://proxy.example/?a=k?b", "'https://proxy.example/?***'"),
        ("https://proxy.example/#k#f", "'https://proxy.example/#***'"),
        ("?X-Api-Key=k", "'?***'"),
        ("#k", "'#***'"),
    ],
)
def test_redacted_masks_userinfo_query_and_fragment(url: str, shown: str) -> None:
    """The one masking of a URL for messages and files (server names and AWS endpoints)."""
    assert redacted(url) == shown
