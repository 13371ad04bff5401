"""What kind of AWS credential a secret triple holds, decided here and nowhere else.

For an ECR registry, USER `AWS` means PASSWORD is a registry token fetched earlier; any other
USER is an AWS access key id and PASSWORD its secret key, exchanged for a token. For every
other host, a USER that is an access key id makes the triple unusable: answered as a plain
password, its secret key would go to whatever a mistyped SERVER names.

AWS values never hold white space, while a secret pasted into a form easily gains a trailing
newline or space, so an ECR triple's USER and PASSWORD are trimmed here (and only here) before
they are used; a key id with white space around it is still a key id. Everything else is
answered exactly as written, as docker keeps white space in secrets.
"""

from __future__ import annotations

from ..constants import AWS_KEY_ID_LENGTH, AWS_KEY_ID_PREFIXES, ECR_TOKEN_USERNAME

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only type checkers need it
if TYPE_CHECKING:
    from .hosts import EcrRegistry

ACCESS_KEY = "access key"
TOKEN = "token"


class AwsIdentity:
    """The AWS credential of one ECR triple: its kind and trimmed values. Its repr hides them."""

    __slots__ = ("key_id", "kind", "secret")

    def __init__(self, kind: str, key_id: str, secret: str) -> None:
        self.kind = kind
        self.key_id = key_id  # the access key id; "" for a ready token
        self.secret = secret  # the secret access key, or the ready token

    def __repr__(self) -> str:
        return f"AwsIdentity(kind={self.kind!r})"


def aws_value(text: str) -> str:
    """A USER or PASSWORD as AWS reads it: without the white space a paste may add."""
    return text.strip()


def is_access_key_id(text: str) -> bool:
    """Whether a value is an AWS access key id, AKIA (long-term) or ASIA (temporary) + 16."""
    key_id = aws_value(text)
    return (
        len(key_id) == AWS_KEY_ID_LENGTH
        and key_id.startswith(AWS_KEY_ID_PREFIXES)
        and key_id.isascii()
        and key_id.isalnum()
        and key_id == key_id.upper()
    )


def identity(user: str, password: str, registry: EcrRegistry | None) -> AwsIdentity | None:
    """The AWS credential a triple holds for its registry; None for plain credentials."""
    if registry is None:
        return None
    user, password = aws_value(user), aws_value(password)
    if user == ECR_TOKEN_USERNAME:
        return AwsIdentity(TOKEN, "", password)
    return AwsIdentity(ACCESS_KEY, user, password)


def misplaced_key(user: str, registry: EcrRegistry | None) -> bool:
    """Whether a triple holds an AWS access key for a host that is not ECR: never answered."""
    return registry is None and is_access_key_id(user)
