"""Shared test settings: hypothesis profiles and the path of the shared datasets.

Profiles: ``ci`` (default; modest example counts so the suite stays within minutes on
2 cores) and ``thorough`` (``HYPOTHESIS_PROFILE=thorough pytest``). Deadlines are off:
the first call of a kernel includes Numba's compilation.
"""

import os
import subprocess
import sys
from pathlib import Path

import numba.core.event
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


class _StartPrecompile(numba.core.event.Listener):
    """Starts ``tests/precompile.py`` (see its docstring) when the first minisr kernel is
    compiled in this session, i.e. only on a cold cache; at most once."""

    def __init__(self):
        self.process = None
        self.started = False

    def on_start(self, event):
        module = getattr(event.data["dispatcher"].py_func, "__module__", "") or ""
        if self.started or not module.startswith("minisr") or (os.cpu_count() or 1) < 2:
            return
        self.started = True
        if os.environ.get("MINISR_COMPILE_HELPER", "1") == "0":
            return
        script = Path(__file__).with_name("precompile.py")
        try:
            self.process = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                            env=dict(os.environ, NUMBA_NUM_THREADS="1"))
        except OSError:  # no helper: the tests compile everything themselves, as before
            self.process = None

    def on_end(self, event):
        pass

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session", autouse=True)
def precompile_on_a_cold_cache():
    """On a cold Numba cache, compile the kernels the suite reaches late in a second
    process (``tests/precompile.py``) while the first tests run."""
    starter = _StartPrecompile()
    with numba.core.event.install_listener("numba:compile", starter):
        yield
    starter.stop()
