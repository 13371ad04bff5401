"""The fallback store: the credsStore the user had before `configure`, asked as a subprocess.

A user of Docker Desktop, pass or secretservice keeps their logins there. Rather than copy
secrets out of it, the helper chains to it: logins (`store`, `erase`, `list`, and a `get`
that no secret answers) go to `docker-credential-<name>` over the same protocol. Every call
is bounded in time, so a helper that waits for a passphrase cannot hang docker.
"""

from __future__ import annotations

import os
import signal

from .constants import (
    ENV_FALLBACK_CALL,
    ERR_NOT_FOUND,
    FALLBACK_TIMEOUT,
    HELPER_NAME,
    HELPER_PROGRAM_PREFIX,
    PROGRAM,
)
from .log import debug
from .servers import store_key
from .wire import Credential, Entry, HelperError, Source

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from subprocess import Popen

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def valid_name(name: str) -> bool:
    """A credsStore name that can only ever make `docker-credential-<name>`, and not ours."""
    return bool(name) and _NAME_CHARS.issuperset(name) and name != HELPER_NAME


def _stop(process: Popen[bytes]) -> None:
    """Kill the fallback store's process group (its session: see FallbackStore._run) and reap
    its leader; the pipes are closed unread, as a child that escaped the group may hold them."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # the group is gone already
        pass
    process.wait()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


class FallbackStore(Source):
    """Another credential helper, spoken to exactly as docker would speak to it; each call
    stopped after `timeout` seconds (FALLBACK_TIMEOUT, shorter in tests)."""

    def __init__(self, name: str, timeout: float = FALLBACK_TIMEOUT) -> None:
        self.name = name
        self.program = HELPER_PROGRAM_PREFIX + name
        self.description = f"fallback store {self.program}"
        self.timeout = timeout

    def _run(self, verb: str, request: str | None) -> tuple[int, str]:
        """Run one verb of the fallback store, and stop it whole at the deadline.

        The child is told it is a fallback call (ENV_FALLBACK_CALL): a store that leads back
        to this helper, through a link or a wrapper, then answers from its own logins instead
        of running its fallback again, which forked without end. It runs in a session of its
        own, so that at the deadline its whole process group goes, with whatever it forked:
        killing the store alone left its children running, and holding its pipes. A session
        rather than only a group: a store that tries to prompt on the terminal then fails at
        once, where a background group would be stopped until the deadline.
        """
        import subprocess  # a heavy import: only when the fallback is really asked

        environment = dict(os.environ)
        environment[ENV_FALLBACK_CALL] = "1"
        try:
            process = subprocess.Popen(
                [self.program, verb],
                stdin=subprocess.DEVNULL if request is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=environment,
                start_new_session=True,
            )
        except FileNotFoundError:
            raise HelperError(
                f"the fallback store {self.program} is not on PATH; install it, or run "
                f"`{PROGRAM} unconfigure`"
            ) from None
        except OSError as error:
            message = f"cannot run the fallback store {self.program}: {error.strerror}"
            raise HelperError(message) from None
        data = request.encode("utf-8") if request is not None else None
        try:
            output, _ = process.communicate(data, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _stop(process)
            raise HelperError(
                f"the fallback store {self.program} did not answer within {self.timeout:g} s"
            ) from None
        except BaseException:  # Ctrl-C reaches this helper, not a store in its own session
            _stop(process)
            raise
        return process.returncode, output.decode("utf-8", "replace").strip()

    def _failed(self, verb: str, output: str) -> HelperError:
        line = output.splitlines()[0][:200] if output else "no output"
        return HelperError(f"the fallback store {self.program} failed to {verb}: {line}")

    def get(self, server_url: str) -> Credential | None:
        """The login under the name as given; failing that, under another spelling of the
        same registry that the store holds (podman keeps Docker Hub as `docker.io`, docker as
        its v1 URL). The name as given answers nearly always, in one process; only a miss
        asks the store's list."""
        found = self._get(server_url)
        if found is not None:
            return found
        key = store_key(server_url)
        if key is None:
            return None
        try:
            spellings = self._spellings(key)
        except HelperError as error:  # the name as given was not found, and a pull goes on
            debug(f"no other spelling of {key} looked for: {error}")
            return None
        for name in spellings:
            if name != server_url:
                found = self._get(name)
                if found is not None:
                    return found
        return None

    def _get(self, server_url: str) -> Credential | None:
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
        """Forget the login under the name as given and under every other spelling of the
        same registry that the store holds: `docker logout` must not leave podman's behind."""
        self._erase(server_url)
        key = store_key(server_url)
        if key is not None:
            for name in self._spellings(key):
                if name != server_url:
                    self._erase(name)

    def _erase(self, server_url: str) -> None:
        code, output = self._run("erase", server_url)
        if code != 0 and output != ERR_NOT_FOUND:
            raise self._failed("erase", output)

    def entries(self) -> list[Entry]:
        """What the store holds, under docker's keys (`servers.store_key`), as the local store
        keeps them: a client's spelling is not one docker, `export` or `doctor` would look up.
        Of two spellings of one registry, the one that is docker's key names the user; a name
        that has no key is shown as it is."""
        entries: dict[str, Entry] = {}
        for name, username in self._names():
            key = store_key(name) or name
            if key not in entries or name == key:
                entries[key] = Entry(key, username, self, self.description)
        return [entries[key] for key in sorted(entries)]

    def _spellings(self, key: str) -> list[str]:
        """The names the store holds for the registry whose store key is `key`."""
        return [name for name, _ in self._names() if store_key(name) == key]

    def _names(self) -> list[tuple[str, str]]:
        """The store's `list`: each name it holds as the client spelt it, and its user."""
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
            (name, username)
            for name, username in sorted(entries.items())
            if isinstance(name, str) and isinstance(username, str)
        ]
