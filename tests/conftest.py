"""Shared test settings: hypothesis profiles and the path of the shared datasets.

Profiles: ``ci`` (default; modest example counts so the suite stays within minutes on
2 cores) and ``thorough`` (``HYPOTHESIS_PROFILE=thorough pytest``). Deadlines are off:
the first call of a kernel includes Numba's compilation.
"""

import os
import sys
from pathlib import Path

import numba.core.event
import pytest
from hypothesis import HealthCheck, settings

from minisr._jit import compile_notice
from minisr.warmup import CompileHelper

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


class _PrecompileHelper(CompileHelper):
    """``tests/precompile.py`` (see its docstring) as minisr's compile helper runs its
    own: started at most once, never outliving the session, switched off by
    ``MINISR_COMPILE_HELPER=0``."""

    def __init__(self):
        super().__init__(model=None)

    def wanted(self) -> bool:
        return os.environ.get("MINISR_COMPILE_HELPER", "1") != "0" and (os.cpu_count() or 1) >= 2

    def command(self) -> list:
        return [sys.executable, str(Path(__file__).with_name("precompile.py"))]


class _StartAtFirstMinisrCompile(numba.core.event.Listener):
    """Starts ``helper`` when the first minisr kernel is compiled in this session, i.e.
    only on a cold cache (a test's own fresh ``@njit`` function does not count)."""

    def __init__(self, helper):
        self.helper = helper

    def on_start(self, event):
        module = getattr(event.data["dispatcher"].py_func, "__module__", "") or ""
        if module.startswith("minisr"):
            self.helper.start()

    def on_end(self, event):
        pass


@pytest.fixture(scope="session", autouse=True)
def precompile_on_a_cold_cache():
    """On a cold Numba cache, compile the kernels the suite reaches late in a second
    process (``tests/precompile.py``) while the first tests run."""
    with _PrecompileHelper() as helper, \
            numba.core.event.install_listener("numba:compile", _StartAtFirstMinisrCompile(helper)):
        yield
