"""A stand-in for another credential helper (desktop, pass, ...) to chain to as a fallback.

It speaks the protocol over a JSON file named by FAKE_STORE_FILE, keyed by the exact server
URL, and logs each call's argv to FAKE_STORE_LOG. FAKE_STORE_MODE=hang never answers;
FAKE_STORE_MODE=fail answers every verb with an error line; FAKE_STORE_MODE=empty answers a
`get` for a server it does not hold with exit 0 and an empty Username and Secret, as
docker-credential-pass 0.6.4 does; FAKE_STORE_MODE=readonly refuses `store`, as a forwarding
store (VS Code's dev-containers-<id>) may. FAKE_STORE_MODE=orphan starts a child that would
outlive it, holding its stdout, writes the child's pid to FAKE_STORE_PIDS, and never answers.

`put_on_path` installs it, under the names given, for a test's environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import MutableMapping
from pathlib import Path

NOT_FOUND = "credentials not found in native keychain"
#: The last argument of the orphan mode's child, by which a test knows it in /proc.
ORPHAN = "fake-credential-store-orphan"


def put_on_path(env: MutableMapping[str, str], root: Path, *names: str) -> Path:
    """`docker-credential-<name>` for each name, all this fake, first on `env`'s PATH, over
    one file of logins under `root` (returned; a missing one holds none) and one log."""
    bin_dir = root / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    for name in names:
        script = bin_dir / f"docker-credential-{name}"
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{__file__}" "$@"\n')
        script.chmod(0o755)
    data = root / "fake-store.json"
    env["FAKE_STORE_FILE"] = str(data)
    env["FAKE_STORE_LOG"] = str(root / "fake-store.log")
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return data


def main() -> int:
    path = Path(os.environ["FAKE_STORE_FILE"])
    verb = sys.argv[1] if len(sys.argv) == 2 else ""
    with open(os.environ["FAKE_STORE_LOG"], "a") as log:
        log.write(json.dumps(sys.argv) + "\n")
    mode = os.environ.get("FAKE_STORE_MODE", "")
    if mode == "hang":
        time.sleep(3600)
    if mode == "orphan":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", ORPHAN])
        Path(os.environ["FAKE_STORE_PIDS"]).write_text(f"{child.pid}\n")
        time.sleep(3600)
    if mode == "fail":
        print("the keyring is locked")
        return 1
    entries = json.loads(path.read_text()) if path.exists() else {}
    if verb == "list":
        print(json.dumps({key: value["Username"] for key, value in entries.items()}))
        return 0
    request = sys.stdin.read()
    if verb == "get":
        if request.strip() not in entries and mode == "empty":
            print(json.dumps({"ServerURL": request.strip(), "Username": "", "Secret": ""}))
        elif request.strip() not in entries:
            print(NOT_FOUND)
            return 1
        else:
            print(json.dumps({"ServerURL": request.strip(), **entries[request.strip()]}))
    elif verb == "store" and mode == "readonly":
        print("storing credentials is not supported")
        return 1
    elif verb == "store":
        body = json.loads(request)
        entries[body["ServerURL"]] = {"Username": body["Username"], "Secret": body["Secret"]}
        path.write_text(json.dumps(entries))
    elif verb == "erase":
        if entries.pop(request.strip(), None) is None:
            print(NOT_FOUND)
            return 1
        path.write_text(json.dumps(entries))
    else:
        print(f"unknown verb {verb}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
