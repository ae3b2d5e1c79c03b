"""minisr: FSRCNN super-resolution from scratch in NumPy and Numba."""

__version__ = "0.1.0"
