"""The fault suite: faults done to a running appliance while a member saves notebooks all along (saver.py).
For each, the time members saw errors and what they saw, and afterwards every notebook a member was told
was saved read back from the storage: none lost, none corrupted. Appliances come from the integration
tier's fixtures (tests/integration/conftest.py)."""

from tests.integration.conftest import running

__all__ = ["running"]
