"""Shared test settings: hypothesis profiles and the path of the shared datasets.

Profiles: ``ci`` (default; modest example counts so the suite stays within minutes on
2 cores) and ``thorough`` (``HYPOTHESIS_PROFILE=thorough pytest``). Deadlines are off:
the first call of a kernel includes Numba's compilation.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

from minisr._jit import compile_notice

settings.register_profile("ci", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


class _ToTerminal:
    """A file-like object that writes a line on pytest's terminal even while the output
    of a test is being captured, so that the notice below reaches the screen."""

    def __init__(self, config):
        self.reporter = config.pluginmanager.get_plugin("terminalreporter")
        self.capture = config.pluginmanager.get_plugin("capturemanager")

    def write(self, text):
        if text.strip():
            with self.capture.global_and_fixture_disabled():
                self.reporter.write_line(text.strip())

    def flush(self):
        pass


@pytest.fixture(scope="session", autouse=True)
def say_when_numba_compiles(request):
    """The first run of the suite compiles every kernel (minutes of dots on a slow
    machine): say so once, when Numba actually compiles, and nothing on later runs."""
    plugins = request.config.pluginmanager
    if plugins.get_plugin("terminalreporter") is None or plugins.get_plugin("capturemanager") is None:
        yield
        return
    with compile_notice(stream=_ToTerminal(request.config)):
        yield
