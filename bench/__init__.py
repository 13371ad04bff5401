"""Start-up benchmark of docker-credential-codespaces against the interpreter's own floor.

Docker starts the helper anew for every registry it touches, so what matters is how close one
run gets to the cost of starting the interpreter at all. This command runs the installed
executable in every scenario below, interleaved with its baselines over many rounds in one
invocation, so that machine drift (CPU frequency, other load, caches) hits them all alike, and
prints one table of medians with each scenario's ratio to the `python -c pass` baseline (the
one the targets name), its ratio to `python -I -S -c pass` (the floor of the launcher's
wrapper, which skips `site` and exits without teardown), and a PASS/MISS verdict against the
project's targets.

Usage:

    .venv/bin/python -B -m bench              # 30 rounds, the table
    .venv/bin/python -B -m bench --rounds 60  # more rounds (30 at least)
    .venv/bin/python -B -m bench --json       # machine-readable, raw samples included
    .venv/bin/python -B -m bench --quick      # 5 rounds, a smoke test; numbers are noisy
    .venv/bin/python -B -m bench --helper /usr/local/bin/docker-credential-codespaces

Run it from the repository root, where `bench` and `beds` are found. It writes no bytecode
into the checkout (`-B`, and `sys.dont_write_bytecode` as soon as the package loads); the
warm-up runs give the helper and the baselines their bytecode caches before round 1.

The package: `targets` names every scenario and holds every target's number, `scenarios`
prepares them, `measurement` holds the spawner and the rounds, `report` the table and JSON.

The helper measured is `--helper`, by default the one in the venv of the interpreter running
the bench (tests/run.sh writes it as install.sh does). Its `#!` line names the interpreter, and
that interpreter, with its venv, runs the baselines. The header says whether the executable is
the launcher's wrapper (`python -I -S`, docker_credential_codespaces/launcher.py). Nothing
leaves the machine: the ECR exchange goes to FakeECR (beds/aws.py), started in this process
on 127.0.0.1 and stopped at the end.

Scenarios, each in its own environment from the one builder the tests use too
(beds/environment.py): built from scratch, with its own temporary HOME and XDG directories, AWS
config and credentials files that do not exist, `AWS_EC2_METADATA_DISABLED=true`, a secrets
file path that does not exist, and a PATH of the helper's directory and the machine's programs
without its credential helpers (so no `*_CONTAINER_REGISTRY_*` or `AWS_*` variable of this
shell leaks in):

    baseline             `<venv python> -c pass`: the floor the targets are set against
    baseline -I -S       `<venv python> -I -S -c pass`: the floor of the launcher's wrapper,
                         which skips `site`; no target
    get plain secret     a registry covered by one plain secret triple
    get not found        a registry no secret and no stored login knows
    get ECR cached       an ECR registry whose token is in the helper's cache
    list 50 triples      `list` with 50 secret triples in the environment
    get N triples        `get` with 1, 100 and 1,000 triples: how the cost grows
    baseline 1,000       `<venv python> -I -S -c pass` with the 1,000 triples in its
                         environment: the interpreter's own share of that growth (the
                         dynamic loader and CPython both read every variable at start-up)
    baseline boto3       `<venv python> -c "import boto3"`: the floor of any boto3 exchange
    baseline botocore    `<venv python> -I -c "import botocore.session, os; os._exit(0)"`:
                         the cold path's floor started as the helper starts (no teardown);
                         no target, it shows how much of the cold gain is start and exit
    get ECR cold         cache file deleted before each run; one exchange with FakeECR
    peer ecr-login       Debian's `docker-credential-ecr-login get` (Go) with a pre-filled
                         cache for the same kind of registry, as the compiled peer. Measured
                         only when installed; this bench installs nothing. To add it:
                         `apt-get install --no-install-recommends amazon-ecr-credential-helper`
    install paths        `get` plain secret through the executable that each way of installing
                         writes (install.sh, the dev container Feature, `pip install` into a
                         fresh venv with its bundled pip, `pipx install`), and `python -c pass`
                         of the venv each made: each is installed first into a fresh venv in
                         the bench's temporary directory, offline from .venv/wheelhouse (which
                         tests/run.sh builds). `--no-installs` skips them.

Targets (their numbers are defined once, in bench/targets.py): `get` plain secret, not found
and ECR cached, a factor of the baseline's median; `list` with 50 triples, a factor too; 1,000
triples, a few milliseconds more than 1 triple; cold ECR, a factor of the boto3 baseline plus
one loopback round trip (one signed POST to FakeECR on a new connection, timed here once per
round); peak RSS of those hot paths (the three `get`s and `list`), a slack over the baseline's;
each install path's `get`, the hot factor of its own venv's `python -c pass`.
The table's target column prints each with its number.

How it measures, and why:

* Wall time is `time.perf_counter` from just before the fork to the reaped exit, with stdin
  given as bytes in a pipe and stdout and stderr read to the end: what docker waits for. The
  child's environment is put in place before the clock starts, as docker's Go runtime builds
  it before its fork; the kernel's copy of it into the new process is timed.
* Peak RSS is `ru_maxrss` from `os.wait4` of each child. Linux carries the *parent's* memory
  into a child's `ru_maxrss` (a forked child starts with the parent's pages, and after
  posix_spawn/vfork `exec` records the parent's own high-water mark), so children spawned by
  this process would all read about its own 20-odd MiB. Every child is therefore forked by a
  lean spawner: the few spawner functions of bench/measurement.py run as `python -I -S -c
  <their source>`, which imports only built-in modules. Its floor (a child running `true`) is
  printed in the header; readings above it are exact.
* Scenario order is shuffled every round (seeded, printed) so no scenario always follows the
  expensive ones; one untimed warm-up run of each checks its answer and warms the page cache
  and bytecode caches. Every timed run's answer is checked too; a wrong answer is an ERROR row.
"""

import sys

# Before anything else is imported: the bench runs from a checkout and leaves no bytecode in it.
sys.dont_write_bytecode = True
