"""The first run's compiling, shared between two processes.

The very first ``python -m minisr.upscale`` compiles about a dozen Numba kernels (the
machine code is then cached on disk, ``cache=True``, and later runs only load it). On
one core that was 18.4 s of a 19.9 s run on the 2-core Zen 3 test machine (Set14
lenna x3, empty cache): ``forward_stride1`` 7.4 s, ``pointwise_forward`` 5.0 s,
``depth_to_space`` 1.5 s, and the colour conversion and bicubic kernels 3.7 s.

Numba compiles on one thread, under a lock, so threads cannot share the work; two
*processes* can, because each writes what it compiles to the same on-disk cache, where
the other then finds it. So :func:`warm_up` runs the inference pass in two shares::

    this process:    every layer but the 1x1 convolutions (the k x k and the
                     deconvolution kernels)
    helper process:  the 1x1 convolutions, then the colour conversion and bicubic
                     chroma of an RGB image      (python -m minisr.warmup, started
                                                  only when something must compile)
    this process:    waits for the helper, then runs the whole tool's path once on a
                     12 x 12 RGB image: every kernel now loads from the cache

``warm_up(model, "evaluate")`` (``python -m minisr.evaluate``) is the same with the
test protocol (a test pair read from a file, downscaled and scored) in place of the
colour path. Measured side by side with one process compiling alone:
``python benchmarks/first_run.py`` (``experiments/results/first_run.md``).

A first ``python -m minisr.train`` shares its training kernels (forward and backward)
the same way, layer by layer (:func:`run_training_layers`): the helper takes the 1x1
convolutions and the PReLUs, this process the k x k convolutions and the
deconvolution, after making the training pairs; the helper starts at the first
compilation of the run (the bicubic kernels the pairs need, or the first layer), so
only on a cold cache. Then this process runs one small training step and a validation
pass (:func:`run_training_share`), loading every kernel from the cache.

Each layer runs alone on a 12 x 12 input of zeros, with the borders it gets and gives
inside the real pass (:func:`run_step`), so that it compiles the very signatures the
real pass needs. The helper is an optimisation only: if it fails, is slow or the cache
cannot be written, this process compiles what is missing itself, as before. It is not
started when nothing compiles (a warm cache), with one Numba thread (``--threads 1``:
one core asked for), or with ``MINISR_COMPILE_HELPER=0``.
"""

import json
import os
import subprocess
import sys

import numpy as np

from ._jit import compile_notice
from .layers import Conv2d, PReLU
from .layers.base import Workspace
from .model import build_from_config, inference_steps, resizes
from .superres import scale_models, upscale_arrays

WARM_SIZE = 12  # LR side of the images the warm-up runs on
HELPER_TIMEOUT_S = 600  # beyond this the helper is stopped and this process compiles alone


def layer_channels(layer):
    """The input channels of a layer that a share can run alone (convolutions,
    deconvolutions, PReLUs), else None (a padding layer: left to the final pass)."""
    if isinstance(layer, PReLU):
        return layer.channels
    return getattr(layer, "in_channels", None)


def in_helper_share(layer) -> bool:
    """Whether the helper process compiles this layer's kernels: the 1x1 convolutions
    (``pointwise_forward``); every other layer is compiled by the calling process."""
    return isinstance(layer, Conv2d) and layer.kernel_size == 1


def run_step(steps, index: int, dtype, size: int = WARM_SIZE) -> None:
    """Run inference step ``index`` of ``steps`` (:func:`minisr.model.inference_steps`)
    alone on zeros of ``size`` x ``size`` LR pixels, taking and giving the borders it
    takes and gives inside :func:`minisr.model.infer_chain`, so that it compiles the
    kernels, with the argument types, of the real pass."""
    layer, prelu = steps[index]
    border = steps[index][0].input_border()[0] if index > 0 else 0
    out_border = steps[index + 1][0].input_border() if index + 1 < len(steps) else (0, False)
    side = size + 2 * border  # a batch of one: packed (C, H, W*1) is (C, H, W)
    x = np.zeros((layer_channels(layer), side, side), dtype)
    options = {} if prelu is None else {"prelu": prelu}
    if resizes(layer):  # the exact size, where it fits (after a Pad2d layer it may not)
        wanted = layer.stride * size
        if layer.padding + wanted <= layer.canvas_size(size):
            options["output_size"] = (wanted, wanted)
    layer.infer_packed(x, 1, border, Workspace(keep=False), out_border, **options)


def run_share(model, helper: bool, path: str = "upscale") -> None:
    """Compile this process's share of ``model``'s kernels (see the module docstring);
    ``helper=True``: the helper's share, with the image path around the network:
    ``path`` "upscale" (the tool's colour path) or "evaluate" (the test protocol)."""
    for network in scale_models(model).values():
        steps = inference_steps(network.layers)
        for index, (layer, _) in enumerate(steps):
            if layer_channels(layer) is not None and in_helper_share(layer) == helper:
                run_step(steps, index, network.dtype)
    if helper:
        (run_colour_path if path == "upscale" else run_protocol_path)(model)


def run_protocol_path(model) -> None:
    """The test protocol around the network (``python -m minisr.evaluate``): a test pair
    read from an image file (Y, modcrop, bicubic downscaling) and scored."""
    import tempfile

    from PIL import Image

    from .image.protocol import evaluate_pair, load_test_pair

    with tempfile.TemporaryDirectory(prefix="minisr-warmup-") as folder:
        path = os.path.join(folder, "warm.png")
        Image.fromarray(tiny_rgb(2 * WARM_SIZE)).save(path)
        for scale in scale_models(model):
            hr, _ = load_test_pair(path, scale)
            evaluate_pair(hr, hr, scale)


class NetworkStandIn:
    """Zeros of the network's output shape and dtype in place of its pass: the colour
    path of :func:`minisr.superres.upscale_arrays` without the network's kernels."""

    def __init__(self, scale: int, dtype):
        self.scale, self.dtype = scale, np.dtype(dtype)

    def infer(self, x: np.ndarray) -> np.ndarray:
        n, _, h, w = x.shape
        return np.zeros((n, 1, self.scale * h, self.scale * w), self.dtype)


def tiny_rgb(size: int = WARM_SIZE) -> np.ndarray:
    """A (size, size, 3) uint8 RGB picture (a ramp, so every channel varies)."""
    ramp = np.arange(size * size * 3, dtype=np.int64).reshape(size, size, 3)
    return (ramp * 7 % 256).astype(np.uint8)


def run_colour_path(model) -> None:
    """The tool's path for an 8-bit RGB image (to YCbCr, bicubic chroma, back to 8-bit
    RGB) with :class:`NetworkStandIn` in place of each network."""
    for scale, network in scale_models(model).items():
        upscale_arrays(tiny_rgb(), NetworkStandIn(scale, network.dtype), dtype=np.uint8)


def in_helper_training_share(layer) -> bool:
    """Whether the helper compiles this layer's training kernels: the 1x1 convolutions
    and the PReLUs (``pointwise_*``, ``prelu_*``, about 15 s on the 2-core Zen 3 machine);
    the k x k convolutions and the deconvolution (``forward_stride1``,
    ``weight_grad_stride1``, padding, sub-pixel reshuffles, about 19 s) stay here."""
    return isinstance(layer, PReLU) or in_helper_share(layer)


def run_training_layers(model, helper: bool, size: int = 7) -> None:
    """Forward and backward (input gradient included) of each layer of this process's
    training share, alone, on zeros of a batch of 2 images ``size`` x ``size``."""
    batch = 2
    for network in scale_models(model).values():
        for layer in network.layers:
            channels = layer_channels(layer)
            if channels is None or in_helper_training_share(layer) != helper:
                continue
            x = np.zeros((channels, size, size * batch), network.dtype)  # packed (C, H, W*N)
            y = layer.forward_packed(x, batch)
            layer.backward_packed(np.zeros_like(y), input_grad=True)
            layer.zero_grad()


def run_training_share(model, patch: int = 7) -> None:
    """The kernels of a training step as ``python -m minisr.train`` runs it (forward, MSE
    loss, backward without the input gradient, on 2 patches of ``patch`` x ``patch`` LR
    pixels) and of a validation pass (``model.infer``), in the model's dtype."""
    from .training.parallel import batch_gradients  # imported late: it imports the layers

    for network in scale_models(model).values():
        x = np.zeros((2, 1, patch, patch), network.dtype)
        target = np.zeros_like(network.forward(x))
        batch_gradients(network, x, target)
        network.infer(x)
        network.zero_grad()


def run_whole_path(model) -> None:
    """The tool's whole path once on a small RGB image: the network and the colour."""
    upscale_arrays(tiny_rgb(), model, dtype=np.uint8)


class CompileHelper:
    """The helper process, started by :meth:`start` (at most once; a no-op when it
    would not help), waited for by :meth:`wait`. As a context manager it is stopped on
    the way out, whatever happens inside (an error, Ctrl-C): it never outlives the
    command that started it."""

    def __init__(self, model, share: str = "upscale"):
        self.model, self.share = model, share  # share: "upscale", "evaluate" or "train"
        self.process = None
        self.started = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def wanted(self) -> bool:
        import numba

        if os.environ.get("MINISR_COMPILE_HELPER", "1") == "0" or numba.get_num_threads() < 2:
            return False
        networks = scale_models(self.model).values()
        return all(getattr(network, "kernels", None) == "fast" and hasattr(network, "config")
                   for network in networks)

    def command(self) -> list:
        networks = [{"config": network.config, "dtype": np.dtype(network.dtype).name}
                    for network in scale_models(self.model).values()]
        return [sys.executable, "-m", "minisr.warmup", self.share, json.dumps(networks)]

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        if not self.wanted():
            return
        env = dict(os.environ, NUMBA_NUM_THREADS="1", MINISR_COMPILE_HELPER="0")
        try:
            self.process = subprocess.Popen(self.command(), env=env, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:  # no helper: this process compiles everything, as it would anyway
            self.process = None

    def wait(self) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=HELPER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.stop()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def warm_up(model, path: str = "upscale") -> None:
    """Compile (on a first run, saying so on stderr) or load every kernel that ``path``
    needs for ``model`` ("upscale": the upscale tool's, "evaluate": the test protocol's),
    so that the real work starts at full speed; on a first run the compiling is shared
    with a helper process (module docstring)."""
    if path not in ("upscale", "evaluate"):
        raise ValueError(f"path must be 'upscale' or 'evaluate', got {path!r}")
    with CompileHelper(model, share=path) as helper, compile_notice(on_first=helper.start):
        run_share(model, helper=False, path=path)
        helper.wait()
        if path == "upscale":
            run_whole_path(model)
        else:
            for network in scale_models(model).values():
                network.infer(np.zeros((1, 1, WARM_SIZE, WARM_SIZE), network.dtype))
            run_protocol_path(model)


def main(argv=None) -> int:
    """The helper process: ``python -m minisr.warmup SHARE NETWORKS_JSON`` compiles the
    helper's share of the upscale tool (SHARE ``upscale``), of the test protocol
    (``evaluate``) or of a training run (``train``) for the networks described (a JSON
    list of ``{"config", "dtype"}``)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] not in ("upscale", "evaluate", "train"):
        print("usage: python -m minisr.warmup upscale|evaluate|train NETWORKS_JSON\n"
              "(started by minisr's commands on a first run; see minisr/warmup.py)", file=sys.stderr)
        return 2
    share, described = argv
    networks = {}
    for entry in json.loads(described):
        network = build_from_config(entry["config"], dtype=np.dtype(entry["dtype"]))
        networks[network.scale] = network
    model = networks[min(networks)] if len(networks) == 1 else _Heads(networks)
    if share == "train":
        run_training_layers(model, helper=True)
    else:
        run_share(model, helper=True, path=share)
    return 0


class _Heads:
    """The networks of a multi-scale model, as :func:`scale_models` reads them."""

    def __init__(self, networks: dict):
        self.models = networks


if __name__ == "__main__":
    sys.exit(main())
