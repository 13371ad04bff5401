"""`python -m docker_credential_codespaces` behaves exactly like the executable."""

import sys

from .cli import main

sys.exit(main())
