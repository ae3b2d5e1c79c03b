"""Optimisers and learning-rate schedules for training FSRCNN.

    from minisr.optim import SGD, Adam, param_groups, make_schedule
    groups = param_groups(model.named_parameters(), lr=1e-3, prefix_lr={"deconv.": 1e-4})
    opt = Adam(groups)
    schedule = make_schedule("cosine", total_steps=100_000)
    for step in range(100_000):
        opt.set_lr_factor(schedule(step))
        model.zero_grad(); ...; model.backward(dy); opt.step()

Each optimiser walks its groups' ``(name, Parameter)`` pairs and updates ``.data``
in place from ``.grad``; per-parameter buffers (momentum, Adam moments) are keyed
by parameter name so that ``state_dict()`` can be checkpointed and restored.
"""

from .adam import Adam
from .schedules import (SCHEDULES, constant, cosine, make_schedule, milestones, step_decay,
                        with_warmup)
from .sgd import SGD, Optimizer, param_groups

__all__ = ["Adam", "Optimizer", "SCHEDULES", "SGD", "constant", "cosine", "make_schedule", "milestones",
           "param_groups", "step_decay", "with_warmup"]
