"""Learning-rate schedules: ``factor(step)`` multiplies every group's base rate.

``step`` counts the updates already made (0 for the first one). Each schedule is a
plain function of the step, so a resumed run recomputes the same factors from the
step alone; nothing about the schedule needs saving.

    constant                 1
    step(step_size, gamma)   gamma ** (step // step_size)
    milestones(points, g)    g ** (number of points <= step)
    cosine(total, final)     final + (1 - final) * (1 + cos(pi * min(step, total) / total)) / 2
    warm-up (any of them)    factor * min(1, (step + 1) / warmup)
"""

import math

SCHEDULES = ("constant", "step", "cosine")


def constant():
    """The same rate throughout."""
    return lambda step: 1.0


def step_decay(step_size: int, gamma: float = 0.1):
    """Multiply the rate by ``gamma`` every ``step_size`` steps."""
    if step_size < 1:
        raise ValueError(f"step_size must be >= 1, got {step_size}")
    return lambda step: gamma ** (step // step_size)


def milestones(points, gamma: float = 0.1):
    """Multiply the rate by ``gamma`` at each step listed in ``points``."""
    points = sorted(int(p) for p in points)
    return lambda step: gamma ** sum(step >= p for p in points)


def cosine(total_steps: int, final: float = 0.0):
    """Half a cosine from 1 at step 0 down to ``final`` at ``total_steps`` (then flat)."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    def factor(step):
        progress = min(step, total_steps) / total_steps
        return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * progress))
    return factor


def with_warmup(schedule, warmup_steps: int):
    """Ramp linearly from ``1/warmup`` to 1 over the first ``warmup_steps`` steps."""
    if warmup_steps <= 0:
        return schedule
    return lambda step: schedule(step) * min(1.0, (step + 1) / warmup_steps)


def make_schedule(name: str, total_steps: int, warmup: int = 0, step_size: int = 0,
                  gamma: float = 0.1, final: float = 0.0):
    """Build a schedule by name (``constant``, ``step``, ``cosine``), with warm-up.

    ``step`` decays by ``gamma`` every ``step_size`` steps, or, without a
    ``step_size``, at 50% and 75% of ``total_steps``. ``cosine`` ends at ``final``.
    """
    if name == "constant":
        schedule = constant()
    elif name == "step":
        if step_size:
            schedule = step_decay(step_size, gamma)
        else:
            schedule = milestones([total_steps // 2, 3 * total_steps // 4], gamma)
    elif name == "cosine":
        schedule = cosine(total_steps, final)
    else:
        raise ValueError(f"unknown schedule {name!r}; choose from {', '.join(SCHEDULES)}")
    return with_warmup(schedule, warmup)
