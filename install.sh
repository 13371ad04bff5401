#!/usr/bin/env bash
# Installs docker-credential-codespaces into its own virtual environment, puts the executable
# on PATH, and makes it docker's credsStore (and the credHelpers entry of every registry the
# secrets name) in $DOCKER_CONFIG/config.json or ~/.docker/config.json.
#
# Settings (environment):
#   PYTHON       the interpreter to build the venv from (default python3; 3.9 or newer)
#   DCC_PREFIX   where the venv goes (default /opt/docker-credential-codespaces as root,
#                ~/.local/lib/docker-credential-codespaces otherwise)
#   DCC_BIN_DIR  where the executable is linked (default /usr/local/bin as root, ~/.local/bin)
#   DCC_NO_CONFIGURE=1  install only; leave config.json alone
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-python3}
if [ "$(id -u)" = 0 ]; then
    prefix=${DCC_PREFIX:-/opt/docker-credential-codespaces}
    bin_dir=${DCC_BIN_DIR:-/usr/local/bin}
else
    prefix=${DCC_PREFIX:-$HOME/.local/lib/docker-credential-codespaces}
    bin_dir=${DCC_BIN_DIR:-$HOME/.local/bin}
fi

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    echo "install.sh: $python is missing or older than Python 3.9; set PYTHON" >&2
    exit 1
fi
"$python" -m venv "$prefix"
"$prefix/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$here"
# Replace the script pip installed with one that starts Python without `site` and isolated
# from PYTHON* variables (see the launcher module; docs/install.md has the figures).
"$prefix/bin/python" -I -m docker_credential_codespaces.launcher "$prefix/bin/docker-credential-codespaces"
mkdir -p "$bin_dir"
ln -sf "$prefix/bin/docker-credential-codespaces" "$bin_dir/docker-credential-codespaces"
echo "installed $("$bin_dir/docker-credential-codespaces" version) as $bin_dir/docker-credential-codespaces"

if [ "${DCC_NO_CONFIGURE:-}" != 1 ]; then
    "$bin_dir/docker-credential-codespaces" configure
fi
case ":$PATH:" in
    *":$bin_dir:"*) ;;
    *) echo "install.sh: add $bin_dir to PATH, or docker will not find the helper" >&2 ;;
esac
