"""Every string and number that a client or a user depends on byte for byte, in one place.

Docker, containers/image and docker-py compare some of these texts whole, so they are never
spelt out anywhere else in the package.
"""

PROGRAM = "docker-credential-codespaces"
PACKAGE = "docker_credential_codespaces"
# The name docker appends to `docker-credential-` to find this executable.
HELPER_NAME = "codespaces"

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

# The Codespaces secret triple: <X>_CONTAINER_REGISTRY_SERVER, _USER and _PASSWORD.
SECRET_MARK = "_CONTAINER_REGISTRY_"
SECRET_SERVER = "_CONTAINER_REGISTRY_SERVER"
SECRET_USER = "_CONTAINER_REGISTRY_USER"
SECRET_PASSWORD = "_CONTAINER_REGISTRY_PASSWORD"
# Where Codespaces writes every secret as NAME=<base64 of the value>, for shells without them.
DEFAULT_SECRETS_FILE = "/workspaces/.codespaces/shared/.env-secrets"

# Environment variables that steer the helper.
ENV_DEBUG = "DOCKER_CREDENTIAL_CODESPACES_DEBUG"
ENV_SECRETS_FILE = "DOCKER_CREDENTIAL_CODESPACES_SECRETS_FILE"
ENV_STORE_DIR = "DOCKER_CREDENTIAL_CODESPACES_STORE_DIR"
ENV_CACHE_DIR = "DOCKER_CREDENTIAL_CODESPACES_CACHE_DIR"
ENV_NO_CACHE = "DOCKER_CREDENTIAL_CODESPACES_NO_CACHE"

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
