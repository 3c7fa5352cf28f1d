"""Shared test configuration. The harness that runs the real appliance is tests/harness.py;
fixtures built on it are in tests/integration/conftest.py."""
