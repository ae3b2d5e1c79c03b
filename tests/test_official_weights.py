"""Importing the authors' MATLAB weights: layout and forward pass on synthetic files,
then Table 6 of the paper with the real files (skipped only where they are absent)."""

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from scipy.signal import correlate2d

from minisr.scoring import evaluate
from minisr.official import load_official_model

from datasets import data_root

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
OFFICIAL = SHARED / "reference" / "fsrcnn-official"
DATA = data_root()


def make_mat(path, d, s, m, rng):
    """A weights file in the authors' layout: W[c_in, k*k, c_out], one column of biases
    per layer, one PReLU slope per layer, an empty entry for the deconvolution."""
    shapes = [(1, 5, d), (d, 1, s)] + [(s, 3, s)] * m + [(s, 1, d)]
    weights = [rng.normal(scale=0.3, size=(cin, k * k, cout)) for cin, k, cout in shapes]
    weights.append(rng.normal(scale=0.1, size=(1, 81, d)))
    biases = [rng.normal(scale=0.1, size=(cout, 1)) for _, _, cout in shapes] + [np.array([[0.05]])]
    slopes = [np.array([[rng.uniform(-0.5, 0.5)]]) for _ in shapes] + [np.zeros((1, 0))]

    def cell(items):
        array = np.empty((len(items), 1), dtype=object)
        for i, item in enumerate(items):
            array[i, 0] = item
        return array

    scipy.io.savemat(path, {"weights_conv": cell(weights), "biases_conv": cell(biases),
                            "prelu_conv": cell(slopes)})
    return weights, biases, slopes


def matlab_filter(w, c_in, c_out, k):
    """MATLAB's reshape(W(c_in, :, c_out), k, k): column-major."""
    return w[c_in, :, c_out].reshape(k, k, order="F")


def authors_forward(lr, weights, biases, slopes, scale, shift):
    """The authors' test code, written out slowly: replicate-padded correlations with
    shared-slope PReLU, then a scatter-add deconvolution on a 1-pixel replicate-padded
    input, HR row n*i + u - 4 for LR row i and kernel row u, bias last."""
    maps = [lr]
    for w, b, a in zip(weights[:-1], biases[:-1], slopes[:-1]):
        c_in, kk, c_out = w.shape
        k = int(round(np.sqrt(kk)))
        padded = [np.pad(x, (k - 1) // 2, mode="edge") for x in maps]
        out = []
        for co in range(c_out):
            acc = sum(correlate2d(padded[ci], matlab_filter(w, ci, co, k), mode="valid") for ci in range(c_in))
            acc = acc + b[co, 0]
            out.append(np.where(acc > 0, acc, a[0, 0] * acc))
        maps = out
    h, w_ = lr.shape
    hr = np.zeros((scale * h, scale * w_))
    deconv = weights[-1]
    for c, x in enumerate(maps):
        filt = deconv[0, :, c].reshape(9, 9, order="F")
        xp = np.pad(x, 1, mode="edge")
        for i in range(-1, h + 1):
            for j in range(-1, w_ + 1):
                for u in range(9):
                    for v in range(9):
                        r, q = scale * i + u - 4 + shift, scale * j + v - 4 + shift
                        if 0 <= r < scale * h and 0 <= q < scale * w_:
                            hr[r, q] += filt[u, v] * xp[i + 1, j + 1]
    return hr + biases[-1][0, 0]


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_import_matches_the_authors_forward_pass(tmp_path, scale):
    rng = np.random.default_rng(scale)
    path = tmp_path / f"x{scale}.mat"
    weights, biases, slopes = make_mat(path, d=4, s=3, m=1, rng=rng)
    model = load_official_model(path, dtype=np.float64)
    assert (model.d, model.s, model.m, model.scale) == (4, 3, 1, scale)
    lr = rng.random((5, 7))
    ours = model.forward(lr[None, None], exact_size=True)[0, 0]
    # At x3 the authors' output is one pixel up-left of the ground truth: minisr
    # shifts it back, so our pixel (r, c) is their pixel (r - 1, c - 1).
    shift = 1 if scale == 3 else 0
    expected = authors_forward(lr, weights, biases, slopes, scale, shift)
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-10)


def test_weight_layout_is_column_major(tmp_path):
    rng = np.random.default_rng(0)
    weights, biases, slopes = make_mat(tmp_path / "x2.mat", d=3, s=2, m=2, rng=rng)
    model = load_official_model(tmp_path / "x2.mat", dtype=np.float64)
    w = weights[2]  # the first 3x3 mapping layer, [c_in, 9, c_out]
    mapping = model.layers[4]
    for ci in range(2):
        for co in range(2):
            np.testing.assert_array_equal(mapping.weight.data[co, ci], matlab_filter(w, ci, co, 3))
    assert mapping.weight.data[1, 0, 2, 0] == w[0, 2, 1]  # row 2, column 0 -> element 2 + 3*0
    assert model.layers[1].slope.data.shape == (1,)  # one shared slope
    assert model.layers[1].slope.data[0] == slopes[0][0, 0]


def test_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="x3.mat"):
        load_official_model(tmp_path / "x3.mat")
    (tmp_path / "x2.mat").write_text("not a mat file")
    with pytest.raises(ValueError, match="x2.mat"):
        load_official_model(tmp_path / "x2.mat")
    scipy.io.savemat(tmp_path / "x4.mat", {"something": np.ones(3)})
    with pytest.raises(ValueError, match="weights_conv"):
        load_official_model(tmp_path / "x4.mat")
    make_mat(tmp_path / "weights.mat", 3, 2, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="scale"):
        load_official_model(tmp_path / "weights.mat")
    assert load_official_model(tmp_path / "weights.mat", scale=2).scale == 2


# Paper Table 6 (trained on 91-image + General-100), PSNR in dB.
TABLE_6 = {
    "FSRCNN": {("Set5", 2): 37.00, ("Set5", 3): 33.16, ("Set5", 4): 30.71,
               ("Set14", 2): 32.63, ("Set14", 3): 29.43, ("Set14", 4): 27.59,
               ("BSD200", 2): 31.80, ("BSD200", 3): 28.60, ("BSD200", 4): 26.98},
    "FSRCNN-s": {("Set5", 2): 36.58, ("Set5", 3): 32.54, ("Set5", 4): 30.11,
                 ("Set14", 2): 32.28, ("Set14", 3): 29.08, ("Set14", 4): 27.19,
                 ("BSD200", 2): 31.48, ("BSD200", 3): 28.32, ("BSD200", 4): 26.75},
}


@pytest.mark.parametrize("variant", sorted(TABLE_6))
def test_authors_weights_reproduce_table_6(variant):
    folder = OFFICIAL / variant
    if not (folder / "x3.mat").is_file():
        pytest.skip(f"the authors' weights are not at {folder}")
    for name in ("Set5", "Set14", "BSD200"):
        if not (DATA / name).is_dir():
            pytest.skip(f"dataset folder {DATA / name} is absent")
    method = variant.lower()
    results = evaluate(method, ["Set5", "Set14", "BSD200"], [2, 3, 4],
                       weights=[str(folder / "x{scale}.mat")], data_dir=DATA, progress=False)
    assert len(results) == 9
    for r in results:
        paper = TABLE_6[variant][(r["dataset"], r["scale"])]
        assert abs(r["psnr"] - paper) < 0.1, f"{variant} {r['dataset']} x{r['scale']}: {r['psnr']:.3f} vs {paper}"
