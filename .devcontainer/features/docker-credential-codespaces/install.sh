#!/bin/sh
# The dev container Feature's installer: runs as root while the image is built.
# Installs the helper into its own venv, links it onto PATH, and wires config.json for the
# container's user. Codespaces writes its own registry entries into config.json after
# onCreateCommand, so the Feature also re-runs `configure` as postCreateCommand and
# postStartCommand (see devcontainer-feature.json).
#
# Options arrive as VERSION and SOURCE; _REMOTE_USER and _REMOTE_USER_HOME name the user.
# VERSION's default is the package version this Feature was released with, so that a Feature
# version always means one helper version; the manifest holds it, and a run by hand without
# VERSION reads it there rather than keeping a second copy here.
# DCC_PREFIX and DCC_BIN_DIR move the venv and the link (the tests use them).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${DCC_PREFIX:-/opt/docker-credential-codespaces}
bin_dir=${DCC_BIN_DIR:-/usr/local/bin}
version=${VERSION:-}
source=${SOURCE:-}

if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    if command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv
    else
        echo "docker-credential-codespaces: this Feature needs python3 with venv; install it first" >&2
        exit 1
    fi
fi

if [ -z "$source" ] && [ -z "$version" ]; then
    version=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["options"]["version"]["default"])' "$here/devcontainer-feature.json")
fi
if [ -n "$source" ]; then
    requirement=$source
elif [ "$version" = latest ]; then
    requirement=docker-credential-codespaces
else
    requirement="docker-credential-codespaces==$version"
fi
python3 -m venv "$prefix"
"$prefix/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$requirement"
# Replace the script pip installed with one that starts Python without `site` and isolated
# from PYTHON* variables (see the launcher module; docs/install.md has the figures).
"$prefix/bin/python" -I -m docker_credential_codespaces.launcher "$prefix/bin/docker-credential-codespaces"
mkdir -p "$bin_dir"
ln -sf "$prefix/bin/docker-credential-codespaces" "$bin_dir/docker-credential-codespaces"

user=${_REMOTE_USER:-root}
home=${_REMOTE_USER_HOME:-$(getent passwd "$user" | cut -d: -f6)}
if [ "$user" = root ] || [ "$(id -u)" != 0 ]; then
    HOME=$home "$bin_dir/docker-credential-codespaces" configure
else
    runuser -u "$user" -- env HOME="$home" "$bin_dir/docker-credential-codespaces" configure
fi
