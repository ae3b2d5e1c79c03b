"""Tiled inference equals untiled inference exactly (minisr.tiling)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minisr import FSRCNN
from minisr import tiling
from minisr.official import ALIGNMENT_SHIFT
from minisr.shapes import input_rows
from minisr.tiling import context_margin, forward_image, forward_tiled, tile_spans


def random_model(scale, official=False, m=2, seed=0):
    """A small FSRCNN with weights large enough that every pixel matters."""
    extra = {}
    if official:  # as load_official_model builds the authors' networks
        extra = dict(padding_mode="replicate", shared_prelu=True, deconv_border="replicate",
                     deconv_padding=4 + scale - ALIGNMENT_SHIFT.get(scale, 0))
    model = FSRCNN(6, 3, m, scale, **extra)
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data[...] = rng.normal(0.0, 0.3, p.shape)
    return model


def test_margin_of_the_paper_network():
    # 5x5 feature conv (2) + four 3x3 mapping convs (4) + deconv reach (2 at x3).
    assert context_margin(FSRCNN(56, 12, 4, 3)) == 8
    # HR rows 0..2 of LR pixel 0 at x3: deconv canvas rows 4..6 <- LR rows -1..2.
    assert input_rows(0, 2, m=0, scale=3) == (-1 - 2, 2 + 2)


@pytest.mark.parametrize("official", [False, True], ids=["zeros", "replicate"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_the_receptive_field_is_exactly_the_rows_that_matter(scale, official):
    """Changing one LR row changes output rows ``first..last`` exactly when the row is
    within ``input_rows(first, last, ...)``: the formula is neither short nor generous."""
    model = random_model(scale, official, m=1)
    lr = np.random.default_rng(3).random((21, 5))
    whole = forward_image(model, lr)
    first, last = 10 * scale, 10 * scale + 1
    c = model.config
    lo, hi = input_rows(first, last, c["m"], scale, c["deconv_padding"], c["deconv_border"])
    matters = []
    for row in range(lr.shape[0]):
        changed = lr.copy()
        changed[row] += 0.5
        if not np.array_equal(forward_image(model, changed)[first:last + 1], whole[first:last + 1]):
            matters.append(row)
    assert matters == list(range(lo, hi + 1))


@pytest.mark.parametrize("official", [False, True], ids=["zeros", "replicate"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_tiled_equals_untiled_exactly(scale, official):
    model = random_model(scale, official)
    lr = np.random.default_rng(scale).random((19, 13))  # no tile size below divides both
    whole = forward_image(model, lr)
    assert whole.shape == (scale * 19, scale * 13)
    for tile in (1, 4, 7, 12):
        assert np.array_equal(forward_tiled(model, lr, tile), whole), f"tile={tile}"


@pytest.mark.parametrize("official", [False, True], ids=["zeros", "replicate"])
def test_one_pixel_less_margin_is_not_exact(monkeypatch, official):
    """The equality test has teeth: the computed margin is the smallest that works."""
    model = random_model(3, official)
    lr = np.random.default_rng(1).random((19, 13))
    whole = forward_image(model, lr)
    monkeypatch.setattr(tiling, "context_margin", lambda m: context_margin(m) - 1)
    assert not np.array_equal(forward_tiled(model, lr, 5), whole)


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (2, 9)])
@pytest.mark.parametrize("official", [False, True], ids=["zeros", "replicate"])
def test_images_smaller_than_the_receptive_field(shape, official):
    model = random_model(3, official)
    lr = np.random.default_rng(2).random(shape)
    whole = forward_image(model, lr)
    assert whole.shape == (3 * shape[0], 3 * shape[1])
    assert np.all(np.isfinite(whole))
    assert np.array_equal(forward_tiled(model, lr, 1), whole)


@given(length=st.integers(1, 60), tile=st.integers(1, 20), margin=st.integers(0, 9))
def test_tile_spans_cover_the_axis(length, tile, margin):
    spans = tile_spans(length, tile, margin)
    assert spans[0][0] == 0 and spans[-1][1] == length
    for (start, stop, cut_start, cut_stop), following in zip(spans, spans[1:] + [None]):
        assert 0 < stop - start <= tile
        assert cut_start == max(0, start - margin) and cut_stop == min(length, stop + margin)
        if following:
            assert following[0] == stop


def test_tile_must_be_positive():
    with pytest.raises(ValueError, match="tile"):
        tile_spans(10, 0, 2)
