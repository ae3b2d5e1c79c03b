"""Median time of one FSRCNN x3 training step (128 LR patches 11x11, forward and backward).

    python benchmarks/train_step.py [STEPS]

Used to compare Numba's thread waiting policies (OMP_WAIT_POLICY), alone and with a
second copy running at the same time; see experiments/results/wait_policy.md.
"""
import os, time, sys
import numpy as np
from minisr import FSRCNN, mse_loss
m = FSRCNN()
rng = np.random.default_rng(0)
x = rng.random((128,1,11,11), dtype=np.float32)
t = rng.random((128,1,31,31), dtype=np.float32)
def step():
    m.zero_grad(); y = m.forward(x); l, d = mse_loss(y, t); m.backward(d, input_grad=False)
step()
ts=[]
for _ in range(int(sys.argv[1]) if len(sys.argv)>1 else 50):
    s=time.perf_counter(); step(); ts.append(time.perf_counter()-s)
print(os.environ.get("OMP_WAIT_POLICY"), "median ms", round(np.median(ts)*1e3,2), "mean", round(np.mean(ts)*1e3,2))
