"""One FSRCNN trunk, several deconvolution heads: every scale from one pass of the trunk.

The paper's transfer (sections 3.4 and 4.4): train x3, then fine-tune only the
deconvolution for x2 and x4 (``python -m minisr.train --init-from x3.npz --scale 2
--finetune deconv``). The trunk -- feature extraction, shrinking, mapping,
expanding -- is then the same for every scale, so it runs once per image::

    LR (N, 1, H, W) -> trunk -> features (N, d, H, W) -> deconv x2 -> (N, 1, 2H, 2W)
                                                      -> deconv x3 -> (N, 1, 3H, 3W)
                                                      -> deconv x4 -> (N, 1, 4H, 4W)

The deconvolution is 81d of the 9ms^2 + 2sd + 106d multiply-adds per LR pixel, so
for FSRCNN(56, 12, 4) three scales cost about 1.5 times one scale instead of 3.

    multi = MultiScaleFSRCNN.from_models(["x3/best.npz", "x2/best.npz", "x4/best.npz"])
    outputs = multi.infer(lr)              # {2: (N, 1, 2H, 2W), 3: ..., 4: ...}
    multi.save("fsrcnn_multiscale.npz")
"""

import json
import threading

import numpy as np

from .atomic import atomic_savez
from .layers.base import Workspace, check_input, pack, unpack
from .model import FSRCNN, infer_chain, parse_config, read_npz
from .models import load_model


def head_config(config: dict) -> dict:
    """A model configuration without what depends on the scale (the scale itself and
    the deconvolution's crop, which FSRCNN derives from it)."""
    return {k: v for k, v in config.items() if k not in ("scale", "deconv_padding")}


class MultiScaleFSRCNN:
    """A trunk (an FSRCNN's layers before its deconvolution) and one FSRCNN per scale
    that shares those very layer objects and owns only its deconvolution."""

    def __init__(self, trunk_model: FSRCNN, heads: dict):
        self.trunk = trunk_model.layers[:-1]
        self.models = {}
        self._workspace = Workspace()  # infer()'s arrays, kept between calls
        self._workspace_lock = threading.Lock()
        for scale, deconv_model in sorted(heads.items()):
            model = FSRCNN(**head_config(trunk_model.config), scale=scale, dtype=trunk_model.dtype,
                           kernels=trunk_model.kernels)
            model.layers[:-1] = self.trunk            # the same layer objects: shared weights
            model.named_layers[:-1] = trunk_model.named_layers[:-1]
            model.deconv.weight.data[...] = deconv_model.deconv.weight.data
            model.deconv.bias.data[...] = deconv_model.deconv.bias.data
            self.models[scale] = model

    @classmethod
    def from_models(cls, models) -> "MultiScaleFSRCNN":
        """Combine single-scale models whose trunks are identical (deconv-only fine-tunes
        of one model); raises ValueError if any trunk weight differs. Each of ``models``
        is an FSRCNN or anything :func:`minisr.models.load_model` takes (a file, a name)."""
        models = [load_model(model) for model in models]
        first = models[0]
        for model in models[1:]:
            for (name, p), (_, q) in zip(first.named_parameters(), model.named_parameters()):
                if not name.startswith("deconv.") and not np.array_equal(p.data, q.data):
                    raise ValueError(f"the x{first.scale} and x{model.scale} models differ in {name}: "
                                     "only models fine-tuned with --finetune deconv share a trunk")
        heads = {model.scale: model for model in models}
        if len(heads) != len(models):
            raise ValueError("two models for the same scale")
        return cls(first, heads)

    @property
    def scales(self) -> list:
        return sorted(self.models)

    @property
    def dtype(self):
        return self.models[self.scales[0]].dtype

    def infer(self, x: np.ndarray, scales=None) -> dict:
        """x (N, 1, H, W) -> {n: (N, 1, n*H, n*W)} for each scale n (default: all): the
        trunk once, then each head; each output equals ``self.models[n].infer(x)``.

        The same engine as ``FSRCNN.infer`` (fused PReLUs, padded outputs, a kept
        workspace): the trunk's last layer writes its output with the widest border any
        head asks for (the deconvolution's T - 1 zeros, T = ceil(9 / n): 4 for x2, 2 for
        x3 and x4), and each head crops accordingly.
        """
        scales = list(scales or self.scales)
        unknown = sorted(set(scales) - set(self.models))
        if unknown:
            raise ValueError(f"no head for scale(s) {unknown}: this model has {self.scales}")
        x = check_input(x, 1, self.dtype, repr(self))
        heads = [self.models[n].deconv for n in scales]
        batch, height, width = x.shape[0], x.shape[2], x.shape[3]
        with self._workspace_lock:
            widest = (max(head.input_border()[0] for head in heads), False)
            h, border = infer_chain(self.trunk, pack(x), batch, self._workspace, widest)
            outputs = {}
            for n, head in zip(scales, heads):
                y, _ = head.infer_packed(h, batch, border, self._workspace, output_size=(n * height, n * width))
                outputs[n] = unpack(y, batch)
        return outputs

    def release_workspace(self) -> None:
        """Free the arrays ``infer`` keeps for the next call of the same size."""
        self._workspace.release()

    def __repr__(self):
        model = self.models[self.scales[0]]
        return (f"MultiScaleFSRCNN(d={model.d}, s={model.s}, m={model.m}, "
                f"scales={self.scales}{model.kernels_suffix()})")

    def save(self, path) -> None:
        """Trunk weights once, then ``x<n>/deconv.weight`` etc. per head; atomic."""
        any_model = self.models[self.scales[0]]
        arrays = {name: p.data for name, p in any_model.named_parameters() if not name.startswith("deconv.")}
        for n, model in self.models.items():
            arrays[f"x{n}/deconv.weight"] = model.deconv.weight.data
            arrays[f"x{n}/deconv.bias"] = model.deconv.bias.data
        config = head_config(any_model.config)
        arrays["__multiscale__"] = np.array(json.dumps({**config, "scales": self.scales}))
        atomic_savez(path, arrays)

    @classmethod
    def load(cls, path) -> "MultiScaleFSRCNN":
        """Read a file written by :meth:`save`: each head is checked like a model file
        (``FSRCNN``'s configuration, names, shapes, no NaN/Inf); ValueError naming
        ``path`` otherwise."""
        arrays = read_npz(path)
        if "__multiscale__" not in arrays:
            raise ValueError(f"{path}: not a minisr multi-scale model file")
        try:
            config = json.loads(str(arrays.pop("__multiscale__")))
            scales = config.pop("scales")
        except (ValueError, AttributeError, KeyError, TypeError):
            raise ValueError(f"{path}: __multiscale__ is not a JSON object with a list of scales") from None
        if not (isinstance(scales, list) and scales):
            raise ValueError(f"{path}: __multiscale__ scales must be a non-empty list, got {scales!r}")
        models = []
        for n in scales:
            head = {name: arrays[name] for name in arrays if "/" not in name}
            head.update({name.split("/", 1)[1]: array for name, array in arrays.items()
                         if name.startswith(f"x{n}/")})
            model_config = parse_config(json.dumps({**config, "scale": n}), path)
            models.append(FSRCNN(**model_config)._set_weights(head, path))
        return cls.from_models(models)
