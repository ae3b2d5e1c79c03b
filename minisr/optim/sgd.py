"""Parameter groups, the Optimizer base class, and SGD with momentum (Caffe's rule).

A *group* is a set of parameters sharing one learning rate. FSRCNN is trained with
two: every convolution at 1e-3 and the deconvolution at 1e-4 (the paper's recipe),
chosen by parameter-name prefix::

    groups = param_groups(model.named_parameters(), lr=1e-3, prefix_lr={"deconv.": 1e-4})
    opt = SGD(groups, momentum=0.9)
    model.zero_grad(); ...; model.backward(dy); opt.step()

Parameters left out of every group (frozen ones) are never touched by ``step``.
"""

import numpy as np


def param_groups(named_parameters, lr: float, prefix_lr=None, trainable=None) -> list:
    """Split ``[(name, Parameter)]`` into groups by name prefix.

    ``prefix_lr`` maps a prefix to its learning rate (first matching prefix wins);
    other parameters go to the group ``"default"`` at ``lr``. ``trainable(name)``,
    if given, drops the parameters it returns False for (they stay frozen).
    Returns ``[{"name", "lr", "params": [(name, Parameter)]}]`` without empty groups.
    """
    prefix_lr = dict(prefix_lr or {})
    groups = {"default": {"name": "default", "lr": float(lr), "params": []}}
    for prefix, value in prefix_lr.items():
        groups[prefix] = {"name": prefix, "lr": float(value), "params": []}
    for name, p in named_parameters:
        if trainable is not None and not trainable(name):
            continue
        key = next((prefix for prefix in prefix_lr if name.startswith(prefix)), "default")
        groups[key]["params"].append((name, p))
    return [g for g in groups.values() if g["params"]]


class Optimizer:
    """Holds the groups and, per parameter (by name), the buffers of the update rule.

    Each group has a fixed ``base_lr`` and a current ``lr``; a schedule sets
    ``lr = base_lr * factor`` through :meth:`set_lr_factor` before each step.
    ``state_dict()`` / ``load_state_dict()`` save and restore everything a
    bit-for-bit resume needs (buffers, step count, current rates).
    """

    #: names of the per-parameter buffers (``"velocity"`` for SGD; ``"m"``, ``"v"`` for Adam)
    buffer_names: tuple = ()

    def __init__(self, groups, lr=None):
        groups = list(groups)
        if groups and isinstance(groups[0], tuple):  # a plain [(name, Parameter)] list
            if lr is None:
                raise ValueError("give lr when passing a plain parameter list")
            groups = [{"name": "default", "lr": lr, "params": groups}]
        self.groups = []
        seen = set()
        for g in groups:
            names = [name for name, _ in g["params"]]
            if seen.intersection(names):
                raise ValueError(f"parameters in more than one group: {sorted(seen.intersection(names))}")
            seen.update(names)
            self.groups.append({"name": g["name"], "base_lr": float(g["lr"]), "lr": float(g["lr"]),
                                "params": list(g["params"])})
        self.steps = 0
        self.buffers = {name: {b: np.zeros_like(p.data) for b in self.buffer_names}
                        for g in self.groups for name, p in g["params"]}

    def set_lr_factor(self, factor: float) -> None:
        """``lr = base_lr * factor`` in every group (called by the training loop's schedule)."""
        for g in self.groups:
            g["lr"] = g["base_lr"] * float(factor)

    def step(self) -> None:
        """Update every parameter from its accumulated ``.grad`` (call after backward)."""
        self.steps += 1
        for g in self.groups:
            for name, p in g["params"]:
                self.update(p.data, p.grad, g["lr"], self.buffers[name])

    def update(self, w, grad, lr, buffers) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def hyperparameters(self) -> dict:
        return {}

    # --------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """``{"type", "steps", "hyper", "groups": [{name, base_lr, lr, params}],
        "buffers": {param_name: {buffer_name: array}}}`` (arrays are copies)."""
        return {
            "type": type(self).__name__, "steps": self.steps, "hyper": self.hyperparameters(),
            "groups": [{"name": g["name"], "base_lr": g["base_lr"], "lr": g["lr"],
                        "params": [name for name, _ in g["params"]]} for g in self.groups],
            "buffers": {name: {b: a.copy() for b, a in bufs.items()} for name, bufs in self.buffers.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output; the groups must hold the same parameters."""
        if state["type"] != type(self).__name__:
            raise ValueError(f"optimizer state is for {state['type']}, not {type(self).__name__}")
        mine = [(g["name"], [n for n, _ in g["params"]]) for g in self.groups]
        theirs = [(g["name"], list(g["params"])) for g in state["groups"]]
        if mine != theirs:
            raise ValueError(f"optimizer state has other parameter groups: {theirs} vs {mine}")
        for name, bufs in self.buffers.items():
            for b, array in bufs.items():
                saved = np.asarray(state["buffers"][name][b])
                if saved.shape != array.shape:
                    raise ValueError(f"optimizer buffer {name}/{b}: shape {saved.shape}, expected {array.shape}")
                array[...] = saved
        for g, saved in zip(self.groups, state["groups"]):
            g["base_lr"], g["lr"] = float(saved["base_lr"]), float(saved["lr"])
        self.steps = int(state["steps"])


class SGD(Optimizer):
    """Stochastic gradient descent with momentum and L2 weight decay, as in Caffe::

        v <- momentum * v + lr * (grad + weight_decay * w)
        w <- w - v

    (With a constant ``lr`` this equals PyTorch's ``v <- mu v + g; w <- w - lr v``;
    when the rate changes, Caffe's velocity keeps the old rate's steps.)
    """

    buffer_names = ("velocity",)

    def __init__(self, groups, lr=None, momentum: float = 0.9, weight_decay: float = 0.0):
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
        super().__init__(groups, lr)

    def update(self, w, grad, lr, buffers):
        v = buffers["velocity"]
        dtype = w.dtype.type
        g = grad + dtype(self.weight_decay) * w if self.weight_decay else grad
        v *= dtype(self.momentum)
        v += dtype(lr) * g
        w -= v

    def hyperparameters(self):
        return {"momentum": self.momentum, "weight_decay": self.weight_decay}
