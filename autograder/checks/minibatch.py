"""Hidden checks for exercise 01_minibatch: stratified batches (judged by their properties) and the variance formula.

`stratified_batches` has many correct answers, so it is not compared with a reference: a judge
reads the batches the student's function returned and names the first property they break
(one epoch's partition, batch sizes, class counts, randomness from the generator alone).
`minibatch_gradient_variance` has one answer and is compared with `optimlab.batching`'s, which
`tests/test_experiments_minibatch.py` pins to the average over every possible batch.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from optimlab.batching import minibatch_gradient_variance, stratified_batches

from .cases import case
from .grading import Check, Mistake, Question
from .records import Signature, decode, decode_array, made

# ---------------------------------------------------------------- stratified_batches: what the judge says

NOT_INDICES_HINT = (
    "every batch must be a 1-d LongTensor (torch.int64) of example indices; build batches from "
    "torch.randperm or from (labels == c).nonzero(), which are int64 already."
)
COUNT_HINT = (
    "return ceil(N / batch_size) batches (math.ceil, or -(-N // batch_size)): floor division drops the last, "
    "partial batch's worth of examples or makes the batches larger than batch_size."
)
REPEATED_HINT = (
    "an index appears twice, or an index of range(N) is missing: one epoch uses every example exactly once, "
    "so draw without replacement (shuffle with torch.randperm, never torch.randint)."
)
SIZES_HINT = (
    "batch sizes differ by more than 1 (a short last batch): spread the N examples over the "
    "ceil(N / batch_size) batches evenly, e.g. by dealing them out in turn, so that sizes differ by at most one."
)
BLOCKS_HINT = (
    "your batches take the classes one after another, so a batch holds one or two classes: do not cut the "
    "label-sorted list into consecutive pieces; deal it out (position j to batch j mod n_batches), which "
    "spreads every class over all the batches."
)
STRATA_HINT = (
    "a batch's class counts stray from the data set's proportions: class c must appear floor or ceil of "
    "n_c / n_batches times in every batch; shuffling all indices together does not ensure it. Shuffle each "
    "class, lay the classes end to end, and deal the list to the batches in turn."
)
GLOBAL_RNG_HINT = (
    "the same generator seed gave different batches: take all randomness from `generator` "
    "(torch.randperm(n, generator=generator)), not from torch's global random state."
)
NOT_SHUFFLED_HINT = (
    "two different generator seeds gave the same batches: the epoch must be a random shuffle, drawn from "
    "`generator` (shuffle within each class, and shuffle the batches)."
)


def _violation(labels: np.ndarray, batch_size: int, out) -> str:
    """The first property that one call's batches break, in words; '' when they are a stratified epoch."""
    if not isinstance(out, list) or not all(isinstance(b, dict) for b in out):
        return NOT_INDICES_HINT
    batches = [decode_array(b) for b in out]
    if any(b.dtype != np.int64 or b.ndim != 1 for b in batches):
        return NOT_INDICES_HINT
    n = len(labels)
    n_batches = math.ceil(n / batch_size)
    if len(batches) != n_batches:
        return COUNT_HINT
    everything = np.concatenate(batches)
    if len(everything) != n or not np.array_equal(np.sort(everything), np.arange(n)):
        return REPEATED_HINT
    sizes = [len(b) for b in batches]
    if max(sizes) - min(sizes) > 1:
        return SIZES_HINT
    n_classes = int(labels.max()) + 1
    counts = np.stack([np.bincount(labels[b], minlength=n_classes) for b in batches])
    share = np.bincount(labels, minlength=n_classes) / n_batches
    if (np.abs(counts - share) > 1 + 1e-9).any():
        in_order = labels[everything]
        return BLOCKS_HINT if (np.diff(in_order) >= 0).all() else STRATA_HINT
    return ""


def judge_stratified(case: dict, record: dict) -> str:
    """Each call's batches must be a stratified epoch; a case of three calls (seeds a, a, b) checks the seeding."""
    steps = case["steps"]
    outs = [step["out"][0] for step in record["steps"]]
    for step, out in zip(steps, outs, strict=True):
        violation = _violation(decode(step["labels"]).numpy(), step["batch_size"], out)
        if violation:
            return violation
    seeds = [step["generator"]["args"]["seed"] for step in steps]
    if len(seeds) == 3 and seeds[0] == seeds[1] != seeds[2]:
        if outs[0] != outs[1]:
            return GLOBAL_RNG_HINT
        if outs[0] == outs[2]:
            return NOT_SHUFFLED_HINT
    return ""


# ---------------------------------------------------------------- stratified_batches: cases


def _labels(counts: list[int], seed: int) -> torch.Tensor:
    """Labels with `counts[c]` examples of class c, in a seeded random order."""
    labels = torch.cat([torch.full((count,), c, dtype=torch.long) for c, count in enumerate(counts)])
    return labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))]


def _calls(labels: torch.Tensor, batch_sizes: list[int], seed: int) -> dict:
    return case(
        {}, [{"labels": labels, "batch_size": b, "generator": made("generator", seed=seed + b)} for b in batch_sizes]
    )


def _remainders() -> list[dict]:
    # N = 53 is divisible by none of these: every epoch ends with a partial batch's worth of examples.
    return [_calls(_labels([9, 14, 6, 11, 13], seed=0), [4, 7, 10, 25], seed=0)]


def _class_counts() -> list[dict]:
    return [
        _calls(_labels([30, 20, 10], seed=1), [6, 8, 12], seed=10),  # 10 batches of 6: exactly 3, 2 and 1 a batch
        _calls(_labels([40, 3, 17, 25, 9, 6], seed=2), [5, 16, 32], seed=20),
    ]


def _tiny_classes_and_batches() -> list[dict]:
    # A class with a single example, batches of one and two.
    return [_calls(_labels([5, 1, 4, 3], seed=3), [1, 2, 3], seed=30)]


def _one_batch() -> list[dict]:
    labels = _labels([4, 3, 5], seed=4)
    return [_calls(labels, [12, 13, 100], seed=40)]


def _seeding() -> list[dict]:
    labels = _labels([10, 7, 12, 5], seed=5)
    seeds = [(50, 50, 51), (7, 7, 8)]
    return [
        case({}, [{"labels": labels, "batch_size": b, "generator": made("generator", seed=s)} for s in trio])
        for trio, b in zip(seeds, [5, 8], strict=True)
    ]


def _dealt(labels, batch_size, generator, *, shuffled: bool = True, n_batches: int | None = None):
    """Shuffle each class (or not), lay the classes end to end, deal the list to the batches."""
    n = len(labels)
    n_batches = math.ceil(n / batch_size) if n_batches is None else n_batches
    deck = []
    for c in labels.unique():
        members = (labels == c).nonzero().flatten()
        deck.append(members[torch.randperm(len(members), generator=generator)] if shuffled else members)
    deck = torch.cat(deck)
    return [deck[start::n_batches] for start in range(n_batches)]


def _stratified_mistakes() -> tuple[Mistake, ...]:
    def with_replacement(labels, batch_size, generator):
        n = len(labels)
        picks = torch.randint(n, (n,), generator=generator)
        return list(picks.split(batch_size))

    def last_batch_short(labels, batch_size, generator):
        return list(torch.randperm(len(labels), generator=generator).split(batch_size))

    def not_stratified(labels, batch_size, generator):
        n_batches = math.ceil(len(labels) / batch_size)
        return list(torch.randperm(len(labels), generator=generator).tensor_split(n_batches))

    def contiguous_class_blocks(labels, batch_size, generator):
        n_batches = math.ceil(len(labels) / batch_size)
        by_class = torch.argsort(labels, stable=True)
        return list(by_class.tensor_split(n_batches))

    def floor_batch_count(labels, batch_size, generator):
        return _dealt(labels, batch_size, generator, n_batches=max(1, len(labels) // batch_size))

    def not_shuffled(labels, batch_size, generator):
        return _dealt(labels, batch_size, generator, shuffled=False)

    def global_random_state(labels, batch_size, generator):
        return _dealt(labels, batch_size, None)  # torch.randperm(..., generator=None): the global random state

    return (
        Mistake("with_replacement", REPEATED_HINT, with_replacement),
        Mistake("last_batch_short", SIZES_HINT, last_batch_short),
        Mistake("not_stratified", STRATA_HINT, not_stratified, label="sec-minibatch-stratified"),
        Mistake("contiguous_class_blocks", BLOCKS_HINT, contiguous_class_blocks),
        Mistake("floor_batch_count", COUNT_HINT, floor_batch_count),
        Mistake("not_shuffled", NOT_SHUFFLED_HINT, not_shuffled),
        Mistake("global_random_state", GLOBAL_RNG_HINT, global_random_state),
    )


# ---------------------------------------------------------------- minibatch_gradient_variance


def _grads(n: int, shape: tuple[int, ...], seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    # Uneven scales per coordinate, so that a formula right only on average is still caught.
    scale = torch.rand(shape, generator=generator, dtype=torch.float64) * 3 + 0.1
    return (torch.randn((n, *shape), generator=generator, dtype=torch.float64) * scale + 1.0).to(dtype)


def _variance_calls(grads: torch.Tensor, batch_sizes: list[int]) -> dict:
    return case({}, [{"per_example_grads": grads, "batch_size": b} for b in batch_sizes])


def _variance_mistakes() -> tuple[Mistake, ...]:
    def sample_variance(per_example_grads, batch_size):
        n = per_example_grads.shape[0]
        return per_example_grads.var(dim=0) / batch_size * (n - batch_size) / (n - 1)

    def no_correction(per_example_grads, batch_size):
        return per_example_grads.var(dim=0, correction=0) / batch_size

    def variance_of_the_sum(per_example_grads, batch_size):
        n = per_example_grads.shape[0]
        return per_example_grads.var(dim=0, correction=0) * batch_size * (n - batch_size) / (n - 1)

    def correction_over_n(per_example_grads, batch_size):
        n = per_example_grads.shape[0]
        return per_example_grads.var(dim=0, correction=0) / batch_size * (n - batch_size) / n

    def standard_deviation(per_example_grads, batch_size):
        n = per_example_grads.shape[0]
        return (per_example_grads.var(dim=0, correction=0) / batch_size * (n - batch_size) / (n - 1)).sqrt()

    def mean_squared_not_centred(per_example_grads, batch_size):
        n = per_example_grads.shape[0]
        return (per_example_grads**2).mean(dim=0) / batch_size * (n - batch_size) / (n - 1)

    return (
        Mistake(
            "sample_variance",
            "sigma2 is the population variance of the N per-example gradients: divide by N "
            "(per_example_grads.var(dim=0, correction=0)); torch.var divides by N - 1 by default.",
            sample_variance,
        ),
        Mistake(
            "no_correction",
            "sigma2 / B is the variance of B draws *with* replacement; without replacement multiply by the "
            "finite-population correction (N - B) / (N - 1), which makes the full batch's variance 0.",
            no_correction,
        ),
        Mistake(
            "variance_of_the_sum",
            "that is the variance of the batch's sum; the batch gradient is the mean of B gradients, whose "
            "variance is the sum's divided by B**2: sigma2 / B * (N - B) / (N - 1).",
            variance_of_the_sum,
        ),
        Mistake(
            "correction_over_n",
            "the finite-population correction with the population variance is (N - B) / (N - 1), not (N - B) / N.",
            correction_over_n,
        ),
        Mistake(
            "standard_deviation",
            "return the variance, not its square root (the standard deviation).",
            standard_deviation,
        ),
        Mistake(
            "mean_squared_not_centred",
            "subtract the mean gradient before squaring: sigma2 is the mean of (g_i - g_bar)**2, not of g_i**2.",
            mean_squared_not_centred,
        ),
    )


QUESTIONS = {
    "stratified_batches": Question(
        signature=Signature(
            "stratified_batches", ("labels", "batch_size", "generator"), ("batches",), kinds=("tensors",)
        ),
        reference=stratified_batches,
        checks={
            "n_not_divisible_by_batch_size": Check(cases=_remainders),
            "class_counts_follow_the_data": Check(cases=_class_counts),
            "class_of_one_and_batches_of_one": Check(cases=_tiny_classes_and_batches),
            "batch_size_at_least_n": Check(cases=_one_batch),
            "random_from_the_generator_only": Check(cases=_seeding),
        },
        mistakes=_stratified_mistakes(),
        label="sec-minibatch-stratified",
        judge=judge_stratified,
    ),
    "minibatch_gradient_variance": Question(
        signature=Signature("minibatch_gradient_variance", ("per_example_grads", "batch_size"), ("variance",)),
        reference=minibatch_gradient_variance,
        checks={
            "every_batch_size": Check(cases=lambda: [_variance_calls(_grads(12, (4,), seed=0), [1, 2, 5, 11])]),
            "gradients_of_any_shape": Check(
                cases=lambda: [_variance_calls(_grads(7, (2, 3), seed=1), [3]), _variance_calls(_grads(9, (), 2), [4])],
                pure=True,
            ),
            "full_batch_has_no_noise": Check(cases=lambda: [_variance_calls(_grads(6, (3,), seed=3), [6])]),
            "float32_keeps_dtype": Check(
                cases=lambda: [_variance_calls(_grads(10, (5,), seed=4, dtype=torch.float32), [3, 10])]
            ),
        },
        mistakes=_variance_mistakes(),
        label="sec-minibatch-variance",
    ),
}
