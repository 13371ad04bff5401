"""The ECR exchange: an AWS identity becomes a registry token, through botocore, in a process
group of its own that ends within the exchange's budget.

botocore, boto3's engine, is imported only here, only in that process, and only when the
cache cannot answer: importing it costs more than everything else the helper does, and
boto3's own layer on top adds nothing this call needs. The client gets exactly the identity's
keys (never the default credential chain, so no instance-metadata probing and no surprise
profile): the secret's own, those of the role it assumes through STS (in the registry's region
and partition), or those botocore resolves for the profile it names, from the AWS config and
credentials files alone. Role credentials are not cached: the token they buy is, for its
whole life, so a role is assumed once per refresh, and nothing but tokens is written.

Timeouts are bounded, and so is the whole: botocore bounds each try (connect and read
timeouts) but not their sum, nor an AssumeRole or a credential_process before them, nor a
server that answers a byte at a time, nor the name lookup before each connection (glibc's
getaddrinfo retries through any signal, so no timer inside the process could stop it). So the
exchange runs in a forked child, and its parent stops waiting at the deadline and kills the
child's whole process group, whatever it was doing (`bounded`).
"""

from __future__ import annotations

import os
import signal
import time

from ..constants import (
    AWS_CONTAINER_CREDENTIAL_VARIABLES,
    AWS_ENVIRONMENT_KEY_VARIABLES,
    AWS_METADATA_DISABLED,
    ECR_CONNECT_TIMEOUT,
    ECR_MAX_ATTEMPTS,
    ECR_READ_TIMEOUT,
)
from ..wire import HelperError
from . import PROFILE, ROLE, messages
from .token import Token

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, NoReturn

    from botocore.config import Config
    from botocore.session import Session

    from . import AwsIdentity, EcrRegistry

    # What runs in the child: the token, or HelperError with its line. It calls the third
    # argument with the name of what it waits on next (a stage), before it waits.
    Work = Callable[[EcrRegistry, AwsIdentity, Callable[[str], None]], Token]


# The APIs this helper may call, or that botocore calls for it to resolve a profile.
SERVICES = ("ecr", "ecr-public", "sts", "sso")
# botocore's names for the credential providers a profile may resolve through: the AWS config
# and credentials files' own (a role with a source_profile, SSO, credential_process, static
# keys). Every other one is taken out of the chain: the environment's keys, ~/.boto and
# BOTO_CONFIG, AWS_CREDENTIAL_FILE, web identity, the container and the instance metadata,
# and any botocore may add.
PROFILE_PROVIDERS = (
    "assume-role",
    "sso",
    "shared-credentials-file",
    "custom-process",
    "config-file",
)
# A profile's settings that make botocore assume a role, and that name where its keys are.
_ROLE_ARN, _SOURCE_PROFILE, _CREDENTIAL_SOURCE = "role_arn", "source_profile", "credential_source"
_CREDENTIAL_PROCESS = "credential_process"


def exchange(registry: EcrRegistry, identity: AwsIdentity, budget: float) -> Token:
    """Resolve the identity's keys and call GetAuthorizationToken with them, within `budget`
    seconds in all, name lookups and processes included. Errors name the secret's variables,
    never their values."""
    return bounded(_exchange, registry, identity, budget)


def bounded(work: Work, registry: EcrRegistry, identity: AwsIdentity, budget: float) -> Token:
    """`work(registry, identity, stage)` in a forked child that leads a process group of its
    own, waited for `budget` seconds at most, whatever it waits on.

    The child says what it waits on next through `stage` (a service before each request,
    messages.CREDENTIAL_PROCESS before a profile's process runs), then its token or its line.
    At the deadline the parent stops waiting, kills the whole group (a credential_process, and
    whatever that started, goes with it) and says what the child was waiting on; after an
    answer it kills the group too, so nothing started for AWS outlives the exchange. The child
    kills its group itself when the parent is gone first (doctor leaves a check behind at its
    --timeout, and exits).
    """
    started = time.monotonic()
    answer_read, answer_write = os.pipe()
    life_read, life_write = os.pipe()  # the child reads EOF from it once the parent is gone
    try:
        pid = os.fork()
    except OSError as error:
        for fd in (answer_read, answer_write, life_read, life_write):
            os.close(fd)
        reason = error.strerror or type(error).__name__
        raise HelperError(messages.no_process(registry, identity, reason)) from None
    if pid == 0:
        _child(work, registry, identity, answer_write, life_read)
    os.close(answer_write)
    os.close(life_read)
    try:
        os.setpgid(pid, pid)  # as the child does: the group exists before either goes on
    except OSError:
        pass  # the child made it first, or has ended already
    try:
        said, finished = _collect(answer_read, started + budget)
    finally:
        os.close(answer_read)
        os.close(life_write)
        _end_group(pid)
    stage, answer = _parse(said)
    if isinstance(answer, Token):
        return answer
    if answer is not None:
        raise HelperError(answer)
    if finished:  # it ended without a word: killed from outside, or out of memory
        raise HelperError(messages.lost(registry, identity))
    raise HelperError(messages.late(registry, identity, stage, budget))


def _collect(fd: int, deadline: float) -> tuple[bytes, bool]:
    """What the child said through `fd`, and whether it closed its end before the deadline."""
    import select

    poll = select.poll()
    poll.register(fd, select.POLLIN)
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), False
        if not poll.poll(max(1, round(left * 1000))):
            continue  # the time is checked again above
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)


def _end_group(pid: int) -> None:
    """Kill the child's process group (what it started too), then reap the child.

    The child is not reaped before the kill, so its pid, which names the group, cannot have
    been given to another process meanwhile.
    """
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass  # nobody left in it
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


# How the child speaks, one line each: what it waits on next, then its token or its line.
_STAGE, _TOKEN, _ERROR = "stage", "token", "error"


def _parse(said: bytes) -> tuple[str, Token | str | None]:
    """The last stage the child named, and its answer: a Token, a line, or None for none."""
    stage = ""
    answer: Token | str | None = None
    for line in said.decode("utf-8", "replace").split("\n"):
        kind, _, rest = line.partition("\t")
        if kind == _STAGE:
            stage = rest
        elif kind == _ERROR:
            answer = rest
        elif kind == _TOKEN:
            try:
                expires, fetched, password = rest.split("\t")
                answer = Token(password, float(expires), float(fetched))
            except ValueError:
                answer = None
    return stage, answer


def _child(
    work: Work, registry: EcrRegistry, identity: AwsIdentity, answer: int, life: int
) -> NoReturn:
    """The child's whole life: a group of its own, nothing open of its parent's but the two
    pipes (its standard streams aside), the work, its answer, and out without teardown."""
    code = 1
    try:
        os.setpgid(0, 0)
        top = os.sysconf("SC_OPEN_MAX")
        low = 3
        for fd in sorted((answer, life)):
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, top)
        _guard(life)

        def say(kind: str, text: str) -> None:
            data = f"{kind}\t{text.replace(chr(10), ' ')}\n".encode()
            while data:
                data = data[os.write(answer, data) :]

        try:
            token = work(registry, identity, lambda stage: say(_STAGE, stage))
        except HelperError as error:
            say(_ERROR, str(error))
        else:
            say(_TOKEN, f"{token.expires_at!r}\t{token.fetched_at!r}\t{token.password}")
        code = 0
    finally:
        os._exit(code)


def _guard(life: int) -> None:
    """Kill this process group once the parent is gone (EOF on `life`): it may have left
    without ending the exchange, and then nothing else would."""
    import threading

    def guard() -> None:
        try:
            while os.read(life, 1):
                pass
        finally:
            os.killpg(0, signal.SIGKILL)

    threading.Thread(target=guard, daemon=True).start()


# -- the exchange itself, in the child -----------------------------------------------------


def _session(stage: Callable[[str], None], profile: str = "") -> Session:
    """A botocore session for one identity, whose data loader is told which services exist,
    and which says each request's service through `stage` before sending it.

    Without a profile, an AWS_PROFILE in the environment is ignored: the secrets carry the
    identity, and a profile named there for other tools (or missing) must not break or steer
    the exchange; the config file's default settings still apply, as to every AWS tool.

    Before it loads a model, botocore's loader checks the service name against a listing of
    every service directory it ships (each listed again for its versions): a large share of a
    cold `get`. The services this helper uses are known. AWS_DATA_PATH applies as in
    botocore's own `create_loader`.
    """
    import botocore.session
    from botocore.loaders import Loader

    class KnownServicesLoader(Loader):
        """botocore's loader, but the services this helper uses are known to exist."""

        def list_available_services(self, type_name: str) -> list[str]:
            return list(SERVICES)

    if profile:
        session = botocore.session.Session(profile=profile)
    else:
        session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    session.set_config_variable("sts_regional_endpoints", "regional")
    data_path = session.get_config_variable("data_path") or ""
    extra = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep) if p]
    session.register_component("data_loader", KnownServicesLoader(extra_search_paths=extra))

    def sending(**kwargs: Any) -> None:
        stage(str(kwargs["event_name"]).split(".")[1])  # before-send.<service>.<operation>

    session.register("before-send", sending)
    return session


def client_config(registry: EcrRegistry) -> Config:
    """Bounded timeouts and attempts, and the FIPS endpoint for a FIPS host."""
    from botocore.config import Config

    return Config(
        connect_timeout=ECR_CONNECT_TIMEOUT,
        read_timeout=ECR_READ_TIMEOUT,
        retries={"max_attempts": ECR_MAX_ATTEMPTS, "mode": "standard"},
        use_fips_endpoint=registry.fips,
    )


def _exchange(registry: EcrRegistry, identity: AwsIdentity, stage: Callable[[str], None]) -> Token:
    try:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConfigParseError,
            ProfileNotFound,
        )
    except ImportError:
        raise HelperError(messages.BOTO_MISSING) from None
    config = client_config(registry)
    fetched_at = time.time()
    try:
        session = _session(stage, identity.profile if identity.kind == PROFILE else "")
        keys = _keys(registry, identity, session, config, stage)
    except ProfileNotFound:  # found as the config file is read
        raise HelperError(messages.profile_missing(identity)) from None
    except ConfigParseError as error:  # the config file (any identity), or a profile's files
        path = str(error.kwargs.get("path", ""))
        raise HelperError(messages.aws_file_unparsable(registry, identity, path)) from None
    except BotoCoreError as error:
        raise HelperError(messages.unanswered(registry, identity, type(error).__name__)) from None
    try:
        client = _client(session, registry.service(), registry, identity, keys, config)
        data = client.get_authorization_token()["authorizationData"]
        if not registry.public:
            data = data[0]
        token, expires_at = data["authorizationToken"], data["expiresAt"].timestamp()
    except ClientError as error:
        code, status = _error_code(error)
        raise HelperError(messages.refused(registry, identity, code, status)) from None
    except BotoCoreError as error:
        raise HelperError(messages.unanswered(registry, identity, type(error).__name__)) from None
    except (KeyError, IndexError, TypeError, AttributeError, ValueError, RuntimeError):
        # An answer of the wrong shape; botocore raises ValueError or RuntimeError for an
        # expiresAt that is no date.
        raise HelperError(messages.no_usable_token(registry, identity)) from None
    answer = Token(_decode(registry, identity, token), expires_at, fetched_at)
    if not answer.plausible():  # an expiry no clock can show, or years away
        raise HelperError(messages.no_usable_token(registry, identity))
    return answer


Keys = tuple[str, str, str]  # access key id, secret key, session token ("" for none)


def _error_code(error: Exception) -> tuple[str, int]:
    response = getattr(error, "response", {})
    code = response.get("Error", {}).get("Code", "")
    return code, response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)


def _keys(
    registry: EcrRegistry,
    identity: AwsIdentity,
    session: Session,
    config: Config,
    stage: Callable[[str], None],
) -> Keys:
    """The keys that sign GetAuthorizationToken: the secret's own, a role's, or a profile's."""
    if identity.kind == PROFILE:
        return _profile_keys(identity, session, stage)
    keys = (identity.key_id, identity.secret_key, identity.session_token)
    if identity.kind != ROLE:
        return keys
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        sts = _client(session, "sts", registry, identity, keys, config)
        request = {"RoleArn": identity.role_arn, "RoleSessionName": identity.session_name}
        if identity.external_id:
            request["ExternalId"] = identity.external_id
        answer = sts.assume_role(**request)["Credentials"]
        return answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"]
    except ClientError as error:
        code, status = _error_code(error)
        raise HelperError(messages.role_refused(registry, identity, code, status)) from None
    except BotoCoreError as error:
        name = type(error).__name__
        raise HelperError(messages.unanswered(registry, identity, name, "sts")) from None
    except (KeyError, TypeError):
        raise HelperError(messages.no_usable_token(registry, identity)) from None


def _profile_keys(identity: AwsIdentity, session: Session, stage: Callable[[str], None]) -> Keys:
    """A named profile's keys, by botocore's own resolution restricted to the AWS config and
    credentials files (PROFILE_PROVIDERS): a role with a source_profile, SSO, credential_process,
    static keys. Never the environment's keys or files, nor a metadata endpoint.

    A role whose credential_source names any of those is refused before botocore is asked,
    in a line that says so. The environment's keys and endpoints are also taken out of this
    process's environment (it is the exchange's child, and ends with it), so that no way of
    botocore's to read them, known or new, can sign with them.
    """
    from botocore.exceptions import ProfileNotFound

    settings = session.full_config.get("profiles", {})
    chain = list(_role_chain(settings, identity.profile))
    if not chain:
        raise HelperError(messages.profile_missing(identity))
    for name, profile in chain:
        if _ROLE_ARN in profile and _CREDENTIAL_SOURCE in profile:
            source = str(profile[_CREDENTIAL_SOURCE])
            raise HelperError(messages.credential_source_refused(identity, name, source))
    for name in AWS_ENVIRONMENT_KEY_VARIABLES + AWS_CONTAINER_CREDENTIAL_VARIABLES:
        os.environ.pop(name, None)
    os.environ[AWS_METADATA_DISABLED] = "true"
    resolver = session.get_component("credential_provider")
    for method in [p.METHOD for p in resolver.providers if p.METHOD not in PROFILE_PROVIDERS]:
        resolver.remove(method)
    if any(_CREDENTIAL_PROCESS in profile for _, profile in chain):
        stage(messages.CREDENTIAL_PROCESS)  # until a request is sent, the process is running
    try:
        credentials = session.get_credentials()
        frozen = credentials.get_frozen_credentials() if credentials is not None else None
    except ProfileNotFound:
        raise HelperError(messages.profile_missing(identity)) from None
    except Exception as error:  # BotoCoreError, and others: a ClientError of the SSO portal
        raise HelperError(messages.profile_failed(identity, error)) from None
    if frozen is None or not frozen.access_key:
        raise HelperError(messages.profile_empty(identity))
    return frozen.access_key, frozen.secret_key or "", frozen.token or ""


def _role_chain(settings: dict[str, Any], name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The profile `name` and each profile its role's keys come from (source_profile), in the
    order botocore follows them, each once; nothing for a profile that does not exist."""
    seen: set[str] = set()
    while name in settings and name not in seen:
        seen.add(name)
        profile = settings[name]
        yield name, profile
        if _ROLE_ARN not in profile:
            return
        name = str(profile.get(_SOURCE_PROFILE, ""))


def _client(
    session: Session,
    service: str,
    registry: EcrRegistry,
    identity: AwsIdentity,
    keys: Keys,
    config: Config,
) -> Any:
    """A botocore client with exactly these keys; an endpoint it cannot use is named."""
    from urllib.parse import urlsplit  # botocore has loaded it already

    from botocore.exceptions import BotoCoreError

    key_id, secret_key, session_token = keys
    try:
        client = session.create_client(
            service,
            region_name=registry.region,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret_key,
            aws_session_token=session_token or None,
            config=config,
        )
        # A port out of range passes botocore's check and fails only when it connects, as a
        # ValueError that could as well be about the answer: checked here instead.
        urlsplit(client.meta.endpoint_url).port  # noqa: B018 - parsing it is the check
    except ValueError as error:  # botocore's word for an endpoint URL it cannot parse
        if isinstance(error, BotoCoreError):  # some of botocore's own are ValueErrors too
            raise
        raise HelperError(messages.bad_endpoint(registry, identity, service)) from None
    return client


def _decode(registry: EcrRegistry, identity: AwsIdentity, token: str) -> str:
    """The password inside `base64("AWS:<password>")`."""
    from binascii import Error, a2b_base64

    try:
        _user, _, password = a2b_base64(token.encode("ascii")).decode("utf-8").partition(":")
    except (Error, ValueError):
        password = ""
    if not password:
        raise HelperError(messages.malformed_token(registry, identity))
    return password
