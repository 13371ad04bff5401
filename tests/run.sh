#!/usr/bin/env bash
# The whole test suite from a clean clone: installs what the tests need, then runs pytest.
#
#   tests/run.sh               everything (the end-to-end tests included)
#   tests/run.sh -m deep       the long fuzz run, on demand
#   tests/run.sh ARGS...       any pytest arguments
#
# Installs Debian's docker-registry, skopeo and apache2-utils through apt-get when run as root
# (as CI is); otherwise their end-to-end tests are skipped with the reason printed. It installs
# golang-docker-credential-helpers too: no test may reach its docker-credential-pass and
# -secretservice in /usr/bin, so the suite proves it is hermetic on a machine that has them.
# The Python side goes into .venv: the package (editable) with its test extras, and a
# wheelhouse that lets the install.sh test install offline. Then ruff, mypy --strict, pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v htpasswd >/dev/null || missing+=(apache2-utils)
command -v docker-credential-pass >/dev/null || missing+=(golang-docker-credential-helpers)
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        echo "tests/run.sh: cannot install ${missing[*]} without root; their end-to-end tests will be skipped" >&2
    fi
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
# A current pip: older ones write console scripts that import `re`, which the start-up tests
# would rightly count against the helper.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
# The executable under test is the one install.sh writes, not pip's console script.
.venv/bin/python -I -m docker_credential_codespaces.launcher .venv/bin/docker-credential-codespaces
.venv/bin/python -m pip wheel --quiet --disable-pip-version-check -w .venv/wheelhouse . hatchling

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy  # --strict on the package, as pyproject's [tool.mypy] says
exec .venv/bin/python -m pytest -m "not deep" "$@"
