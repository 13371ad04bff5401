"""Every string and number that a client or a user depends on byte for byte, in one place.

Docker, containers/image and docker-py compare some of these texts whole, so they are never
spelt out anywhere else in the package.
"""

PACKAGE = "docker_credential_codespaces"
# Docker runs a credential helper named NAME in config.json as `docker-credential-NAME`.
HELPER_PROGRAM_PREFIX = "docker-credential-"
# The name docker appends to that prefix to find this executable.
HELPER_NAME = "codespaces"
PROGRAM = HELPER_PROGRAM_PREFIX + HELPER_NAME

# The wire protocol's fixed answers (docker-credential-helpers' credentials package).
ERR_NOT_FOUND = "credentials not found in native keychain"
ERR_NO_SERVER_URL = "no credentials server URL"
ERR_NO_USERNAME = "no credentials username"
USAGE = f"Usage: {PROGRAM} <store|get|erase|list|version>"
# A Username of this value says that the Secret is an identity token (docker's IdentityToken).
IDENTITY_TOKEN_USERNAME = "<token>"

# Go's bufio reads lines up to 64 KiB; an ECR token is 2-3 KB. 1 MiB is far above any real input.
STDIN_CAP = 1024 * 1024

# Docker Hub: one registry under many names, keyed by docker as the legacy v1 URL.
DOCKER_HUB_KEY = "https://index.docker.io/v1/"
DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
# Docker CLI 27+ keeps OAuth bookkeeping under these paths of the Hub key; they are never
# Hub credentials, and docker runs `get` on them expecting "not found".
DOCKER_HUB_OAUTH_PATHS = frozenset({"/v1/access-token", "/v1/refresh-token"})
# Every Docker Hub alias contains this, so a secret for the Hub must too.
DOCKER_HUB_DOMAIN = "docker.io"
# The host Docker Hub's registry API answers on (its key names the legacy index).
DOCKER_HUB_API_HOST = "registry-1.docker.io"

# The Codespaces secret triple: <X>_CONTAINER_REGISTRY_SERVER, _USER and _PASSWORD.
SECRET_MARK = "_CONTAINER_REGISTRY_"
SECRET_SERVER = "_CONTAINER_REGISTRY_SERVER"
SECRET_USER = "_CONTAINER_REGISTRY_USER"
SECRET_PASSWORD = "_CONTAINER_REGISTRY_PASSWORD"
# Companion secrets of an ECR triple, with the triple's prefix: its AWS identity beyond a
# static key. The platform reads only the three names above, so these do not disturb it.
SECRET_AWS_SESSION_TOKEN = "_CONTAINER_REGISTRY_AWS_SESSION_TOKEN"
SECRET_AWS_ROLE_ARN = "_CONTAINER_REGISTRY_AWS_ROLE_ARN"
SECRET_AWS_EXTERNAL_ID = "_CONTAINER_REGISTRY_AWS_EXTERNAL_ID"
SECRET_AWS_ROLE_SESSION_NAME = "_CONTAINER_REGISTRY_AWS_ROLE_SESSION_NAME"
SECRET_AWS_PROFILE = "_CONTAINER_REGISTRY_AWS_PROFILE"
SECRET_AWS_COMPANIONS = (
    SECRET_AWS_SESSION_TOKEN,
    SECRET_AWS_ROLE_ARN,
    SECRET_AWS_EXTERNAL_ID,
    SECRET_AWS_ROLE_SESSION_NAME,
    SECRET_AWS_PROFILE,
)
# Where Codespaces writes every secret as NAME=<base64 of the value>, for shells without them.
DEFAULT_SECRETS_FILE = "/workspaces/.codespaces/shared/.env-secrets"

# Environment variables that steer the helper. The booleans are read by log.flag alone.
ENV_DEBUG = "DOCKER_CREDENTIAL_CODESPACES_DEBUG"
ENV_NO_CACHE = "DOCKER_CREDENTIAL_CODESPACES_NO_CACHE"
ENV_NO_GITHUB_TOKEN = "DOCKER_CREDENTIAL_CODESPACES_NO_GITHUB_TOKEN"
ENV_SECRETS_FILE = "DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"
ENV_STORE_DIR = "DOCKER_CREDENTIAL_CODESPACES_STORE_DIR"
ENV_CACHE_DIR = "DOCKER_CREDENTIAL_CODESPACES_CACHE_DIR"
# Seconds the crash tests hold a writer between its fsync and its rename, to kill it there;
# the only way to reach that instant from outside a process that imports nothing to help.
ENV_CRASH_TEST_PAUSE = "DOCKER_CREDENTIAL_CODESPACES_CRASH_TEST_PAUSE_BEFORE_RENAME"
BOOLEAN_SETTINGS = (ENV_DEBUG, ENV_NO_CACHE, ENV_NO_GITHUB_TOKEN)
# Spellings of a boolean setting; anything else is warned about and taken as off.
FLAG_ON = frozenset({"1", "true", "yes", "on"})
FLAG_OFF = frozenset({"", "0", "false", "no", "off"})

# The longest a process waits for another's lock on a store or cache file: far above a real
# write, far below a hang.
LOCK_TIMEOUT = 15.0
# The longest a fallback store (another credential helper, run as a subprocess) may take.
FALLBACK_TIMEOUT = 10.0
# Set by the helper in the environment of the fallback store it runs: a helper that finds it
# is inside a fallback call, and never runs a fallback store of its own (chain.logins).
ENV_FALLBACK_CALL = "DOCKER_CREDENTIAL_CODESPACES_FALLBACK_CALL"

# config.json, as docker and containers/image read it.
ENV_DOCKER_CONFIG = "DOCKER_CONFIG"
ENV_DOCKER_AUTH_CONFIG = "DOCKER_AUTH_CONFIG"
CONFIG_FILE = "config.json"
CONFIG_BACKUP_SUFFIX = ".bak"
# containers/image keys Docker Hub as "docker.io" (credHelpers, auth.json), docker as its v1 URL.
CONTAINERS_HUB_KEY = "docker.io"
# Files beside the local store: what `configure` changed, and the credsStore it replaced.
STORE_FILE = "credentials.json"
STATE_FILE = "configured.json"
FALLBACK_FILE = "fallback-store"

# `export`: the documents it writes for tools that read credentials from a file or a variable.
EXPORT_DOCKER_CONFIG = "docker-config"  # config.json's `auths`, as DOCKER_AUTH_CONFIG takes it
EXPORT_KUBERNETES = "kubernetes"  # an image pull Secret for `kubectl apply -f -`
EXPORT_PODMAN_AUTH = "podman-auth"  # containers-auth.json, for `--authfile`
EXPORT_FORMATS = (EXPORT_DOCKER_CONFIG, EXPORT_KUBERNETES, EXPORT_PODMAN_AUTH)
KUBERNETES_API_VERSION = "v1"
KUBERNETES_SECRET_KIND = "Secret"
KUBERNETES_SECRET_TYPE = "kubernetes.io/dockerconfigjson"
KUBERNETES_SECRET_DATA_KEY = ".dockerconfigjson"
KUBERNETES_DEFAULT_SECRET_NAME = "registry-credentials"
# A Secret's name is a DNS subdomain (RFC 1123): at most this long.
KUBERNETES_NAME_MAX = 253
# The hosts `doctor --check` may try over plain HTTP and never reaches through a proxy, as
# docker treats them: this machine for certain, and nothing that merely starts like it.
LOOPBACK_NAME = "localhost"
LOOPBACK_IPV4_NETWORK = "127.0.0.0/8"
LOOPBACK_IPV6 = "::1"
# VS Code Dev Containers injects `"credsStore": "dev-containers-<id>"`: a helper that forwards
# to the host's credentials, there only while VS Code is attached.
DEV_CONTAINERS_STORE_PREFIX = "dev-containers-"

# doctor's registry-specific hints. Docker Hub access tokens (personal, organization), which
# accounts with 2FA or SSO need instead of a password.
DOCKER_HUB_TOKEN_PREFIXES = ("dckr_pat_", "dckr_oat_")
# Google Artifact Registry (and gcr.io) take a service-account key as the password of these
# users: the key file's JSON, or its base64; a key file has these fields.
GOOGLE_JSON_KEY_USER = "_json_key"
GOOGLE_JSON_KEY_BASE64_USER = "_json_key_base64"
GOOGLE_KEY_FIELDS = ("type", "client_email", "private_key")
# Robot accounts whose names a shell mangles: Harbor's robot$<name>, Quay's <org>+<name>.
HARBOR_ROBOT_PREFIX = "robot$"
QUAY_ROBOT_SEPARATOR = "+"
# Where a ghcr.io package is shared with a codespace's repository, for a 403 from ghcr.io.
GHCR_SHARING_SETTING = "Manage Codespaces access"
DEVCONTAINER_REPOSITORIES = "customizations.codespaces.repositories"
DEVCONTAINER_PACKAGES_READ = '"packages": "read"'

# The codespace's own token for ghcr.io (only in a codespace: CODESPACES=true).
GHCR = "ghcr.io"
ENV_CODESPACES = "CODESPACES"
ENV_GITHUB_TOKEN = "GITHUB_TOKEN"
ENV_GITHUB_USER = "GITHUB_USER"
# ghcr.io accepts any user name with a token; this one says where the token came from.
CODESPACE_TOKEN_USER = "codespace"

# AWS ECR. USER=AWS in a secret means that PASSWORD is a registry token already fetched.
ECR_TOKEN_USERNAME = "AWS"
ECR_PUBLIC_HOSTS = frozenset({"public.ecr.aws", "ecr-public.aws.com"})
ECR_PUBLIC_REGION = "us-east-1"
# Private ECR host domains and the partition each belongs to.
ECR_DOMAINS = {
    "amazonaws.com": "aws",
    "on.aws": "aws",
    "amazonaws.com.cn": "aws-cn",
    "on.amazonwebservices.com.cn": "aws-cn",
    "amazonaws.eu": "aws-eusc",
    "c2s.ic.gov": "aws-iso",
    "sc2s.sgov.gov": "aws-iso-b",
    "cloud.adc-e.uk": "aws-iso-e",
    "csp.hci.ic.gov": "aws-iso-f",
}
ECR_SERVICE_LABELS = frozenset({"dkr.ecr", "dkr.ecr-fips", "dkr-ecr", "dkr-ecr-fips"})
# AWS access key ids: long-term (AKIA) and temporary (ASIA), then 16 upper-case letters/digits.
AWS_TEMPORARY_KEY_PREFIX = "ASIA"
AWS_KEY_ID_PREFIXES = ("AKIA", AWS_TEMPORARY_KEY_PREFIX)
# The RoleSessionName of an AssumeRole unless the secrets name one; CloudTrail shows it.
AWS_DEFAULT_ROLE_SESSION_NAME = "docker-credential-codespaces"
# The AWS shared files, as botocore finds them; they decide a profile, and may set endpoints.
ENV_AWS_CONFIG_FILE = "AWS_CONFIG_FILE"
ENV_AWS_CREDENTIALS_FILE = "AWS_SHARED_CREDENTIALS_FILE"
DEFAULT_AWS_CONFIG_FILE = "~/.aws/config"
DEFAULT_AWS_CREDENTIALS_FILE = "~/.aws/credentials"
ENV_AWS_STS_ENDPOINT = "AWS_ENDPOINT_URL_STS"
ENV_AWS_SSO_ENDPOINT = "AWS_ENDPOINT_URL_SSO"
# Variables that would let botocore ask the instance metadata or a container's credential
# endpoint; a profile's resolution never may.
AWS_METADATA_DISABLED = "AWS_EC2_METADATA_DISABLED"
AWS_CONTAINER_CREDENTIAL_VARIABLES = (
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
)
# The environment's AWS keys, as botocore's environment provider reads them; a profile's
# resolution never may (the exchange's child drops them before it resolves one).
AWS_ENVIRONMENT_KEY_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_ACCOUNT_ID",
)
AWS_KEY_ID_LENGTH = 20
# Endpoint overrides botocore honours, most specific first, for ECR and for ECR Public.
ECR_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL")
ECR_PUBLIC_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_ECR_PUBLIC", "AWS_ENDPOINT_URL")
# Never hand out a token that expires sooner than this: a pull can take minutes.
ECR_MIN_VALIDITY = 300.0
# Refresh once this share of a token's lifetime has passed (AWS issues 12-hour tokens).
ECR_REFRESH_AT = 0.5
# Bounds on one exchange: 3 s to connect, 5 s to read, and botocore's max_attempts, which
# counts the retries after the first try (so 2 means up to 3 requests).
ECR_CONNECT_TIMEOUT = 3
ECR_READ_TIMEOUT = 5
ECR_MAX_ATTEMPTS = 2
# The whole exchange (AssumeRole, a profile's credential_process, every name lookup, attempt
# and backoff included) ends within this many seconds; a `get`'s whole wait for a token, the
# lock included, within the second.
ECR_EXCHANGE_DEADLINE = 12.0
ECR_GET_DEADLINE = 18.0
# A failed exchange is remembered this long, keyed like the token: the gets that waited for
# it, and those that follow, fail at once with the same line instead of calling AWS again.
ECR_FAILURE_MEMORY = 30.0
# A fetched token that claims to live longer than this (AWS issues 12 hours), or that was
# fetched this far in the future, is no token AWS gave: its cache file is rebuilt.
ECR_MAX_LIFETIME = 7 * 24 * 3600.0
ECR_CLOCK_SKEW = 300.0
# `warm` fetches this many registries' tokens at once.
WARM_CONCURRENCY = 4
