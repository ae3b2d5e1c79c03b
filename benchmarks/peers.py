"""Speed of minisr against the inference engines a CPU user would pick instead: ONNX
Runtime and OpenVINO (both running an ONNX graph of the same network) and PyTorch
(an eager ``nn.Module``). ``--write`` writes the tables to ``experiments/results/peers.md``.

    pip install -e ".[bench]"          # onnx, onnxruntime, openvino, torch: each optional
    python benchmarks/peers.py [--threads 2] [--rounds 3] [--repeat 20] [--quick] [--write]
    python benchmarks/peers.py --check     # only the output agreement, every case, no timing

Every engine gets the same network with the same numbers: minisr's shipped weights
(``load_model(network, scale)``). The ONNX graph (Conv, PRelu, ConvTranspose whose pads
crop the transposed convolution's canvas to exactly nH x nW, as ``FSRCNN.infer`` does)
is built from those arrays with ``onnx.helper``; ONNX Runtime and OpenVINO read it. The
PyTorch twin is an ``nn.Sequential`` loaded with the same arrays. An engine that is not
installed is left out with a one-line note (without ``onnx`` there is no graph, so
ONNX Runtime and OpenVINO are left out too).

How it measures:

* Each engine runs in a process of its own (``--worker``), which imports nothing of the
  other engines (the PyTorch, ONNX Runtime and OpenVINO workers do not even import
  minisr): thread pools of two libraries in one process get in each other's way.
* Before timing a case, the worker checks its engine's output against minisr's
  ``infer`` on the same input (random values in [0, 1]): the largest absolute
  difference must stay within ``TOLERANCE``; a case that does not is reported and not
  timed.
* Every engine uses the same number of threads: ``NUMBA_NUM_THREADS``,
  ``OMP_NUM_THREADS`` (and the BLAS variables) in the worker's environment,
  ``numba.set_num_threads``, ``torch.set_num_threads``, ONNX Runtime's
  ``intra_op_num_threads``, OpenVINO's ``INFERENCE_NUM_THREADS``. Otherwise each engine
  keeps its defaults (minisr's sleeping idle threads, ONNX Runtime's spinning ones).
* Rounds alternate the engines (minisr, ONNX Runtime, OpenVINO, PyTorch, minisr, ...);
  in each round a worker times each case as the median of ``--repeat`` calls after a
  warm-up, and the table reports each engine's best round.

The cases: FSRCNN and FSRCNN-s at x2, x3 and x4 on a 253x253 LR image at 1 and
``--threads`` threads, and one 1280x720 -> 3840x2160 frame (FSRCNN x3, ``--threads``
threads). ``--quick``: FSRCNN x3 at 253x253 only, few calls, two rounds. Nothing else
heavy should run meanwhile: the load average before and after is written with the
tables.
"""

import argparse
import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
# Read before minisr is imported: minisr makes idle OpenMP threads sleep unless the user
# chose; the other engines' workers run with the user's choice (or their own default).
USER_WAIT_POLICY = os.environ.get("OMP_WAIT_POLICY")

#: Largest absolute difference from minisr's output allowed (outputs are about [0, 1]).
TOLERANCE = 1e-5
#: Untimed calls after the checking call, before the timed ones.
WARMUP_CALLS = 2
#: LR size of the small cases and of the video frame, (height, width).
SMALL = (253, 253)
FRAME = (720, 1280)
#: The engines, in the order each round runs them: printed name, modules they need.
ENGINES = {
    "minisr": ("minisr", ()),
    "onnxruntime": ("ONNX Runtime", ("onnx", "onnxruntime")),
    "openvino": ("OpenVINO", ("onnx", "openvino")),
    "torch": ("PyTorch", ("torch",)),
}
NETWORK_NAMES = {"fsrcnn": "FSRCNN", "fsrcnn-s": "FSRCNN-s"}


class Case(NamedTuple):
    """One row of the table: a shipped network at one scale, one LR size, one thread count."""
    network: str     # "fsrcnn" or "fsrcnn-s" (minisr's shipped weights)
    scale: int
    height: int      # LR size
    width: int
    threads: int
    calls: int       # timed calls per round

    @property
    def key(self) -> str:
        return f"{self.network}_x{self.scale}_{self.height}x{self.width}_t{self.threads}"


def make_cases(threads: int, repeat: int, quick: bool) -> list:
    """The cases of a run (see the module docstring)."""
    if quick:
        return [Case("fsrcnn", 3, *SMALL, threads, repeat)]
    cases = [Case(network, scale, *SMALL, count, repeat)
             for count in sorted({1, threads}) for network in NETWORK_NAMES for scale in (2, 3, 4)]
    # a frame is about 14x the work of a 253x253 image: fewer calls per round
    cases.append(Case("fsrcnn", 3, *FRAME, threads, max(3, repeat // 4) if repeat else 0))
    return cases


def median_time(run, x, calls: int) -> float:
    """Median wall time in seconds of ``calls`` calls of ``run(x)``."""
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


# ----------------------------------------------------------------------------------
# The network as plain arrays: what the parent hands to the workers.
# ----------------------------------------------------------------------------------
def export_layers(model) -> list:
    """minisr's model as a list of plain layers, in order:
    ``{"kind": "conv", "weight", "bias", "padding"}``, ``{"kind": "prelu", "slope"}``,
    ``{"kind": "deconv", "weight" (C_in, C_out, k, k), "bias", "stride", "padding"}``.
    Raises ValueError for anything the peer engines' twins do not reproduce (the
    replicate borders of the authors' MATLAB models)."""
    from minisr.layers import Conv2d, Deconv2d, PReLU

    layers = []
    for name, layer in model.named_layers:
        if isinstance(layer, Conv2d):
            if layer.padding_mode != "zeros":
                raise ValueError(f"{name}: padding_mode {layer.padding_mode!r}: only zero padding is exported")
            layers.append({"kind": "conv", "weight": layer.weight.data, "bias": layer.bias_or_zeros(),
                           "padding": layer.padding})
        elif isinstance(layer, PReLU):
            layers.append({"kind": "prelu", "slope": layer.slope.data})
        elif isinstance(layer, Deconv2d):
            layers.append({"kind": "deconv", "weight": layer.weight.data, "bias": layer.bias_or_zeros(),
                           "stride": layer.stride, "padding": layer.padding})
        else:
            raise ValueError(f"{name}: {layer!r} has no twin in the peer engines")
    return layers


def save_case(path: Path, layers: list, x: np.ndarray, reference: np.ndarray) -> None:
    """One case's file for the workers: the layers' arrays, the input, minisr's output."""
    arrays = {"x": x, "reference": reference}
    spec = []
    for index, layer in enumerate(layers):
        spec.append({key: value for key, value in layer.items() if not isinstance(value, np.ndarray)})
        arrays.update({f"{index}.{key}": np.ascontiguousarray(value, np.float32)
                       for key, value in layer.items() if isinstance(value, np.ndarray)})
    np.savez(path, spec=np.array(json.dumps(spec)), **arrays)


def load_case(path: Path):
    """(layers, x, reference) from :func:`save_case`'s file."""
    with np.load(path, allow_pickle=False) as data:
        layers = json.loads(str(data["spec"]))
        for index, layer in enumerate(layers):
            prefix = f"{index}."
            layer.update({name[len(prefix):]: data[name] for name in data.files if name.startswith(prefix)})
        return layers, data["x"], data["reference"]


def deconv_crop(layer: dict, size: int, scale: int):
    """(crop at the start, crop at the end) of the transposed convolution's canvas,
    ``stride*(size - 1) + k`` long, that leaves exactly ``scale * size``: minisr crops
    ``padding`` (4) at the start, so ``k - stride - padding`` (5 - n) at the end."""
    kernel = layer["weight"].shape[-1]
    begin, end = layer["padding"], kernel - layer["stride"] - layer["padding"]
    if layer["stride"] != scale or end < 0:
        raise ValueError(f"cannot crop a stride-{layer['stride']} canvas to {scale} x {size}")
    return begin, end


def onnx_graph(layers: list, height: int, width: int, scale: int):
    """The network as an ONNX model with a fixed input (1, 1, height, width) named
    ``lr`` and output (1, 1, scale*height, scale*width) named ``hr``, built with
    ``onnx.helper`` and checked with ``onnx.checker``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, weights, current = [], [], "lr"
    for index, layer in enumerate(layers):
        kind = layer["kind"]
        output = "hr" if index == len(layers) - 1 else f"{kind}{index}"
        if kind == "prelu":
            slope = f"{kind}{index}.slope"  # (C, 1, 1): broadcasts over (N, C, H, W)
            weights.append(numpy_helper.from_array(layer["slope"].reshape(-1, 1, 1), slope))
            nodes.append(helper.make_node("PRelu", [current, slope], [output]))
        else:
            weight, bias = f"{kind}{index}.weight", f"{kind}{index}.bias"
            weights += [numpy_helper.from_array(layer["weight"], weight),
                        numpy_helper.from_array(layer["bias"], bias)]
            kernel = layer["weight"].shape[-1]
            if kind == "conv":
                pad = layer["padding"]
                nodes.append(helper.make_node("Conv", [current, weight, bias], [output],
                                              kernel_shape=[kernel, kernel], pads=[pad] * 4))
            else:  # ONNX's ConvTranspose has the same weight layout and no kernel flip
                begin, end = deconv_crop(layer, height, scale)
                nodes.append(helper.make_node("ConvTranspose", [current, weight, bias], [output],
                                              kernel_shape=[kernel, kernel], strides=[scale, scale],
                                              pads=[begin, begin, end, end]))
        current = output
    graph = helper.make_graph(
        nodes, "fsrcnn", [helper.make_tensor_value_info("lr", TensorProto.FLOAT, [1, 1, height, width])],
        [helper.make_tensor_value_info("hr", TensorProto.FLOAT, [1, 1, scale * height, scale * width])],
        initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="minisr benchmarks/peers.py")
    model.ir_version = 8  # the IR of opset 17: readable by older runtimes too
    onnx.checker.check_model(model)
    return model


# ----------------------------------------------------------------------------------
# The engines: each builder returns (version, run), run(x (1, 1, H, W)) -> (1, 1, nH, nW)
# ----------------------------------------------------------------------------------
def build_minisr(case: Case, layers, onnx_path: Path, threads: int):
    import numba
    import minisr
    from minisr.models import load_model

    numba.set_num_threads(threads)
    model = load_model(case.network, case.scale)
    return f"{minisr.__version__} (Numba {numba.__version__})", model.infer


def build_onnxruntime(case: Case, layers, onnx_path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    return ort.__version__, lambda x: session.run(None, {"lr": x})[0]


def build_openvino(case: Case, layers, onnx_path: Path, threads: int):
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(onnx_path)), "CPU", {
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": "f32",  # no bf16/f16 on CPUs that have them
    })
    request = compiled.create_infer_request()
    # shared buffers: no copy in or out (minisr's infer returns its own array, uncopied, too)
    return ov.__version__.split("-")[0], lambda x: request.infer({0: x}, share_inputs=True, share_outputs=True)[0]


def build_torch(case: Case, layers, onnx_path: Path, threads: int):
    import torch

    torch.set_num_threads(threads)
    nn, modules = torch.nn, []
    for layer in layers:
        if layer["kind"] == "conv":
            c_out, c_in, kernel, _ = layer["weight"].shape
            module = nn.Conv2d(c_in, c_out, kernel, padding=layer["padding"])
        elif layer["kind"] == "prelu":
            module = nn.PReLU(len(layer["slope"]))
            module.weight.data = torch.from_numpy(layer["slope"].copy())
        else:
            c_in, c_out, kernel, _ = layer["weight"].shape
            begin, end = deconv_crop(layer, case.height, case.scale)
            # PyTorch crops `padding` at both ends and gives `output_padding` back at the end
            module = nn.ConvTranspose2d(c_in, c_out, kernel, stride=case.scale, padding=begin,
                                        output_padding=begin - end)
        if layer["kind"] != "prelu":
            module.weight.data = torch.from_numpy(layer["weight"].copy())
            module.bias.data = torch.from_numpy(layer["bias"].copy())
        modules.append(module)
    net = nn.Sequential(*modules).eval()

    def run(x):
        with torch.inference_mode():
            return net(torch.from_numpy(x)).numpy()

    return torch.__version__, run


BUILDERS = {"minisr": build_minisr, "onnxruntime": build_onnxruntime, "openvino": build_openvino,
            "torch": build_torch}


def worker(engine: str, threads: int, workdir: Path, case_indices: list, result_path: Path) -> None:
    """Child process: check and time ``engine`` on the given cases, all at ``threads``
    threads; writes ``{"version", "cases": {key: {"error", "seconds"}}}`` as JSON."""
    cases = [Case(*fields) for fields in json.loads((workdir / "cases.json").read_text())]
    result = {"version": None, "cases": {}}
    for index in case_indices:
        case = cases[index]
        layers, x, reference = load_case(workdir / f"case{index}.npz")
        result["version"], run = BUILDERS[engine](case, layers, workdir / f"case{index}.onnx", threads)
        y = run(x)  # the first call: also the start of the warm-up
        if y.shape != reference.shape:
            error = float("inf")
        else:
            error = float(np.max(np.abs(np.asarray(y, np.float64) - reference)))
        seconds = None
        if error <= TOLERANCE and case.calls:  # time only an engine that computes the same numbers
            for _ in range(WARMUP_CALLS):
                run(x)
            seconds = median_time(run, x, case.calls)
        result["cases"][case.key] = {"error": error, "seconds": seconds}
        del run
    result_path.write_text(json.dumps(result))


# ----------------------------------------------------------------------------------
# The parent: prepare the cases, run the rounds, print (and write) the tables
# ----------------------------------------------------------------------------------
def available_engines(asked: list) -> tuple:
    """(engines to run, one-line notes on those left out)."""
    engines, notes = [], []
    for engine in asked:
        name, modules = ENGINES[engine]
        missing = [module for module in modules if importlib.util.find_spec(module) is None]
        if missing:
            notes.append(f"{name} skipped: {' and '.join(missing)} not installed "
                         f"(pip install {' '.join(missing)}, or pip install -e \".[bench]\")")
        else:
            engines.append(engine)
    return engines, notes


def prepare(cases: list, workdir: Path, with_onnx: bool) -> dict:
    """Write every case's arrays (and ONNX graph) to ``workdir``; returns the versions
    of the parent's libraries."""
    import numba
    import minisr
    from minisr.models import load_model

    (workdir / "cases.json").write_text(json.dumps([list(case) for case in cases]))
    rng = np.random.default_rng(0)
    for index, case in enumerate(cases):
        model = load_model(case.network, case.scale)
        x = rng.random((1, 1, case.height, case.width), dtype=np.float32)
        layers = export_layers(model)
        save_case(workdir / f"case{index}.npz", layers, x, model.infer(x))
        if with_onnx:
            import onnx
            onnx.save(onnx_graph(layers, case.height, case.width, case.scale), workdir / f"case{index}.onnx")
    versions = {"minisr": minisr.__version__, "Numba": numba.__version__, "NumPy": np.__version__}
    if with_onnx:
        import onnx
        versions["onnx"] = onnx.__version__
    return versions


def worker_environment(engine: str, threads: int) -> dict:
    """The worker's environment: every thread-count variable set to ``threads``; the
    user's OMP_WAIT_POLICY (or none) for the engines other than minisr."""
    env = dict(os.environ)
    for variable in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[variable] = str(threads)
    if engine != "minisr":
        if USER_WAIT_POLICY is None:
            env.pop("OMP_WAIT_POLICY", None)
        else:
            env["OMP_WAIT_POLICY"] = USER_WAIT_POLICY
    return env


def run_worker(engine: str, threads: int, workdir: Path, case_indices: list, tag: str) -> dict:
    """Start one worker process and return its result (RuntimeError if it failed)."""
    result_path = workdir / f"result-{engine}-{tag}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", engine, "--threads", str(threads),
               "--workdir", str(workdir), "--cases", ",".join(map(str, case_indices)),
               "--result", str(result_path)]
    done = subprocess.run(command, capture_output=True, text=True, env=worker_environment(engine, threads),
                          cwd=REPO)
    if done.returncode != 0 or not result_path.is_file():
        tail = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise RuntimeError(f"{ENGINES[engine][0]} worker failed (exit {done.returncode}): {tail}")
    return json.loads(result_path.read_text())


def machine() -> str:
    """CPU model, core count and vector extensions, in words."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    simd = ", ".join(name for name, flag in (("AVX2", "avx2"), ("AVX-512", "avx512f")) if flag in flags)
    return f"{model}, {os.cpu_count()} CPUs" + (f" ({simd})" if simd else "")


def load_average() -> str:
    try:
        return " / ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def milliseconds(seconds) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.1f}"


#: The first columns of every table: which case.
CASE_HEAD = "| network | scale | LR -> HR | threads |"
CASE_RULE = "|---|---|---|---:|"


def case_columns(case: Case) -> str:
    """The first columns of a case's row (see ``CASE_HEAD``)."""
    hr = f"{case.scale * case.height}x{case.scale * case.width}"
    return f"| {NETWORK_NAMES[case.network]} | x{case.scale} | {case.height}x{case.width} -> {hr} | {case.threads} |"


def timing_tables(cases: list, engines: list, measurements: "Measurements") -> list:
    """The Markdown lines of the best times with the ratios, and of every round's times
    (``wrong`` for an engine whose output differed from minisr's: it was not timed)."""
    best, rounds = measurements.best, measurements.per_round

    def best_cell(engine, case):
        if measurements.errors[engine].get(case.key, 0.0) > TOLERANCE:
            return " wrong |"
        return f" {milliseconds(best[engine].get(case.key))} |"
    names = [ENGINES[engine][0] for engine in engines]
    peers = [engine for engine in engines if engine != "minisr"]
    lines = ["## Inference time (ms, best round's median)", "",
             CASE_HEAD + "".join(f" {name} |" for name in names) + " fastest peer / minisr | minisr >= 3x |",
             CASE_RULE + "---:|" * len(names) + "---:|:---:|"]
    wins = compared = 0
    for case in cases:
        row = case_columns(case) + "".join(best_cell(engine, case) for engine in engines)
        ours = best.get("minisr", {}).get(case.key)
        theirs = [best[engine][case.key] for engine in peers if best[engine].get(case.key) is not None]
        if ours is not None and theirs:
            ratio = min(theirs) / ours
            compared += 1
            wins += ratio >= 3
            row += f" {ratio:.2f}x | {'yes' if ratio >= 3 else 'no'} |"
        else:
            row += " - | - |"
        lines.append(row)
    lines += ["", f"minisr is at least 3x faster than the fastest other engine in {wins} of {compared} cases "
              "(the target of issue 14).", ""]
    lines += ["## Every round's median (ms)", "",
              CASE_HEAD + "".join(f" {name} |" for name in names), CASE_RULE + "---:|" * len(names)]
    for case in cases:
        lines.append(case_columns(case) + "".join(
            f" {' / '.join(milliseconds(t) for t in rounds[engine].get(case.key, [])) or '-'} |"
            for engine in engines))
    return lines + [""]


def agreement_table(cases: list, engines: list, errors: dict) -> list:
    """The Markdown lines of each engine's largest difference from minisr's output."""
    names = [ENGINES[engine][0] for engine in engines]
    lines = ["## Agreement with minisr's `infer` (largest absolute difference, worst round)", "",
             CASE_HEAD + "".join(f" {name} |" for name in names), CASE_RULE + "---:|" * len(names)]
    for case in cases:
        lines.append(case_columns(case) + "".join(
            f" {errors[engine][case.key]:.1e} |" if case.key in errors[engine] else " - |" for engine in engines))
    return lines + ["", f"Within {TOLERANCE:.0e} is required before a case is timed; the minisr column is the "
                    "minisr worker process against the parent's reference run (random input in [0, 1]).", ""]


class Measurements:
    """What the workers reported, gathered over the rounds, by engine and case key."""

    def __init__(self, engines: list):
        self.best = {engine: {} for engine in engines}       # seconds, best round's median
        self.per_round = {engine: {} for engine in engines}  # [seconds or None per round]
        self.errors = {engine: {} for engine in engines}     # largest |difference| from minisr
        self.versions = {}

    def add(self, engine: str, result: dict) -> str:
        """Take in one worker's result; returns it in words, for the progress line."""
        self.versions[engine] = result["version"]
        said = []
        for key, measured in result["cases"].items():
            error, seconds = measured["error"], measured["seconds"]
            self.errors[engine][key] = max(self.errors[engine].get(key, 0.0), error)
            self.per_round[engine].setdefault(key, []).append(seconds)
            if seconds is not None:
                self.best[engine][key] = min(self.best[engine].get(key, seconds), seconds)
            timing = f"{seconds * 1e3:.1f} ms, " if seconds is not None else ""
            said.append(f"{key}: {timing}err {error:.1e}" + (" TOO LARGE, not timed" if error > TOLERANCE else ""))
        return "; ".join(said)


def run_rounds(cases: list, engines: list, rounds: int, workdir: Path, notes: list) -> Measurements:
    """Run the alternating rounds: in each, every thread count's cases, every engine in
    turn, one worker process each. An engine whose worker fails is dropped (with a
    note in ``notes``) and ``engines`` loses it."""
    groups = {}
    for index, case in enumerate(cases):
        groups.setdefault(case.threads, []).append(index)
    measurements = Measurements(engines)
    for round_number in range(1, rounds + 1):
        for threads, indices in sorted(groups.items(), reverse=True):
            for engine in list(engines):
                start = time.perf_counter()
                try:
                    result = run_worker(engine, threads, workdir, indices, f"{round_number}-{threads}")
                except RuntimeError as failure:
                    print(f"{failure}; left out from here on", file=sys.stderr)
                    notes.append(str(failure))
                    engines.remove(engine)
                    continue
                said = measurements.add(engine, result)
                print(f"round {round_number}/{rounds}, {threads} thread(s), {ENGINES[engine][0]} "
                      f"({time.perf_counter() - start:.0f} s): {said}", file=sys.stderr, flush=True)
    return measurements


def report_header(engines: list, measurements: Measurements, library_versions: dict, rounds: int,
                  repeat: int, loads: tuple) -> list:
    """The Markdown lines above the tables: command, date, machine, versions, method."""
    command = "python benchmarks/peers.py" + "".join(f" {arg}" for arg in sys.argv[1:])
    versions = ", ".join(f"{ENGINES[engine][0]} {measurements.versions[engine]}"
                         for engine in engines if engine in measurements.versions)
    graph = (f"; the ONNX graph built with onnx {library_versions['onnx']} (opset 17)"
             if "onnx" in library_versions else "")
    if repeat:
        method = (f"{rounds} alternating round(s), each the median of {repeat} calls per case after a "
                  "warm-up (the 1280x720 frame: a quarter as many); the first table gives each engine's "
                  "best round.")
    else:
        method = "outputs checked only, nothing timed (`--check`)."
    return [
        "# Speed: minisr against the CPU inference engines a user would pick instead",
        "",
        f"Generated by `{command}` on {datetime.date.today().isoformat()}; machine: {machine()}; "
        f"float32, batch 1. Libraries: {versions}; NumPy {library_versions['NumPy']}{graph}.",
        "",
        "Every engine runs minisr's shipped weights in a process of its own, with the same number of "
        f"threads; {method} ONNX Runtime (CPU provider, all graph optimisations) and OpenVINO (CPU, f32, "
        "latency hint) run the same ONNX graph; PyTorch runs an eager `nn.Sequential` under "
        "`inference_mode`.",
        "",
        f"Load average (1, 5, 15 min) before: {loads[0]}; after: {loads[1]}. Anything much above 0 "
        "means something else ran and the times are not representative.",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2,
                        help="threads of every engine in the multi-threaded cases (default 2); "
                             "the 253x253 cases also run at 1 thread")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 3; 2 with --quick)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="timed calls per case and round, the median is kept (default 20; 5 with --quick; "
                             "the 1280x720 frame gets a quarter)")
    parser.add_argument("--quick", action="store_true", help="FSRCNN x3 at 253x253, --threads threads only")
    parser.add_argument("--check", action="store_true",
                        help="only check every engine's output against minisr's (one round, no timing)")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help=f"comma-separated subset of {','.join(ENGINES)} (default: all installed)")
    parser.add_argument("--write", action="store_true",
                        help="write the tables to --out (a tracked file); without it they are only printed")
    parser.add_argument("--out", default=str(REPO / "experiments" / "results" / "peers.md"), metavar="FILE",
                        help="where --write writes (default: experiments/results/peers.md)")
    parser.add_argument("--worker", choices=list(ENGINES), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--cases", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.threads, Path(args.workdir), [int(i) for i in args.cases.split(",")],
                      Path(args.result))

    asked = [engine.strip() for engine in args.engines.split(",") if engine.strip()]
    unknown = sorted(set(asked) - set(ENGINES))
    if unknown or not asked:
        parser.error(f"--engines: unknown {unknown}; choose from {','.join(ENGINES)}")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.check and args.write:
        parser.error("--check measures no times: there is nothing to --write")
    rounds = 1 if args.check else args.rounds or (2 if args.quick else 3)
    repeat = 0 if args.check else args.repeat or (5 if args.quick else 20)
    engines, notes = available_engines([engine for engine in ENGINES if engine in asked])
    for note in notes:
        print(note, file=sys.stderr)
    if args.threads > (os.cpu_count() or 1):
        print(f"note: --threads {args.threads} exceeds the {os.cpu_count()} CPUs", file=sys.stderr)
    cases = make_cases(args.threads, repeat, args.quick)
    with_onnx = importlib.util.find_spec("onnx") is not None

    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="minisr-peers-") as tmp:
        print(f"preparing {len(cases)} case(s): weights, inputs, minisr's reference outputs"
              + (", ONNX graphs" if with_onnx else ""), file=sys.stderr, flush=True)
        library_versions = prepare(cases, Path(tmp), with_onnx)
        measurements = run_rounds(cases, engines, rounds, Path(tmp), notes)
    loads = (load_before, load_average())

    lines = report_header(engines, measurements, library_versions, rounds, repeat, loads)
    lines += [f"Left out: {note}" for note in notes] + ([""] if notes else [])
    if not args.check:
        lines += timing_tables(cases, engines, measurements)
    lines += agreement_table(cases, engines, measurements.errors)
    print("\n".join(lines))
    if args.write:
        Path(args.out).write_text("\n".join(lines))
        print(f"written to {args.out}")
    else:
        print(f"(not written; run with --write to replace {args.out})")
    if any(error > TOLERANCE for engine in engines for error in measurements.errors[engine].values()):
        sys.exit(f"some engine's output differs from minisr's by more than {TOLERANCE:.0e}: see the agreement table")


if __name__ == "__main__":
    main()
