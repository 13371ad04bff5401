"""`python -m docker_credential_codespaces` behaves exactly like the executable."""

from .cli import entry

entry()
