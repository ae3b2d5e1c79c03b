"""Learners can switch the JIT off and step through the kernels in Python."""

import os
import subprocess
import sys
import textwrap


def test_forward_and_backward_run_with_the_jit_disabled():
    script = textwrap.dedent("""
        import numba, numpy as np
        from numba.core import config
        assert config.DISABLE_JIT
        from minisr import FSRCNN, mse_loss
        from minisr.kernels.conv import forward_stride1
        assert not hasattr(forward_stride1, "py_func")  # a plain Python function now
        model = FSRCNN(4, 2, 1, 3)
        x = np.random.default_rng(0).random((1, 1, 3, 4)).astype(np.float32)
        y = model.forward(x)
        loss, dy = mse_loss(y, np.zeros_like(y))
        dx = model.backward(dy)
        assert y.shape == (1, 1, 7, 10) and dx.shape == x.shape
        assert all(np.isfinite(p.grad).all() for p in model.parameters())
        print("ok", loss)
    """)
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
