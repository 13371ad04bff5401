"""Server-name matching: every name a client sends is reduced to docker's key before comparing.

Everything the helper knows of Docker Hub's many names is here too: its key, its aliases, its
sign-in bookkeeping, the host its API answers on, and the key containers/image uses for it.

Credentials go to a registry only when the request names exactly the same host and port as the
secret, so anything that is not a plain `[scheme://]host[:port][/path]` is refused outright
rather than guessed at: userinfo, query, fragment, backslashes, percent-encoding, non-ASCII
(IDN look-alikes), empty or dotted-out labels. String operations only: this runs on every
`get`, and importing `re` or `urllib.parse` would cost more than the whole lookup.
"""

from __future__ import annotations

from .constants import (
    CONTAINERS_HUB_KEY,
    DOCKER_HUB_API_HOST,
    DOCKER_HUB_DOMAIN,
    DOCKER_HUB_HOSTS,
    DOCKER_HUB_KEY,
    DOCKER_HUB_OAUTH_PATHS,
)

_SCHEMES = ("http", "https")
_REFUSED_CHARS = frozenset("@?#\\%")
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_IPV6_CHARS = frozenset("0123456789abcdef:.")
_DIGITS = frozenset("0123456789")


def split_server(url: str) -> tuple[str, str] | None:
    """Split a server name into (`host[:port]` with the host lower-cased, path), or None.

    None means the name is not one a registry client would send, and it matches nothing.
    """
    text = url.strip()
    if not text or not text.isascii() or not text.isprintable() or " " in text:
        return None
    if _REFUSED_CHARS.intersection(text):
        return None
    scheme, sep, rest = text.partition("://")
    if sep:
        if scheme.lower() not in _SCHEMES:
            return None
    else:
        rest = text
    hostport, slash, path = rest.partition("/")
    normal = _normal_hostport(hostport)
    if normal is None:
        return None
    return normal, slash + path


def _normal_hostport(hostport: str) -> str | None:
    """Validate `host[:port]`, lower-case the host and drop leading zeros from the port."""
    if hostport.startswith("["):
        address, closed, rest = hostport[1:].partition("]")
        address = address.lower()
        # Every IPv6 address has two colons or more (`::`, the shortest, has just two).
        if not closed or address.count(":") < 2 or not _IPV6_CHARS.issuperset(address):
            return None
        host = f"[{address}]"
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:] if rest else None
    else:
        host, colon, port_text = hostport.partition(":")
        host = host.lower()
        port = port_text if colon else None
        if not _valid_hostname(host):
            return None
    if port is None:
        return host
    if not port or not _DIGITS.issuperset(port) or len(port) > 5 or not 0 < int(port) < 65536:
        return None
    return f"{host}:{int(port)}"


def _valid_hostname(host: str) -> bool:
    """A DNS name or IPv4 address: non-empty labels of letters, digits, '-' and '_'."""
    if not host or len(host) > 253:
        return False
    for label in host.split("."):
        if not label or len(label) > 63 or not _LABEL_CHARS.issuperset(label):
            return False
        if label[0] == "-" or label[-1] == "-":
            return False
    return True


def redacted(url: str) -> str:
    """A URL as it may be shown or stored: userinfo, query and fragment masked, and short.

    The one masking for every URL the helper names, a server name docker sent or an AWS
    endpoint from the environment: a refused `https://user:token@host` must not repeat the
    token to the terminal, and an endpoint such as `https://proxy.example/?X-Api-Key=...`
    carries a key in its query. Everything up to the last `@` goes first (a `?` or `#` in a
    password must not cut it short), then everything after the first `?` or `#`.
    """
    text = url.strip()
    if "@" in text:
        text = "***" + text[text.rindex("@") :]
    marks = [index for index in (text.find("?"), text.find("#")) if index >= 0]
    if marks:
        text = text[: min(marks) + 1] + "***"
    return repr(text if len(text) <= 100 else text[:100] + "...")


def _is_hub(hostport: str) -> bool:
    return hostport in DOCKER_HUB_HOSTS


def _oauth_path(path: str) -> str | None:
    """The Hub OAuth bookkeeping path a request's path names (trailing slashes aside)."""
    trimmed = path.rstrip("/")
    return trimmed if trimmed in DOCKER_HUB_OAUTH_PATHS else None


def docker_key(url: str) -> str | None:
    """Docker's key for the registry a request names: the bare `host[:port]`, or the Hub URL.

    The Hub's OAuth bookkeeping keys are never Hub credentials, so they have no registry key.
    """
    parts = split_server(url)
    if parts is None:
        return None
    hostport, path = parts
    if _is_hub(hostport):
        return None if _oauth_path(path) is not None else DOCKER_HUB_KEY
    return hostport


def store_key(url: str) -> str | None:
    """The key a stored login lives under: docker's key, or the exact Hub OAuth key.

    Docker CLI 27+ stores its OAuth tokens under the Hub OAuth keys; they are kept apart from
    the Hub's own credentials so that a `get` for the Hub never returns one of them.
    """
    parts = split_server(url)
    if parts is None:
        return None
    hostport, path = parts
    if _is_hub(hostport):
        oauth = _oauth_path(path)
        return DOCKER_HUB_KEY if oauth is None else DOCKER_HUB_KEY + oauth[len("/v1/") :]
    return hostport


def hub_sign_in(key: str) -> bool:
    """Whether a stored key is Docker Hub's sign-in bookkeeping (docker CLI 27+ OAuth): not a
    registry, never answered for the Hub, never checked."""
    parts = split_server(key)
    return parts is not None and _is_hub(parts[0]) and _oauth_path(parts[1]) is not None


def host_part(key: str) -> str:
    """What any name of the registry `key` must contain, lower-cased: its host, or the Hub's
    domain, which every alias of the Hub contains."""
    if key == DOCKER_HUB_KEY:
        return DOCKER_HUB_DOMAIN
    if key.startswith("["):
        return key[: key.index("]") + 1]
    return key.partition(":")[0]


def api_host(key: str) -> str:
    """The `host[:port]` whose /v2/ a registry's API answers on."""
    return DOCKER_HUB_API_HOST if key == DOCKER_HUB_KEY else key


def containers_key(key: str) -> str:
    """The key containers/image (skopeo, podman, buildah) uses for a registry: docker's,
    but `docker.io` for the Hub."""
    return CONTAINERS_HUB_KEY if key == DOCKER_HUB_KEY else key
