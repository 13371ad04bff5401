"""The fallback store: the credsStore the user had before `configure`, asked as a subprocess.

A user of Docker Desktop, pass or secretservice keeps their logins there. Rather than copy
secrets out of it, the helper chains to it: logins (`store`, `erase`, `list`, and a `get`
that no secret answers) go to `docker-credential-<name>` over the same protocol. Every call
is bounded in time, so a helper that waits for a passphrase cannot hang docker.
"""

from __future__ import annotations

from .constants import ERR_NOT_FOUND, FALLBACK_TIMEOUT, HELPER_NAME, HELPER_PROGRAM_PREFIX, PROGRAM
from .wire import Credential, Entry, HelperError, Source

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def valid_name(name: str) -> bool:
    """A credsStore name that can only ever make `docker-credential-<name>`, and not ours."""
    return bool(name) and _NAME_CHARS.issuperset(name) and name != HELPER_NAME


class FallbackStore(Source):
    """Another credential helper, spoken to exactly as docker would speak to it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.program = HELPER_PROGRAM_PREFIX + name
        self.description = f"fallback store {self.program}"

    def _run(self, verb: str, request: str | None) -> tuple[int, str]:
        import subprocess  # a heavy import: only when the fallback is really asked

        try:
            done = subprocess.run(
                [self.program, verb],
                input=request.encode("utf-8") if request is not None else None,
                stdin=subprocess.DEVNULL if request is None else None,
                capture_output=True,
                timeout=FALLBACK_TIMEOUT,
                check=False,
            )
        except FileNotFoundError:
            raise HelperError(
                f"the fallback store {self.program} is not on PATH; install it, or run "
                f"`{PROGRAM} unconfigure`"
            ) from None
        except subprocess.TimeoutExpired:
            raise HelperError(
                f"the fallback store {self.program} did not answer within {FALLBACK_TIMEOUT:g} s"
            ) from None
        except OSError as error:
            message = f"cannot run the fallback store {self.program}: {error.strerror}"
            raise HelperError(message) from None
        return done.returncode, done.stdout.decode("utf-8", "replace").strip()

    def _failed(self, verb: str, output: str) -> HelperError:
        line = output.splitlines()[0][:200] if output else "no output"
        return HelperError(f"the fallback store {self.program} failed to {verb}: {line}")

    def get(self, server_url: str) -> Credential | None:
        code, output = self._run("get", server_url)
        if code != 0:
            if output == ERR_NOT_FOUND:
                return None
            raise self._failed("get", output)
        import json

        try:
            answer = json.loads(output)
            username, secret = answer["Username"], answer["Secret"]
        except (ValueError, TypeError, KeyError):
            raise HelperError(
                f"the fallback store {self.program} answered get with no JSON"
            ) from None
        if not isinstance(username, str) or not isinstance(secret, str):
            raise HelperError(f"the fallback store {self.program} answered get oddly")
        if not username and not secret:
            # docker-credential-pass answers every server it does not hold so, with exit 0;
            # docker takes it as no login, and the sources after this one must still answer.
            return None
        return Credential(username, secret)

    def add(self, server_url: str, username: str, secret: str) -> None:
        import json

        request = json.dumps({"ServerURL": server_url, "Username": username, "Secret": secret})
        code, output = self._run("store", request)
        if code != 0:
            raise self._failed("store", output)

    def delete(self, server_url: str) -> None:
        code, output = self._run("erase", server_url)
        if code != 0 and output != ERR_NOT_FOUND:
            raise self._failed("erase", output)

    def entries(self) -> list[Entry]:
        code, output = self._run("list", None)
        if code != 0:
            raise self._failed("list", output)
        import json

        try:
            entries = json.loads(output or "{}")
        except ValueError:
            entries = None
        if not isinstance(entries, dict):
            raise HelperError(
                f"the fallback store {self.program} answered list with no JSON object"
            )
        return [
            Entry(key, username, self, self.description)
            for key, username in sorted(entries.items())
            if isinstance(key, str) and isinstance(username, str)
        ]
