"""Stand-ins for the seams of a registry's token (ecr/answer.RegistryToken), for the in-process
tests of its state machine and its deadlines: the test key's identity, an exchange that answers
from a list, and the instant the rows are written at.

Nothing of boto3 or botocore is faked: the exchange is a plain callable in its place.
"""

from __future__ import annotations

from typing import Union

from beds.values import ECR_HOST, KEY_ID, SECRET_KEY
from docker_credential_codespaces import ecr
from docker_credential_codespaces.constants import SECRET_AWS_PROFILE
from docker_credential_codespaces.ecr.token import Token
from docker_credential_codespaces.wire import HelperError

#: The registry of the test key's triple.
REGISTRY = ecr.registry(ECR_HOST)
assert REGISTRY is not None
#: The instant the rows are written at (the clock given to RegistryToken).
NOW = 1_800_000_000.0


def identity(
    secret_key: str = SECRET_KEY, prefix: str = "ECR", **companions: str
) -> ecr.AwsIdentity:
    """The triple's identity: the test key, or, with a profile among the companions (by
    suffix), no key and that profile."""
    key_id = "" if SECRET_AWS_PROFILE in companions else KEY_ID
    secret = "" if SECRET_AWS_PROFILE in companions else secret_key
    found = ecr.identity(prefix, key_id, secret, REGISTRY, lambda s: companions.get(s, ""))
    assert found is not None
    return found


Answer = Union[Token, HelperError]


class Exchange:
    """The exchange's place, taken by a plain callable: it counts its calls (with each one's
    budget) and answers each with the next of `answers`, the last one again once they run out."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, ecr.AwsIdentity, float]] = []

    def __call__(self, registry: ecr.EcrRegistry, who: ecr.AwsIdentity, budget: float) -> Token:
        self.calls.append((registry.host, who, budget))
        if not self.answers:
            raise AssertionError("the exchange was called, and no row expected it")
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, HelperError):
            raise answer
        return answer

    @property
    def budgets(self) -> list[float]:
        """The budget each call was given."""
        return [budget for _, _, budget in self.calls]
