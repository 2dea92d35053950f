"""optimlab's optimizers against their torch.optim twins, as whole training runs.

Each run is 200 float64 steps with two param groups of different hyperparameters,
a learning-rate scheduler, a parameter whose gradient is all zeros, one whose
gradient is ``None``, and, for our optimizer, a ``state_dict`` saved through
``torch.save`` at step 100 and loaded with ``weights_only=True`` into a fresh
optimizer. ``torch.optim`` runs straight through with ``foreach=False`` (its plain
per-tensor loop).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import pytest
import torch
from torch.optim.lr_scheduler import LambdaLR, StepLR

import optimlab.optimizers as ol

STEPS = 200
RELOAD_AT = 100
TIGHT = {"rtol": 1e-10, "atol": 1e-12}


def inverse_time(epoch: int) -> float:
    return 1.0 / (1.0 + 0.02 * epoch)


SCHEDULERS = {
    "step_lr": partial(StepLR, step_size=50, gamma=0.5),
    "lambda_lr": partial(LambdaLR, lr_lambda=inverse_time),
}
CONSTANT_LR = {"constant_lr": partial(LambdaLR, lr_lambda=lambda epoch: 1.0)}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Run these tiny matmuls on one thread: on a busy 2-core machine, idle-waiting
    intra-op threads made a 32x5 @ 5x8 product take milliseconds (the file took minutes)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@dataclass(frozen=True)
class Twin:
    """Our optimizer and torch.optim's, with the same defaults and second-group overrides."""

    ours: Callable
    theirs: Callable
    second_group: dict
    theirs_second_group: dict | None = None  # only where the two name a hyperparameter differently
    schedulers: dict = field(default_factory=lambda: SCHEDULERS)
    state_names_match: bool = True  # False where our state is not torch's under another name

    def make(self, side: str, params_by_group: list[list[torch.Tensor]]) -> torch.optim.Optimizer:
        first, second = params_by_group
        if side == "ours":
            return self.ours([{"params": first}, {"params": second, **self.second_group}])
        overrides = self.second_group if self.theirs_second_group is None else self.theirs_second_group
        return self.theirs([{"params": first}, {"params": second, **overrides}], foreach=False)


def twin(ours, theirs, defaults, second_group, **kwargs):
    return Twin(partial(ours, **defaults), partial(theirs, **defaults), second_group, **kwargs)


TWINS = {
    "sgd": twin(ol.SGD, torch.optim.SGD, {"lr": 0.05}, {"lr": 0.02}),
    "sgd-momentum-dampening-decay": twin(
        ol.SGD,
        torch.optim.SGD,
        {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01},
        {"momentum": 0.5, "dampening": 0.0},
    ),
    "sgd-nesterov-decay": twin(
        ol.SGD,
        torch.optim.SGD,
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
        {"lr": 0.02, "momentum": 0.7},
    ),
    "sgd-maximize": twin(
        ol.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "maximize": True}, {"weight_decay": 0.01}
    ),
    # RMSProp's lr stays small: at 0.01 its steps on the MLP start to oscillate by step 130,
    # where rounding differences (of order 1e-16) double with every step.
    "rmsprop": twin(ol.RMSprop, torch.optim.RMSprop, {"lr": 0.003}, {"alpha": 0.9}),
    "rmsprop-centered-momentum-decay": twin(
        ol.RMSprop,
        torch.optim.RMSprop,
        {"lr": 0.005, "centered": True, "momentum": 0.9, "weight_decay": 0.01},
        {"alpha": 0.95, "momentum": 0.0, "centered": False},
    ),
    "rmsprop-maximize": twin(ol.RMSprop, torch.optim.RMSprop, {"lr": 0.003, "maximize": True}, {"eps": 1e-6}),
    "adam": twin(ol.Adam, torch.optim.Adam, {"lr": 0.01}, {"betas": (0.8, 0.99)}),
    "adam-amsgrad-decay": twin(
        ol.Adam, torch.optim.Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}, {"lr": 0.003, "amsgrad": False}
    ),
    "adam-maximize": twin(ol.Adam, torch.optim.Adam, {"lr": 0.01, "maximize": True}, {"eps": 1e-6}),
    "adamw": twin(ol.AdamW, torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.05}, {"weight_decay": 0.0}),
    "adamw-amsgrad": twin(ol.AdamW, torch.optim.AdamW, {"lr": 0.01, "amsgrad": True}, {"betas": (0.5, 0.9)}),
    # The lecture's momentum is PyTorch's as long as the learning rate stays put (ERRATA 1).
    "momentum-lecture": Twin(
        partial(ol.MomentumLecture, lr=0.05, alpha=0.9),
        partial(torch.optim.SGD, lr=0.05, momentum=0.9),
        {"lr": 0.02, "alpha": 0.5},
        theirs_second_group={"lr": 0.02, "momentum": 0.5},
        schedulers=CONSTANT_LR,
        state_names_match=False,  # delta_w = lr * momentum_buffer
    ),
}


class RandomGradients:
    """Parameters whose gradients are fresh random tensors each step (independent of the parameters)."""

    shapes = [(5, 3), (4,), (2, 2, 2)]

    def __init__(self) -> None:
        gen = torch.Generator().manual_seed(0)
        self.initial = [torch.randn(shape, generator=gen, dtype=torch.float64) for shape in self.shapes]
        self.initial += [torch.randn(3, generator=gen, dtype=torch.float64)]  # gets all-zero gradients
        self.initial += [torch.randn(2, generator=gen, dtype=torch.float64)]  # never gets a gradient

    def params(self) -> list[torch.Tensor]:
        return [p.clone().requires_grad_() for p in self.initial]

    def groups(self, params):
        a, b, c, zero_grad, no_grad = params
        return [[a, b, zero_grad], [c, no_grad]]

    def gradients(self, step: int) -> list[torch.Tensor]:
        """The gradients of step ``step`` for all parameters but the last."""
        gen = torch.Generator().manual_seed(1000 + step)
        grads = [torch.randn(shape, generator=gen, dtype=torch.float64) for shape in self.shapes]
        return grads + [torch.zeros_like(self.initial[3])]

    def set_grads(self, params, step: int, maximize: bool) -> None:
        for p, grad in zip(params, self.gradients(step)):
            p.grad = grad


class SmallMLP:
    """A 5-8-1 tanh network fitted to one fixed random batch by mean squared error.

    Two extra parameters: one enters the loss multiplied by zero (its gradient is
    all zeros), one does not enter it at all (its gradient stays ``None``).
    """

    def __init__(self) -> None:
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(32, 5, generator=gen, dtype=torch.float64)
        self.y = torch.randn(32, 1, generator=gen, dtype=torch.float64)
        shapes = [(8, 5), (8,), (1, 8), (1,), (3,), (2,)]
        self.initial = [0.5 * torch.randn(shape, generator=gen, dtype=torch.float64) for shape in shapes]

    def params(self) -> list[torch.Tensor]:
        return [p.clone().requires_grad_() for p in self.initial]

    def groups(self, params):
        w1, b1, w2, b2, zero_grad, no_grad = params
        return [[w1, b1, zero_grad], [w2, b2, no_grad]]

    def loss(self, params) -> torch.Tensor:
        w1, b1, w2, b2, zero_grad, _ = params
        prediction = torch.tanh(self.x @ w1.T + b1) @ w2.T + b2
        return torch.mean((prediction - self.y) ** 2) + 0.0 * zero_grad.sum()

    def set_grads(self, params, step: int, maximize: bool) -> None:
        for p in params:
            p.grad = None
        # A maximizing optimizer ascends the negated loss, so the run still fits the data.
        objective = -self.loss(params) if maximize else self.loss(params)
        objective.backward()


PROBLEMS = {"random_gradients": RandomGradients, "mlp": SmallMLP}


def save_and_load(optimizer, scheduler, make_optimizer, make_scheduler, params_by_group):
    """Checkpoint through bytes, as to a file, and resume into fresh objects."""
    buffer = io.BytesIO()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)
    fresh_optimizer = make_optimizer(params_by_group)
    # The scheduler first: creating one resets the groups' lr, which the loaded state then overwrites.
    fresh_scheduler = make_scheduler(fresh_optimizer)
    fresh_optimizer.load_state_dict(checkpoint["optimizer"])
    fresh_scheduler.load_state_dict(checkpoint["scheduler"])
    return fresh_optimizer, fresh_scheduler


def train(problem, make_optimizer, make_scheduler, *, reload_at=None, resume_with=None, steps=STEPS):
    """Run ``steps`` steps; returns the parameters and the optimizer in use at the end.

    After step ``reload_at``, the run goes on from a checkpoint, in a fresh optimizer
    made by ``resume_with`` (default: ``make_optimizer``).
    """
    params = problem.params()
    optimizer = make_optimizer(problem.groups(params))
    scheduler = make_scheduler(optimizer)
    maximize = any(group.get("maximize", False) for group in optimizer.param_groups)
    for step in range(steps):
        problem.set_grads(params, step, maximize)
        optimizer.step()
        scheduler.step()
        if step + 1 == reload_at:
            optimizer, scheduler = save_and_load(
                optimizer, scheduler, resume_with or make_optimizer, make_scheduler, problem.groups(params)
            )
    return params, optimizer


def assert_same_state(ours: torch.optim.Optimizer, theirs: torch.optim.Optimizer) -> None:
    """Same parameters have state, under the same names, with the same values."""
    our_state, their_state = ours.state_dict()["state"], theirs.state_dict()["state"]
    assert our_state.keys() == their_state.keys()
    for index in our_state:
        assert our_state[index].keys() == their_state[index].keys(), f"state names of parameter {index}"
        for name, value in our_state[index].items():
            if name == "step":
                assert float(value) == float(their_state[index][name])
            else:
                torch.testing.assert_close(value, their_state[index][name], **TIGHT)


TWIN_CASES = [
    pytest.param(twin_id, problem_id, scheduler_id, id=f"{twin_id}-{problem_id}-{scheduler_id}")
    for twin_id, spec in TWINS.items()
    for problem_id in PROBLEMS
    for scheduler_id in spec.schedulers
]


@pytest.mark.parametrize(("twin_id", "problem_id", "scheduler_id"), TWIN_CASES)
def test_matches_torch_optim(twin_id, problem_id, scheduler_id):
    spec, problem = TWINS[twin_id], PROBLEMS[problem_id]()
    make_scheduler = spec.schedulers[scheduler_id]
    our_params, ours = train(problem, partial(spec.make, "ours"), make_scheduler, reload_at=RELOAD_AT)
    their_params, theirs = train(problem, partial(spec.make, "theirs"), make_scheduler)

    for ours_p, theirs_p in zip(our_params, their_params):
        torch.testing.assert_close(ours_p, theirs_p, **TIGHT)
    assert torch.equal(our_params[-1], problem.initial[-1]), "a parameter without gradient must not move"
    assert [g["lr"] for g in ours.param_groups] == [g["lr"] for g in theirs.param_groups]
    if spec.state_names_match:
        assert_same_state(ours, theirs)


def test_lecture_momentum_parts_from_pytorch_under_a_scheduler():
    """ERRATA 1: once StepLR halves the rate, the lecture's velocity still carries the old one."""
    spec = TWINS["momentum-lecture"]
    problem = RandomGradients()
    halve_at_50 = SCHEDULERS["step_lr"]
    before, _ = train(problem, partial(spec.make, "ours"), halve_at_50, steps=50)
    before_torch, _ = train(problem, partial(spec.make, "theirs"), halve_at_50, steps=50)
    after, _ = train(problem, partial(spec.make, "ours"), halve_at_50, steps=60)
    after_torch, _ = train(problem, partial(spec.make, "theirs"), halve_at_50, steps=60)
    torch.testing.assert_close(before[0], before_torch[0], **TIGHT)
    assert (after[0] - after_torch[0]).abs().max() > 1e-3


@pytest.mark.parametrize("twin_id", ["sgd-nesterov-decay", "rmsprop-centered-momentum-decay", "adam-amsgrad-decay"])
@pytest.mark.parametrize("direction", ["torch_to_ours", "ours_to_torch"])
def test_state_dicts_interchange_with_torch_optim(twin_id, direction):
    """A run checkpointed by one side resumes on the other and ends where a straight run ends."""
    spec, problem = TWINS[twin_id], RandomGradients()
    first, then = ("theirs", "ours") if direction == "torch_to_ours" else ("ours", "theirs")
    make_scheduler = SCHEDULERS["step_lr"]
    resumed, _ = train(
        problem, partial(spec.make, first), make_scheduler, reload_at=RELOAD_AT, resume_with=partial(spec.make, then)
    )
    straight, _ = train(problem, partial(spec.make, then), make_scheduler)
    for resumed_p, straight_p in zip(resumed, straight):
        torch.testing.assert_close(resumed_p, straight_p, **TIGHT)


def test_nesterov_lookahead_optimizer_tracks_pytorch_nesterov_in_shifted_variables():
    """With a closure on a real network: PyTorch's parameters are the lecture's look-ahead points."""
    problem = SmallMLP()
    lr, alpha = 0.05, 0.9
    ours_params, theirs_params = problem.params(), problem.params()
    ours = ol.NesterovLookahead(ours_params, lr=lr, alpha=alpha)
    theirs = torch.optim.SGD(theirs_params, lr=lr, momentum=alpha, nesterov=True, foreach=False)

    def closure_for(params):
        def closure():
            problem.set_grads(params, step=0, maximize=False)
            return problem.loss(params)

        return closure

    for _ in range(STEPS):
        lookahead_loss = ours.step(closure_for(ours_params))
        their_loss = theirs.step(closure_for(theirs_params))
        torch.testing.assert_close(lookahead_loss, their_loss, **TIGHT)
    for w, theta in zip(ours_params[:4], theirs_params[:4]):
        delta_w = ours.state[w]["delta_w"]
        torch.testing.assert_close(ol.lookahead_point(w, delta_w, alpha), theta, **TIGHT)
        torch.testing.assert_close(delta_w, lr * theirs.state[theta]["momentum_buffer"], **TIGHT)
    assert problem.loss(ours_params) < 0.5 * problem.loss(problem.initial)


def test_nesterov_lookahead_optimizer_needs_a_closure():
    with pytest.raises(ValueError, match="closure"):
        ol.NesterovLookahead([torch.zeros(2, requires_grad=True)], lr=0.1).step()


def test_local_gain_optimizer_reads_the_scheduled_lr_and_resumes_from_a_checkpoint():
    """LocalGain has no torch twin: pin the class to its step function, lr from LambdaLR, reloaded midway."""
    problem = RandomGradients()
    base_lr, beta = 0.05, 0.1
    params, optimizer = train(
        problem,
        lambda groups: ol.LocalGain([p for group in groups for p in group], lr=base_lr, beta=beta),
        SCHEDULERS["lambda_lr"],
        reload_at=RELOAD_AT,
    )

    for index in range(4):  # the parameters that get gradients, the all-zero one included
        w = problem.initial[index]
        gain, prev_grad = torch.ones_like(w), torch.zeros_like(w)
        for step in range(STEPS):
            grad = problem.gradients(step)[index]
            w, gain = ol.local_gain_step(w, grad, prev_grad, gain, base_lr * inverse_time(step), beta)
            prev_grad = grad
        torch.testing.assert_close(params[index], w, **TIGHT)
        torch.testing.assert_close(optimizer.state[params[index]]["gain"], gain, **TIGHT)
    assert math.isclose(optimizer.param_groups[0]["lr"], base_lr * inverse_time(STEPS))


INVALID_HYPERPARAMETERS = [
    (ol.SGD, {"lr": -1.0}, "Invalid learning rate: -1.0"),
    (ol.SGD, {"momentum": -0.5}, "Invalid momentum value: -0.5"),
    (ol.SGD, {"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
    (ol.SGD, {"momentum": 0.9, "dampening": 0.1, "nesterov": True}, "Nesterov momentum requires a momentum"),
    (ol.MomentumLecture, {"alpha": -0.9}, "Invalid alpha value: -0.9"),
    (ol.NesterovLookahead, {"lr": float("nan")}, "Invalid learning rate: nan"),
    (ol.LocalGain, {"beta": 1.0}, "Invalid beta value: 1.0"),
    (ol.RMSprop, {"alpha": -0.99}, "Invalid alpha value: -0.99"),
    (ol.RMSprop, {"eps": -1e-8}, "Invalid epsilon value: -1e-08"),
    (ol.Adam, {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
    (ol.Adam, {"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1: -0.1"),
    (ol.AdamW, {"weight_decay": -0.01}, "Invalid weight_decay value: -0.01"),
]


@pytest.mark.parametrize(("optimizer", "hyperparameters", "message"), INVALID_HYPERPARAMETERS)
@pytest.mark.parametrize("where", ["defaults", "param_group"])
def test_invalid_hyperparameters_are_named(optimizer, hyperparameters, message, where):
    """Checked when a group enters, whether the value is a default or a group's own."""
    params = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        if where == "defaults":
            optimizer(params, **hyperparameters)
        else:
            optimizer([{"params": params, **hyperparameters}])


@pytest.mark.parametrize("optimizer", [ol.SGD, ol.MomentumLecture, ol.NesterovLookahead, ol.Adam, ol.AdamW])
def test_step_hooks_run_once_per_step(optimizer):
    """torch.optim patches each class's step with its hooks; a subclass (NesterovLookahead of
    MomentumLecture, AdamW of Adam) must not run them twice, whichever class was made first."""
    for parent in (ol.MomentumLecture, ol.Adam):
        parent([torch.zeros(1, requires_grad=True)])
    x = torch.ones(2, requires_grad=True)
    instance = optimizer([x], lr=0.1)
    calls = []
    instance.register_step_post_hook(lambda *args: calls.append(1))

    def closure():
        instance.zero_grad()
        loss = (x**2).sum()
        loss.backward()
        return loss

    for _ in range(3):
        instance.step(closure)
    assert len(calls) == 3
