"""Every scenario's name and every target's number, defined once for the whole bench.

The names are what the table, the JSON and tests/test_bench.py show; the numbers are the
project's start-up targets, which `report.verdicts` applies to the medians of one run.
"""

from __future__ import annotations

# -- scenario names ----------------------------------------------------------------------------

BASELINE = "baseline: python -c pass"
BASELINE_ISOLATED = "baseline: python -I -S -c pass"
BASELINE_1000 = "baseline: python -I -S -c pass, 1,000 triples"
BASELINE_BOTO3 = 'baseline: python -c "import boto3"'
BASELINE_BOTOCORE = "baseline: python -I, botocore.session, no teardown"
GET_PLAIN = "get: plain secret"
GET_NOT_FOUND = "get: not found"
GET_ECR_CACHED = "get: ECR, token cached"
GET_ECR_DUE = "get: ECR, past refresh point"
LIST_50 = "list: 50 triples"
GET_TRIPLES = {1: "get: 1 triple", 100: "get: 100 triples", 1000: "get: 1,000 triples"}
GET_ECR_COLD = "get: ECR cold (FakeECR)"
PEER_CACHED = "peer: ecr-login get, cached"
#: Install path -> (its `get: plain secret` row, the `python -c pass` row of its own venv).
#: Each path installs the wheel (or the checkout) into a fresh venv of its own; its `get` is
#: judged against its own venv's interpreter, as the `.pth` files there differ.
INSTALL_PATHS = {
    path: (f"get: plain secret, {how}", f"baseline: python -c pass, {path}'s venv")
    for path, how in (
        ("install.sh", "installed by install.sh"),
        ("Feature", "installed by the dev container Feature"),
        ("pip", "pip install in a fresh venv (its bundled pip)"),
        ("pipx", "pipx install"),
    )
}

# -- targets -----------------------------------------------------------------------------------

#: `get` plain secret, not found and ECR cached (and each install path's plain `get`, against
#: its own venv's baseline): median <= this times the baseline's.
HOT_FACTOR = 1.15
#: `get` ECR past its refresh point: median <= ECR cached plus this many milliseconds (a fork
#: and one small module; it happens once per token half-life, not on every pull).
DUE_EXTRA_MS = 3.0
#: `list` with 50 triples: median <= this times the baseline's.
LIST_FACTOR = 1.2
#: `get` with 1,000 triples: median <= `get` with 1 triple plus this many milliseconds.
TRIPLES_EXTRA_MS = 5.0
#: cold ECR: median <= this times the boto3 baseline's, plus one loopback round trip.
COLD_FACTOR = 1.2
#: the hot paths (the three `get`s and `list`): peak RSS <= the baseline's plus this.
RSS_SLACK_MIB = 2.0
