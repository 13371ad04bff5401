"""The values the tests share: the AWS keys FakeECR knows, the ECR hosts, the registry users,
the canaries, docker's words for not found, and the few documents built from them.

One place, so that a key, a host or a canary means the same value in every file, and the
fixtures of `tests/conftest.py` (FakeECR, the ECR environment, the registries) and the tests
that check their answers agree without repeating it.

Every canary holds the word `CANARY`: a test may look for the value it put in, or for the
word in an output where no secret of any kind may appear (`assert_no_canary`).
"""

from __future__ import annotations

import base64
import json
import secrets

#: docker's not-found answer, the whole line as the helper writes it on stdout.
NOT_FOUND = b"credentials not found in native keychain\n"
#: Docker Hub's key, as docker sends it.
HUB = "https://index.docker.io/v1/"

#: An access key id and its secret key (AWS's documented example ids), and a second pair;
#: FakeECR (the `fake` fixture) checks signatures against the secret keys.
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "CANARY-aws-secret-0001-wJalrXUtnFEMI"
KEY_ID_2 = "AKIAI44QH8DHBEXAMPLE"
SECRET_KEY_2 = "CANARY-aws-secret-0002-je7MtGbClwBF"
#: A temporary key (ASIA...), which AWS takes only with its session token.
TEMP_KEY_ID = "ASIAIOSFODNN7EXAMPLE"
TEMP_SECRET = "CANARY-temp-secret-0002"
SESSION_TOKEN = "CANARY-session-token-0003"
#: Every key the `fake` fixture's FakeECR knows, and the session token it pins.
AWS_KEYS = {KEY_ID: SECRET_KEY, KEY_ID_2: SECRET_KEY_2, TEMP_KEY_ID: TEMP_SECRET}
SESSION_TOKENS = {TEMP_KEY_ID: SESSION_TOKEN}

#: The ECR registry of the `ecr_env` fixture's secret, and its region.
ECR_REGION = "eu-west-1"
ECR_HOST = f"123456789012.dkr.ecr.{ECR_REGION}.amazonaws.com"
#: Another account's registry in another region, for a second ECR secret.
OTHER_ECR_HOST = "210987654321.dkr.ecr.us-west-2.amazonaws.com"
#: An ECR registry whose secret holds a token (USER=AWS) rather than a key.
TOKEN_HOST = "210987654321.dkr.ecr.us-east-2.amazonaws.com"

#: The canary of the tests that need one secret that must never be shown (doctor's). Its
#: length is 2 modulo 3, so that its base64 ends in "=" and its base64 with two more
#: characters in "==" (test_doctor_hints cuts a secrets-file line at its padding).
CANARY = "CANARY-7e3a5b1c-42d9"
#: The users of the registries the `registry` and `registries` fixtures start, and their
#: passwords: canaries, random per run, so that a leak found can never be a coincidence.
REGISTRY_USER = "bed-user"
REGISTRY_PASSWORD = "CANARY-registry-" + secrets.token_hex(8)
LOGIN_USER = "login-user"
LOGIN_PASSWORD = "CANARY-login-" + secrets.token_hex(8)


def assert_no_canary(*outputs: bytes) -> None:
    """No canary of any kind in any of `outputs`: none holds the word."""
    for output in outputs:
        assert b"CANARY" not in output, output


def token_of(document: object) -> str:
    """A registry token as ECR issues one, from its document: base64 of the JSON."""
    return base64.b64encode(json.dumps(document).encode()).decode()


def aws_token(expiration: float) -> str:
    """A well-formed ECR registry token (a USER=AWS password) that expires at `expiration`."""
    return token_of(
        {"payload": CANARY, "datakey": "d", "version": "2", "expiration": int(expiration)}
    )


def basic_auth(user: str, password: str) -> str:
    """The `auth` of a config.json entry: base64 of `user:password`."""
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def store_body(server: str, user: str = "u", secret: str = "p") -> bytes:  # noqa: S107
    """A `store` request, as docker writes it on the helper's stdin."""
    return json.dumps({"ServerURL": server, "Username": user, "Secret": secret}).encode()
