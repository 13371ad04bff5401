"""docker-credential-codespaces: Docker credentials from dev container secrets, resolved lazily.

Kept empty apart from the version: every `get` imports this package, and anything here
costs start-up time on docker's hot path. For the same reason no module imports `typing` at
run time: each sets `TYPE_CHECKING = False` and imports what only the type checker needs
under `if TYPE_CHECKING:`, which mypy reads as true.
"""

__version__ = "0.2.0"
