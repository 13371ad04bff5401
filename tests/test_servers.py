"""Server-name matching: docker's keys, Docker Hub's aliases, look-alikes, and ECR hosts."""

from __future__ import annotations

import pytest

from docker_credential_codespaces.servers import docker_key, redacted, store_key

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
    ],
)
def test_redacted_masks_userinfo_query_and_fragment(url: str, shown: str) -> None:
    """The one masking of a URL for messages and files (server names and AWS endpoints)."""
    assert redacted(url) == shown
