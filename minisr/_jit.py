"""The one place where Numba's compilation settings are chosen.

Every kernel in minisr is decorated with :func:`kernel` (a parallel kernel whose
outer loop is a ``prange``), :func:`serial_kernel` (small helpers),
:func:`reference_kernel` (the plain loop nests of ``kernels/reference.py``) or
:func:`exact_kernel` (image arithmetic that must match NumPy's to the bit).

* ``cache=True`` keeps the compiled machine code on disk (``__pycache__``), so the
  second run of a program does not compile again. The cache is keyed by each kernel's
  source file and argument types, not by the options below: after changing them, delete
  ``minisr/kernels/__pycache__`` (or point ``NUMBA_CACHE_DIR`` at an empty folder).
  Each kernel is compiled once per dtype (float32 for work, float64 for gradient checks);
  every caller passes C-contiguous arrays, so there are no other variants to compile.
* ``parallel`` covers the ``prange`` loops only (``PRANGE_ONLY``), not the array
  expressions around them: with ``parallel=True`` Numba makes each ``np.zeros`` or
  ``row[:] = value`` a parallel loop too, each with a compiled thread launch of its own.
  Measured on the quiet 2-core test machine, alternating: the first
  ``python -m minisr.upscale`` (Set14 lenna x3, empty cache) took 7.9 and 7.7 s instead
  of 11.5 and 10.4 s; the inference pass of ``python -m minisr.bench`` 15.3 / 13.9 /
  13.2 ms against 19.1 / 19.5 / 14.6 ms, the training step 12.5 / 19.6 / 13.7 against
  22.5 / 17.0 / 17.5 ms (no slower; these runs swing by a third).
* ``fastmath`` is a *subset* of LLVM's fast-math flags: re-association and
  contraction (so reductions vectorise and ``a*b + c`` becomes one FMA) but not
  ``nnan``/``ninf``: a diverging training run must still produce NaN/Inf that the
  training loop can detect.
* Set ``NUMBA_DISABLE_JIT=1`` to run every kernel as plain Python (slowly) and step
  through it in a debugger; ``prange`` then behaves like ``range``.
"""

import contextlib
import os
import sys

# Numba's OpenMP threads wait for work by sleeping, not spinning: on a 2-core machine a
# spinning idle thread steals the core that another process (or NumPy's BLAS) needs,
# and a training step then took 2-10x longer whenever anything else ran. Measured in
# experiments/results/speed.md. Must be set before the thread pool starts; a value the
# user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402  (after the environment is set)
import numba.core.event  # noqa: E402
from numba.core.cpu_options import ParallelOptions  # noqa: E402

FASTMATH_FLAGS = {"contract", "reassoc", "nsz", "arcp"}

# Parallel over the ``prange`` loops only. ``parallel=True`` would also turn every array
# expression of a kernel (``np.zeros``, ``row[:] = b``, ``a += b``) into a parallel loop of
# its own, each costing about 0.7 s of compilation; ours are small (or inside a
# ``prange`` task, where they run on one thread anyway). A ``ParallelOptions`` object,
# not a dict: Numba empties a dict as it reads it, so a second compilation of the same
# kernel would get the defaults (everything parallel).
PRANGE_ONLY = ParallelOptions({"prange": True, "comprehension": False, "reduction": False,
                               "inplace_binop": False, "setitem": False, "numpy": False,
                               "stencil": False, "fusion": False})

kernel = numba.njit(parallel=PRANGE_ONLY, cache=True, fastmath=FASTMATH_FLAGS, nogil=True)
serial_kernel = numba.njit(parallel=False, cache=True, fastmath=FASTMATH_FLAGS, nogil=True)
# The reference kernels (``kernels/reference.py``) are compiled as plainly as possible:
# no fastmath (every sum in the order it is written), no parallel loops. ``nogil`` only
# lets the worker threads of data-parallel training run them side by side.
reference_kernel = numba.njit(cache=True, nogil=True)
# Image arithmetic that must give NumPy's (and MATLAB's) numbers bit for bit, e.g. the
# colour conversion before rounding to 8 bits: parallel over rows, but no fastmath, so
# every expression is evaluated in the order it is written, with no fused multiply-adds.
exact_kernel = numba.njit(parallel=PRANGE_ONLY, cache=True, nogil=True)
prange = numba.prange


def set_threads(count: int) -> None:
    """Use ``count`` threads in every parallel kernel (``NUMBA_NUM_THREADS`` sets the
    maximum; this can only lower it)."""
    maximum = numba.config.NUMBA_NUM_THREADS
    if not 1 <= count <= maximum:
        raise ValueError(f"--threads must be between 1 and {maximum}, got {count}")
    numba.set_num_threads(count)


class _FirstCompile(numba.core.event.Listener):
    """Calls each of ``calls`` when Numba starts compiling, the first time only.

    Numba sends a "numba:compile" event only when it really compiles a function: a
    signature found in the on-disk cache is loaded without one.
    """

    def __init__(self, *calls):
        self.calls, self.done = calls, False

    def on_start(self, event):
        if not self.done:
            self.done = True
            for call in self.calls:
                call()

    def on_end(self, event):
        pass


@contextlib.contextmanager
def compile_notice(stream=None, on_first=None):
    """Say on stderr that Numba is compiling, once, if anything inside the block is
    compiled (only the first run of a program compiles; the machine code is cached,
    so a later run prints nothing however long it takes). ``on_first()``, if given, is
    called then too (:mod:`minisr.warmup` starts its helper process)."""
    stream = stream if stream is not None else sys.stderr

    def notice():
        print("compiling minisr's Numba kernels (first run only; cached for later runs) ...",
              file=stream, flush=True)

    calls = (notice,) if on_first is None else (notice, on_first)
    with numba.core.event.install_listener("numba:compile", _FirstCompile(*calls)):
        yield


class _CompiledNames(numba.core.event.Listener):
    """Appends the qualified name of each function Numba compiles whose module starts
    with ``prefix`` to ``names``."""

    def __init__(self, prefix: str, names: list):
        self.prefix, self.names = prefix, names

    def on_start(self, event):
        function = event.data["dispatcher"].py_func
        if (getattr(function, "__module__", "") or "").startswith(self.prefix):
            self.names.append(function.__qualname__)

    def on_end(self, event):
        pass


@contextlib.contextmanager
def compiled_functions(prefix: str = "minisr"):
    """Yield a list that fills, while the block runs, with the names of the functions
    of modules starting with ``prefix`` that Numba really compiles (not those loaded
    from the on-disk cache): ``[]`` after the block means everything came from the
    cache or was compiled before (tests/test_warmup.py)."""
    names = []
    with numba.core.event.install_listener("numba:compile", _CompiledNames(prefix, names)):
        yield names
