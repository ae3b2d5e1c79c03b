"""Mean squared error, FSRCNN's training loss."""

import numpy as np


def mse_loss(prediction: np.ndarray, target: np.ndarray):
    """Return ``(loss, dprediction)`` for ``loss = mean((prediction - target)**2)``.

    Shapes: both (N, C, H, W) (any equal shapes work). The gradient is
    ``2 * (prediction - target) / prediction.size``, in the prediction's dtype.
    The loss is accumulated in float64.
    """
    if prediction.shape != target.shape:
        raise ValueError(f"prediction {prediction.shape} and target {target.shape} differ in shape")
    diff = prediction - target.astype(prediction.dtype, copy=False)
    loss = float(np.mean(np.square(diff, dtype=np.float64)))
    grad = (2.0 / diff.size) * diff
    return loss, grad.astype(prediction.dtype, copy=False)
