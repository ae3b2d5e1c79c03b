"""The first run's compiling, shared with a helper process (minisr/warmup.py).

What must hold: the two shares compile exactly the kernels, with the argument types,
that the tool's path needs (so that the final pass only loads from the cache); the
helper starts only when something compiles and more than one core is allowed; a
helper that fails changes nothing but the time.
"""

import io
import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest

from minisr import _jit, warmup
from minisr.models import load_model

# Run in a fresh process with an empty cache (NUMBA_CACHE_DIR must be set before Numba
# is imported): this process's share, then the helper's as the tool starts it, then the
# real path, listing every minisr kernel that the real path still had to compile.
SHARES_SCRIPT = textwrap.dedent("""
    import subprocess, sys, tempfile
    import numpy as np
    from PIL import Image
    from minisr import warmup
    from minisr._jit import compiled_functions
    from minisr.image.protocol import evaluate_pair, load_test_pair, super_resolve
    from minisr.models import load_model
    model = load_model({spec!r}, {scale})
    warmup.run_share(model, helper=False, path={path!r})
    helper = warmup.CompileHelper(model, share={path!r})
    assert subprocess.run(helper.command(), env=dict(__import__("os").environ,
                          NUMBA_NUM_THREADS="1")).returncode == 0
    with compiled_functions("minisr") as compiled:
        if {path!r} == "upscale":
            warmup.run_whole_path(model)
        else:  # what python -m minisr.evaluate does with each image
            with tempfile.TemporaryDirectory() as folder:
                rng = np.random.default_rng(1)
                Image.fromarray(rng.integers(0, 255, (40, 52, 3), dtype=np.uint8)).save(folder + "/a.png")
                hr, lr = load_test_pair(folder + "/a.png", {scale})
                evaluate_pair(super_resolve(model, lr, {scale}), hr, {scale})
    print("COMPILED", sorted(set(compiled)))
""")


@pytest.mark.parametrize("path", ["upscale", "evaluate"])
def test_the_two_shares_compile_everything_the_path_needs(tmp_path, path):
    """After both shares, the real path (the upscale tool's network and colour, or the
    evaluation protocol's) compiles nothing: every kernel comes from the cache the two
    processes wrote. (FSRCNN-s x3 has every kind of layer: a 5x5 first layer, 1x1
    layers, a 3x3 mapping layer, a deconvolution whose 9 sub-pixel filters are not a
    multiple of 4.)"""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    script = SHARES_SCRIPT.format(spec="fsrcnn-s", scale=3, path=path)
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "COMPILED []" in result.stdout, result.stdout


def test_run_step_gives_the_real_pass_numbers_layer_by_layer():
    """Each layer run alone takes the input border it takes inside the whole pass (so
    compiles the same code); it runs without error for every step of FSRCNN x2/x3/x4."""
    for scale in (2, 3, 4):
        model = load_model("fsrcnn-s", scale)
        steps = warmup.inference_steps(model.layers)
        for index in range(len(steps)):
            warmup.run_step(steps, index, model.dtype)


def test_both_shares_run_on_a_network_with_a_padding_layer():
    """The authors' models replicate their border before the deconvolution (a Pad2d
    layer, which has no channel count): both shares run, and so does warm_up."""
    from minisr.model import FSRCNN

    for scale, padding in ((3, 6), (4, 8)):  # the authors' x3 and x4 deconvolutions
        model = FSRCNN(8, 4, 1, scale=scale, padding_mode="replicate", shared_prelu=True,
                       deconv_border="replicate", deconv_padding=padding)
        assert any(type(layer).__name__ == "Pad2d" for layer, _ in warmup.inference_steps(model.layers))
        for helper in (False, True):
            for path in ("upscale", "evaluate"):
                warmup.run_share(model, helper=helper, path=path)
            warmup.run_training_layers(model, helper=helper)
        warmup.warm_up(model, "evaluate")
        assert model.infer(np.zeros((1, 1, 8, 8), np.float32)).shape == (1, 1, 8 * scale, 8 * scale)


def test_the_helper_takes_the_1x1_layers_and_this_process_the_rest():
    """FSRCNN's steps: feature 5x5, shrink 1x1, four 3x3 mapping layers, expand 1x1,
    deconvolution: the helper compiles for the two 1x1 layers only."""
    model = load_model("fsrcnn", 3)
    shares = [warmup.in_helper_share(layer) for layer, _ in warmup.inference_steps(model.layers)]
    assert shares == [False, True, False, False, False, False, True, False]


def test_no_helper_with_one_thread_or_when_switched_off(monkeypatch):
    monkeypatch.delenv("MINISR_COMPILE_HELPER", raising=False)
    model = load_model("fsrcnn", 3)
    assert warmup.CompileHelper(model).wanted() is (numba.get_num_threads() >= 2)
    monkeypatch.setenv("MINISR_COMPILE_HELPER", "0")
    assert not warmup.CompileHelper(model).wanted()
    monkeypatch.delenv("MINISR_COMPILE_HELPER")
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        assert not warmup.CompileHelper(model).wanted()
    finally:
        numba.set_num_threads(threads)


def test_no_helper_when_nothing_compiles(monkeypatch):
    """A warm run (everything already compiled) never starts the helper process."""
    model = load_model("fsrcnn-s", 3)
    warmup.warm_up(model)  # compiled (or loaded) here
    started = []
    monkeypatch.setattr(warmup.CompileHelper, "start", lambda self: started.append(1))
    warmup.warm_up(model)
    assert started == []


def test_a_failing_helper_changes_nothing_but_the_time(monkeypatch):
    """A helper that dies at once: warm_up still finishes, and the model still works."""
    model = load_model("fsrcnn-s", 3)
    monkeypatch.setattr(warmup.CompileHelper, "wanted", lambda self: True)
    monkeypatch.setattr(warmup.CompileHelper, "command",
                        lambda self: [sys.executable, "-c", "raise SystemExit(3)"])
    helper = warmup.CompileHelper(model)
    helper.start()
    assert helper.process is not None
    helper.wait()
    assert helper.process.returncode == 3
    warmup.warm_up(model)
    x = np.zeros((1, 1, 8, 8), np.float32)
    assert model.infer(x).shape == (1, 1, 24, 24)


def test_the_helper_starts_at_the_first_compile():
    """compile_notice calls on_first when Numba starts compiling, once."""
    calls = []

    @numba.njit
    def triple(x):
        return 3 * x

    with _jit.compile_notice(stream=io.StringIO(), on_first=lambda: calls.append(1)):
        triple(1)
        triple(2.0)
    assert calls == [1]


TRAINING_SCRIPT = textwrap.dedent("""
    import subprocess, sys
    import numpy as np
    from PIL import Image
    from minisr import warmup
    from minisr._jit import compiled_functions
    from minisr.model import FSRCNN
    from minisr.training.command import main
    model = FSRCNN(8, 4, 1, scale=3)
    warmup.run_training_layers(model, helper=False)  # this process's share
    helper = warmup.CompileHelper(model, share="train")
    assert subprocess.run(helper.command()).returncode == 0  # the helper's
    rng = np.random.default_rng(0)
    for folder in ("train", "val"):
        (__import__("pathlib").Path({tmp!r}) / folder).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(f"{tmp}/{{folder}}/{{i}}.png")
    with compiled_functions("minisr.kernels") as compiled:
        code = main(["--d", "8", "--s", "4", "--m", "1", "--train", {tmp!r} + "/train", "--val", {tmp!r} + "/val",
                     "--steps", "4", "--val-every", "2", "--batch-size", "4", "--threads", "2",
                     "--cache-dir", {tmp!r} + "/pairs", "--out", {tmp!r} + "/run", "--no-progress"])
    assert code == 0, code
    print("COMPILED", sorted(set(compiled)))
""")


def test_the_training_helper_compiles_every_kernel_a_training_run_needs(tmp_path):
    """After the two training shares (this process's layers, the helper's), a training
    run (steps on 2 worker threads, validation) compiles no kernel of minisr.kernels:
    all come from the cache or this process."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"), MINISR_COMPILE_HELPER="0")
    result = subprocess.run([sys.executable, "-c", TRAINING_SCRIPT.format(tmp=str(tmp_path))],
                            env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "COMPILED []" in result.stdout, result.stdout


def test_compiled_functions_lists_what_numba_really_compiles():
    @numba.njit
    def quadruple(x):
        return 4 * x

    with _jit.compiled_functions(__name__) as compiled:
        quadruple(1)
        quadruple(2)  # the same signature: no second compilation
    assert compiled == [quadruple.py_func.__qualname__]
    with _jit.compiled_functions(__name__) as again:
        quadruple(3)
    assert again == []


def test_the_helper_never_outlives_its_command(monkeypatch):
    """Ctrl-C (or any error) inside the block stops a helper still compiling."""
    monkeypatch.setattr(warmup.CompileHelper, "wanted", lambda self: True)
    monkeypatch.setattr(warmup.CompileHelper, "command",
                        lambda self: [sys.executable, "-c", "import time; time.sleep(60)"])
    with pytest.raises(KeyboardInterrupt):
        with warmup.CompileHelper(load_model("fsrcnn-s", 3)) as helper:
            helper.start()
            assert helper.process.poll() is None  # running
            raise KeyboardInterrupt
    assert helper.process.poll() is not None  # stopped on the way out


def test_the_helper_command_run_by_hand_prints_its_usage(capsys):
    assert warmup.main([]) == 2
    assert "usage: python -m minisr.warmup" in capsys.readouterr().err
