"""The wire protocol docker speaks to credential helpers: argv, stdin, stdout, exit code.

It knows nothing of where credentials come from: it reads the request, calls the Helper, and
prints the answer or the error's exact text, which the errors below carry, so callers never
compare strings. `serve` takes its streams as arguments so tests
can drive it in-process with bytes.
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


TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from typing import BinaryIO, TextIO


class Helper:
    """What the protocol serves: docker-credential-helpers' four verbs.

    `get` raises CredentialsNotFound for a registry nobody knows, and every failure is a
    HelperError whose text is the line docker shows. It differs from resolve.Source, whose
    `get` answers None and whose `add`/`delete` say whether they took the request, because a
    chain needs to know when to ask the next source and the wire does not. A plain class, not
    a typing.Protocol: typing is not imported on docker's hot path, and subclasses are checked
    all the same.
    """

    def get(self, server_url: str) -> tuple[str, str]:
        raise NotImplementedError

    def add(self, server_url: str, username: str, secret: str) -> None:
        raise NotImplementedError

    def delete(self, server_url: str) -> None:
        raise NotImplementedError

    def list(self) -> dict[str, str]:
        raise NotImplementedError


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


def get(helper: Helper, stdin: BinaryIO, stdout: TextIO) -> None:
    """Print the credentials, echoing the ServerURL exactly as it was received."""
    server_url = read_server_url(stdin)
    username, secret = helper.get(server_url)
    stdout.write(
        f'{{"ServerURL":{json_string(server_url)},"Username":{json_string(username)},'
        f'"Secret":{json_string(secret)}}}\n'
    )


def store(helper: Helper, stdin: BinaryIO) -> None:
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
    if not fields["ServerURL"].strip():
        raise HelperError(ERR_NO_SERVER_URL)
    if not fields["Username"]:
        raise HelperError(ERR_NO_USERNAME)
    helper.add(fields["ServerURL"].strip(), fields["Username"], fields["Secret"])


def erase(helper: Helper, stdin: BinaryIO) -> None:
    """Forget the credentials for the server URL on stdin."""
    helper.delete(read_server_url(stdin))


def list_(helper: Helper, stdout: TextIO) -> None:
    """Print key -> username; `{}` when empty, since docker-py fails on `null`. No stdin."""
    entries = helper.list()
    body = ",".join(f"{json_string(k)}:{json_string(v)}" for k, v in sorted(entries.items()))
    stdout.write(f"{{{body}}}\n")


def serve(helper: Helper, argv: list[str], stdin: BinaryIO, stdout: TextIO) -> int:
    """Run one request; every error is one line on stdout and exit code 1, as docker expects."""
    try:
        if len(argv) != 2:
            raise HelperError(USAGE)
        action = argv[1]
        if action == "get":
            get(helper, stdin, stdout)
        elif action == "store":
            store(helper, stdin)
        elif action == "erase":
            erase(helper, stdin)
        elif action == "list":
            list_(helper, stdout)
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
