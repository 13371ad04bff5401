"""The one protocol: what a source of credentials offers, and how docker speaks to one.

A `Source` offers docker-credential-helpers' four verbs (get, add, delete, and list through
`entries`), and `serve` speaks the wire protocol (argv, stdin, stdout, exit code) over any
source: one store, or the chain of them (the `chain` module), which is itself a source.
Errors carry the exact text docker shows, so callers never compare strings. `serve` takes
its streams as arguments so tests can drive it in-process with bytes.
"""

from __future__ import annotations

from . import __version__
from .constants import (
    ERR_NO_SERVER_URL,
    ERR_NO_USERNAME,
    ERR_NOT_FOUND,
    PACKAGE,
    PROGRAM,
    STDIN_CAP,
    USAGE,
)
from .log import warn
from .servers import redacted

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from typing import BinaryIO, TextIO


class HelperError(Exception):
    """A failure whose message is the one line printed on stdout before exiting 1.

    The message must never contain a secret: it is shown to the user by every client.
    """


class CredentialsNotFound(HelperError):
    """No source knows the registry; docker then goes on anonymously."""

    def __init__(self) -> None:
        super().__init__(ERR_NOT_FOUND)


class Declined(Exception):
    """A source's word that a request to store or forget is not its own to take.

    Not a HelperError: nothing went wrong, and a chain asks the next source. A source that
    takes a request returns; one that fails raises HelperError.
    """


class Credential:
    """What a source answers for a registry: the login, and when it stops working.

    `expires` says whether it expires at all (an ECR token does; nothing else the helper
    answers does), and `expires_at` when, or None when that cannot be told. Carrying the
    expiry with the answer spares `export` and `doctor` a second trip for it. Its repr hides
    the secret.
    """

    __slots__ = ("expires", "expires_at", "secret", "username")

    def __init__(
        self, username: str, secret: str, expires_at: float | None = None, expires: bool = False
    ) -> None:
        self.username = username
        self.secret = secret
        self.expires_at = expires_at
        self.expires = expires or expires_at is not None

    def __repr__(self) -> str:
        return f"Credential(username={self.username!r}, expires_at={self.expires_at!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credential):
            return NotImplemented
        return (self.username, self.secret, self.expires_at, self.expires) == (
            other.username,
            other.secret,
            other.expires_at,
            other.expires,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value


class Entry:
    """One registry a source knows, without its secret: what `list`, `doctor`, `configure`
    and `export --all` read.

    `key` is docker's key (or a stored key that names no registry, such as Docker Hub's
    OAuth bookkeeping); `where` says which source, as a person reads it; `variable` names
    the variable that holds its password, when one does: the secret to fix.
    """

    __slots__ = ("key", "source", "username", "variable", "where")

    def __init__(
        self, key: str, username: str, source: Source, where: str, variable: str | None = None
    ) -> None:
        self.key = key
        self.username = username
        self.source = source
        self.where = where
        self.variable = variable

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key={self.key!r}, where={self.where!r})"


class Source:
    """One place credentials come from: the secrets, the logins, the codespace token, or a
    chain of sources. Subclasses override what they can do.

    `get` answers None for a registry unknown here. `add` and `delete` raise Declined by
    default: a source that stores no logins leaves them to the next one, and never stops a
    chain. `entries` may raise HelperError when the source cannot say what it holds; `list`,
    which docker needs always, never fails. A plain class, not a typing.Protocol: typing is
    not imported on docker's hot path, and subclasses are checked all the same.
    """

    description = "source"

    def get(self, server_url: str) -> Credential | None:
        """The credentials for the registry a request names, or None if unknown here."""
        raise NotImplementedError

    def add(self, server_url: str, username: str, secret: str) -> None:
        """Store a login; Declined leaves it to the next source."""
        raise Declined

    def delete(self, server_url: str) -> None:
        """Forget a login; Declined when there is nothing of it here to forget."""
        raise Declined

    def entries(self) -> list[Entry]:
        """Every registry this source knows; HelperError when it cannot be read."""
        return []

    def list(self) -> dict[str, str]:
        """Key to username for `list`, which must always answer: a source that cannot be
        read is said on stderr, naming the file or helper to fix, and docker goes on."""
        try:
            return {entry.key: entry.username for entry in self.entries()}
        except HelperError as error:
            warn(str(error))
            return {}


HELP = f"""{USAGE}

Docker runs this helper; the request comes on stdin and the answer goes to stdout.
  get      print the credentials for the server URL on stdin
  store    store {{"ServerURL","Username","Secret"}} from stdin (no-op for secret-covered hosts)
  erase    forget the server URL on stdin
  list     print registry -> username for every registry known (no secrets)
  version  print the version

Commands for people (each has --help):
  {PROGRAM} configure     make this helper docker's credsStore and credHelpers
  {PROGRAM} unconfigure   put config.json back as it was
  {PROGRAM} doctor        what the helper knows and what is wrong; --check logs in
  {PROGRAM} warm          fetch fresh ECR tokens now, so that no pull waits for AWS
  {PROGRAM} export        print the credentials as one document, for tools that run no helper
"""


def json_string(text: str) -> str:
    """A JSON string literal, without importing json.

    Registry names, user names and tokens are nearly always printable ASCII with nothing to
    escape, and are quoted as they are; anything else goes to the C encoder.
    """
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    from _json import encode_basestring_ascii

    return encode_basestring_ascii(text)


def read_input(stdin: BinaryIO) -> str:
    """All of stdin as text, refusing more than STDIN_CAP bytes or bytes that are not UTF-8."""
    data = stdin.read(STDIN_CAP + 1)
    if len(data) > STDIN_CAP:
        raise HelperError(f"input is larger than {STDIN_CAP} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise HelperError("input is not valid UTF-8") from None


def read_server_url(stdin: BinaryIO) -> str:
    """The server URL of a get or erase request, trimmed as docker sends it with no newline."""
    server_url = read_input(stdin).strip()
    if not server_url:
        raise HelperError(ERR_NO_SERVER_URL)
    return server_url


def get(source: Source, stdin: BinaryIO, stdout: TextIO) -> None:
    """Print the credentials, echoing the ServerURL exactly as it was received."""
    server_url = read_server_url(stdin)
    found = source.get(server_url)
    if found is None:
        raise CredentialsNotFound
    stdout.write(
        f'{{"ServerURL":{json_string(server_url)},"Username":{json_string(found.username)},'
        f'"Secret":{json_string(found.secret)}}}\n'
    )


def store(source: Source, stdin: BinaryIO) -> None:
    """Store the credentials in the JSON request."""
    import json

    try:
        request = json.loads(read_input(stdin))
    except (ValueError, RecursionError):
        raise HelperError("invalid credentials: input is not valid JSON") from None
    if not isinstance(request, dict):
        raise HelperError("invalid credentials: expected a JSON object")
    fields = {}
    for field in ("ServerURL", "Username", "Secret"):
        value = request.get(field, "")
        if not isinstance(value, str):
            raise HelperError(f"invalid credentials: {field} must be a string")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, from a JSON "\ud800" escape
            raise HelperError(f"invalid credentials: {field} is not valid Unicode") from None
        fields[field] = value
    server_url = fields["ServerURL"].strip()
    if not server_url:
        raise HelperError(ERR_NO_SERVER_URL)
    if not fields["Username"]:
        raise HelperError(ERR_NO_USERNAME)
    try:
        source.add(server_url, fields["Username"], fields["Secret"])
    except Declined:
        raise HelperError(f"nothing can store a login for {redacted(server_url)}") from None


def erase(source: Source, stdin: BinaryIO) -> None:
    """Forget the credentials for the server URL on stdin; nothing to forget is success."""
    server_url = read_server_url(stdin)
    try:
        source.delete(server_url)
    except Declined:
        pass


def list_(source: Source, stdout: TextIO) -> None:
    """Print key -> username; `{}` when empty, since docker-py fails on `null`. No stdin."""
    entries = source.list()
    body = ",".join(f"{json_string(k)}:{json_string(v)}" for k, v in sorted(entries.items()))
    stdout.write(f"{{{body}}}\n")


def serve(source: Source, argv: list[str], stdin: BinaryIO, stdout: TextIO) -> int:
    """Run one request; every error is one line on stdout and exit code 1, as docker expects."""
    try:
        if len(argv) != 2:
            raise HelperError(USAGE)
        action = argv[1]
        if action == "get":
            get(source, stdin, stdout)
        elif action == "store":
            store(source, stdin)
        elif action == "erase":
            erase(source, stdin)
        elif action == "list":
            list_(source, stdout)
        elif action in ("version", "--version", "-v"):
            stdout.write(f"{PROGRAM} ({PACKAGE}) {__version__}\n")
        elif action in ("--help", "-h", "help"):
            stdout.write(HELP)
        else:
            raise HelperError(f"{PROGRAM}: unknown action: {action}")
    except HelperError as error:
        # One line, and ASCII: whatever encoding stdout has, the error must reach docker.
        line = " ".join(str(error).split())
        stdout.write(line.encode("ascii", "backslashreplace").decode("ascii") + "\n")
        return 1
    except Exception as error:  # docker must get one line, never a traceback
        # The type only: an exception's text could carry a value from the request.
        stdout.write(f"{PROGRAM}: internal error ({type(error).__name__})\n")
        return 1
    return 0
