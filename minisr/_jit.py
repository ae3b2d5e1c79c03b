"""The one place where Numba's compilation settings are chosen.

Every kernel in minisr is decorated with :func:`kernel` (a parallel kernel whose
outer loop is a ``prange``) or :func:`serial_kernel` (small helpers).

* ``cache=True`` keeps the compiled machine code on disk (``__pycache__``), so the
  second run of a program does not compile again.
* ``fastmath`` is a *subset* of LLVM's fast-math flags: re-association and
  contraction (so reductions vectorise and ``a*b + c`` becomes one FMA) but not
  ``nnan``/``ninf``: a diverging training run must still produce NaN/Inf that the
  training loop can detect.
* Set ``NUMBA_DISABLE_JIT=1`` to run every kernel as plain Python (slowly) and step
  through it in a debugger; ``prange`` then behaves like ``range``.
"""

import numba

FASTMATH_FLAGS = {"contract", "reassoc", "nsz", "arcp"}

kernel = numba.njit(parallel=True, cache=True, fastmath=FASTMATH_FLAGS, nogil=True)
serial_kernel = numba.njit(parallel=False, cache=True, fastmath=FASTMATH_FLAGS, nogil=True)
prange = numba.prange
