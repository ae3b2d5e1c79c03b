"""Checkpoints: everything a run needs to continue bit for bit, in one ``.npz``.

    model/<parameter>          weights                 model/feature.weight, model/deconv.bias
    optim/<parameter>/<buffer> optimiser buffers       optim/deconv.weight/m
    __meta__                   JSON: format, model config, optimiser scalars (type, steps,
                               groups and their rates), the training state (step, the RNG
                               state that draws the current epoch's order, best PSNR, time
                               spent) and the run's settings

Files are written to a temporary name in the same folder, flushed to disk, then
renamed over the old one (:func:`minisr.atomic.atomic_write`), so a crash or Ctrl-C
while saving leaves the previous checkpoint intact.
"""

import json
from typing import NamedTuple

import numpy as np

from ..atomic import atomic_savez
from ..model import FSRCNN, build_from_config, parse_config, read_npz

FORMAT = "minisr-checkpoint-1"


class CheckpointError(OSError):
    """A checkpoint could not be written (disk full, permissions); the previous one,
    if any, is intact. The message is one line naming the file."""


def save_checkpoint(path, model, optimizer, state: dict) -> None:
    """Write model, optimiser and ``state`` (JSON-able: step, RNG state, settings, ...)."""
    arrays = {f"model/{name}": p.data for name, p in model.named_parameters()}
    optim = optimizer.state_dict()
    for name, buffers in optim.pop("buffers").items():
        for buffer, array in buffers.items():
            arrays[f"optim/{name}/{buffer}"] = array
    meta = {"format": FORMAT, "model_config": model.config, "optimizer": optim, "state": state}
    arrays["__meta__"] = np.array(json.dumps(meta))
    atomic_savez(path, arrays)


class Checkpoint(NamedTuple):
    model_config: dict
    weights: dict           # parameter name -> array
    optimizer_state: dict   # as Optimizer.state_dict() returns it
    state: dict             # the training state saved with it
    path: str = ""          # the file it was read from (for messages)


STATE_KEYS = ("step", "epoch", "epoch_rng_state", "best", "elapsed", "settings")


def load_checkpoint(path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises ValueError with one line naming the file for anything else: a truncated or
    corrupt file (``read_npz``), a missing or malformed ``__meta__``, weights that are
    not finite numbers.
    """
    arrays = read_npz(path)
    if "__meta__" not in arrays:
        raise ValueError(f"{path}: not a minisr training checkpoint (no __meta__ entry)")
    try:
        meta = json.loads(str(arrays.pop("__meta__")))
    except ValueError as error:
        raise ValueError(f"{path}: damaged checkpoint: its __meta__ entry is not JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"{path}: checkpoint format {found!r}, expected {FORMAT!r}")
    missing = [key for key in ("model_config", "optimizer", "state") if not isinstance(meta.get(key), dict)]
    missing += [f"state.{key}" for key in STATE_KEYS if key not in meta.get("state", {})]
    if missing:
        raise ValueError(f"{path}: damaged checkpoint: {', '.join(missing)} missing or malformed")
    weights, buffers = {}, {}
    for key, array in arrays.items():
        kind, _, rest = key.partition("/")
        if array.dtype.kind != "f":
            raise ValueError(f"{path}: damaged checkpoint: {key} holds {array.dtype}, not floats")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{path}: {key} holds NaN/Inf values; this checkpoint cannot be resumed")
        if kind == "model":
            weights[rest] = array
        elif kind == "optim":
            name, _, buffer = rest.rpartition("/")
            buffers.setdefault(name, {})[buffer] = array
    optimizer_state = dict(meta["optimizer"], buffers=buffers)
    return Checkpoint(meta["model_config"], weights, optimizer_state, meta["state"], str(path))


def restore_model(checkpoint: Checkpoint) -> FSRCNN:
    """The checkpoint's model, with its weights, checked as a model file is
    (configuration, names, shapes, float values; ValueError naming the file)."""
    config = parse_config(json.dumps(checkpoint.model_config), checkpoint.path)
    return build_from_config(config)._set_weights(checkpoint.weights, checkpoint.path)
