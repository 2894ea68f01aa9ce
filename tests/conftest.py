"""Plugins and markers only; fixtures live in tests/fixtures/."""

import pytest

pytest_plugins = [
    "tests.fixtures.cluster",
    "tests.fixtures.drivers",
    "tests.fixtures.proxy",
    "tests.fixtures.tls",
]


def pytest_configure(config: pytest.Config) -> None:
    for marker in (
        "managed_cluster: needs the temporary cluster's roles and pg_hba.conf (skipped under a DSN)",
        "differential: runs the same calls through asyncpg and asyncpg_rs and compares",
        "slow: takes more than a few seconds (starts its own cluster, large data, ...)",
    ):
        config.addinivalue_line("markers", marker)
