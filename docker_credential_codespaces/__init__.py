"""docker-credential-codespaces: Docker credentials from dev container secrets, resolved lazily.

Kept empty apart from the version: every `get` imports this package, and anything here
costs start-up time on docker's hot path.
"""

__version__ = "0.1.0"
