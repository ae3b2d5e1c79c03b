"""Optimisers against hand-computed updates; parameter groups; checkpoint state; schedules."""

import math

import numpy as np
import pytest

from minisr import FSRCNN
from minisr.layers import Parameter
from minisr.optim import (SGD, Adam, constant, cosine, make_schedule, milestones, param_groups,
                          step_decay, with_warmup)


def one_param(value, dtype=np.float64):
    return [("w", Parameter(np.array([value], dtype)))]


def run(optimizer, params, grads):
    """Apply one step per gradient value; return the weight after each step."""
    (_, p), = params
    trace = []
    for g in grads:
        p.grad[...] = g
        optimizer.step()
        trace.append(float(p.data[0]))
    return trace


# ------------------------------------------------------------------ SGD
def test_sgd_momentum_and_weight_decay_by_hand():
    # v1 = 0.1 * (0.5 + 0.01 * 1)              = 0.051      w1 = 1 - 0.051      = 0.949
    # v2 = 0.9 * 0.051 + 0.1 * (0.5 + 0.00949) = 0.096849   w2 = 0.949 - 0.096849 = 0.852151
    params = one_param(1.0)
    opt = SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01)
    assert run(opt, params, [0.5, 0.5]) == pytest.approx([0.949, 0.852151], abs=1e-12)
    assert float(opt.buffers["w"]["velocity"][0]) == pytest.approx(0.096849, abs=1e-12)


def test_sgd_without_momentum_is_plain_gradient_descent():
    params = one_param(2.0)
    opt = SGD(params, lr=0.25, momentum=0.0)
    assert run(opt, params, [1.0, -2.0]) == pytest.approx([1.75, 2.25])


def test_sgd_lr_factor_scales_the_step():
    params = one_param(0.0)
    opt = SGD(params, lr=0.1, momentum=0.0)
    opt.set_lr_factor(0.5)
    assert opt.groups[0]["lr"] == pytest.approx(0.05) and opt.groups[0]["base_lr"] == 0.1
    assert run(opt, params, [1.0]) == pytest.approx([-0.05])


# ------------------------------------------------------------------ Adam
def test_adam_first_steps_by_hand():
    # Step 1: m = 0.2, v = 0.004; corrected m^ = 2, v^ = 4 -> w -= 0.01 * 2 / 2 = 0.01.
    # Step 2 (g = -1): m = 0.18 - 0.1 = 0.08, v = 0.003996 + 0.001 = 0.004996;
    #   m^ = 0.08 / 0.19 = 0.421052632, v^ = 0.004996 / 0.001999 = 2.499249625,
    #   w += ... -0.01 * 0.421052632 / 1.580901523 = -0.002663371.
    params = one_param(1.0)
    opt = Adam(params, lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    w1, w2 = run(opt, params, [2.0, -1.0])
    assert w1 == pytest.approx(0.99, abs=1e-9)
    assert w2 == pytest.approx(0.99 - 0.002663371, abs=1e-9)


def test_adam_first_step_is_lr_times_sign_whatever_the_gradient_scale():
    for g in (1e-6, 3.0, -250.0):
        params = one_param(0.0)
        run(Adam(params, lr=1e-3, eps=0.0), params, [g])
        assert params[0][1].data[0] == pytest.approx(-1e-3 * math.copysign(1, g))


def test_adam_weight_decay_adds_l2_gradient():
    params = one_param(2.0)
    run(Adam(params, lr=0.1, weight_decay=0.5), params, [-1.0])  # g = -1 + 0.5 * 2 = 0
    assert params[0][1].data[0] == pytest.approx(2.0)


@pytest.mark.parametrize("make", [lambda p: SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-3),
                                  lambda p: Adam(p, lr=0.1, weight_decay=1e-3)])
def test_updates_stay_float32(make):
    params = one_param(1.0, np.float32)
    opt = make(params)
    run(opt, params, [0.5, -0.25])
    assert params[0][1].data.dtype == np.float32
    assert all(b.dtype == np.float32 for b in opt.buffers["w"].values())


# ------------------------------------------------------------------ groups
def test_param_groups_split_the_deconvolution_by_prefix():
    model = FSRCNN(8, 4, 1, scale=3)
    groups = param_groups(model.named_parameters(), lr=1e-3, prefix_lr={"deconv.": 1e-4})
    by_name = {g["name"]: g for g in groups}
    assert [n for n, _ in by_name["deconv."]["params"]] == ["deconv.weight", "deconv.bias"]
    assert by_name["deconv."]["lr"] == 1e-4 and by_name["default"]["lr"] == 1e-3
    assert len(by_name["default"]["params"]) == len(model.parameters()) - 2


def test_paper_learning_rates_move_conv_and_deconv_accordingly():
    model = FSRCNN(8, 4, 1, scale=3)
    opt = SGD(param_groups(model.named_parameters(), 1e-3, {"deconv.": 1e-4}), momentum=0.0)
    before = {n: p.data.copy() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad[...] = 1.0
    opt.step()
    for name, p in model.named_parameters():
        expected = 1e-4 if name.startswith("deconv.") else 1e-3
        np.testing.assert_allclose(before[name] - p.data, expected, rtol=1e-4)


def test_frozen_parameters_are_not_updated():
    model = FSRCNN(8, 4, 1, scale=3)
    groups = param_groups(model.named_parameters(), 1e-3, {"deconv.": 1e-4},
                          trainable=lambda name: name.startswith("deconv."))
    assert [g["name"] for g in groups] == ["deconv."]
    opt = Adam(groups)
    before = {n: p.data.copy() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad[...] = 1.0
    opt.step()
    for name, p in model.named_parameters():
        assert np.array_equal(before[name], p.data) != name.startswith("deconv.")


def test_a_parameter_in_two_groups_is_refused():
    params = one_param(1.0)
    with pytest.raises(ValueError, match="more than one group"):
        SGD([{"name": "a", "lr": 0.1, "params": params}, {"name": "b", "lr": 0.1, "params": params}])


# ------------------------------------------------------------------ state
@pytest.mark.parametrize("kind", [SGD, Adam])
def test_state_dict_round_trip_continues_identically(kind):
    def fresh():
        model = FSRCNN(4, 2, 1, scale=2, seed=1)
        return model, kind(param_groups(model.named_parameters(), 1e-2, {"deconv.": 1e-3}))

    rng = np.random.default_rng(0)
    grads = [rng.normal(size=p.shape).astype(np.float32) for p in fresh()[0].parameters()]

    def step(model, opt, scale):
        for p, g in zip(model.parameters(), grads):
            p.grad[...] = g * scale
        opt.step()

    model_a, opt_a = fresh()
    for k in range(3):
        step(model_a, opt_a, k + 1)
    model_b, opt_b = fresh()
    for p_b, p_a in zip(model_b.parameters(), model_a.parameters()):
        p_b.data[...] = p_a.data
    opt_b.load_state_dict(opt_a.state_dict())
    assert opt_b.steps == 3
    step(model_a, opt_a, 4)
    step(model_b, opt_b, 4)
    for p_a, p_b in zip(model_a.parameters(), model_b.parameters()):
        assert np.array_equal(p_a.data, p_b.data)


def test_load_state_dict_refuses_another_optimizer_or_other_groups():
    model = FSRCNN(4, 2, 1, scale=2)
    sgd = SGD(param_groups(model.named_parameters(), 1e-3))
    with pytest.raises(ValueError, match="SGD, not Adam"):
        Adam(param_groups(model.named_parameters(), 1e-3)).load_state_dict(sgd.state_dict())
    split = SGD(param_groups(model.named_parameters(), 1e-3, {"deconv.": 1e-4}))
    with pytest.raises(ValueError, match="other parameter groups"):
        split.load_state_dict(sgd.state_dict())


# ------------------------------------------------------------------ schedules
def test_constant_and_step_decay():
    assert [constant()(s) for s in (0, 10, 10**6)] == [1.0, 1.0, 1.0]
    decay = step_decay(10, 0.5)
    assert [decay(s) for s in (0, 9, 10, 19, 20)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    points = milestones([5, 8], 0.1)
    assert [points(s) for s in (4, 5, 7, 8, 100)] == pytest.approx([1, 0.1, 0.1, 0.01, 0.01])


def test_cosine_ends_and_middle():
    schedule = cosine(100, final=0.01)
    assert schedule(0) == 1.0
    assert schedule(50) == pytest.approx((1 + 0.01) / 2)
    assert schedule(100) == pytest.approx(0.01) and schedule(500) == pytest.approx(0.01)
    values = [schedule(s) for s in range(101)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_warmup_ramps_linearly_then_follows_the_schedule():
    schedule = with_warmup(constant(), 4)
    assert [schedule(s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert with_warmup(cosine(10), 0)(0) == 1.0


def test_make_schedule_by_name():
    assert make_schedule("constant", 100)(99) == 1.0
    default_step = make_schedule("step", 100, gamma=0.1)
    assert [default_step(s) for s in (49, 50, 74, 75)] == pytest.approx([1, 0.1, 0.1, 0.01])
    assert make_schedule("step", 100, step_size=30, gamma=0.5)(60) == 0.25
    assert make_schedule("cosine", 100, warmup=10)(0) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule("linear", 100)
