"""pytest set-up shared by tests/unit and tests/integration.

The checkout's ``tests`` directory goes on ``sys.path``, so the simulators import as
``simulators.dcimanager`` / ``simulators.whmcs`` from any test directory.
"""

import os
import sys

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)
