"""Test-wide settings: property tests draw the same examples on every CI run.

Under ``CI`` (set by ``.ci/run``'s environment, as CI services do) hypothesis is derandomized,
so a CI result does not depend on the draw; a developer's run explores new examples each
time and, when one fails, the failing example is added to the tests as a fixed case.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
