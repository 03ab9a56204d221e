"""Every unit test belongs to the quick loop (``scripts/test.sh --quick``) but those marked ``realtime``: they wait
in real time (seconds each), and the full test command runs them."""

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "/tests/unit/" in str(item.fspath) and item.get_closest_marker("realtime") is None:
            item.add_marker(pytest.mark.quick)
