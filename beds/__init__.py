"""Test beds shared by the tests and the bench: one environment builder, one protocol client,
and one fake per server (FakeECR and moto for AWS, the Debian registry for the clients).

Not part of the product: the wheel ships only `docker_credential_codespaces`. Nothing here is
a pytest fixture; `tests/conftest.py` wraps what the tests need, and the bench imports these
modules as they are.
"""
