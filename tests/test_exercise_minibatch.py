"""Exercise 01_minibatch, beyond what tests/test_exercises.py checks for every exercise: the judge accepts any
correct answer, its hidden cases hold the edge cases the exercise promises, and the points are as announced."""

import json
import math

import torch

from autograder import paths
from autograder.checks.grading import evaluate, load_exercise
from autograder.checks.records import decode

QUESTIONS = load_exercise("01_minibatch")


def _passes_every_check(question: str, answer) -> list[str]:
    definition = QUESTIONS[question]
    records = definition.records_of(answer)
    return [check for check in definition.checks if not evaluate(definition, check, records[check]).passed]


def test_a_different_correct_stratified_epoch_passes_every_check():
    """Another construction: each class dealt from a random starting batch, then batches topped up to even sizes."""

    def rotated_deal(labels, batch_size, generator):
        n = len(labels)
        n_batches = math.ceil(n / batch_size)
        order = torch.randperm(n, generator=generator)
        deck = order[torch.argsort(labels[order], stable=True)]  # shuffled within each class, classes in order
        offset = int(torch.randint(n_batches, (1,), generator=generator))
        return [deck[(start - offset) % n_batches :: n_batches] for start in range(n_batches)]

    assert _passes_every_check("stratified_batches", rotated_deal) == []


def test_the_textbook_variance_formula_with_the_sample_variance_also_passes():
    """S^2 / B * (1 - B / N) with the sample variance S^2 is the same number: any correct formula passes."""

    def textbook(per_example_grads, batch_size):
        n = per_example_grads.shape[0]
        return per_example_grads.var(dim=0) / batch_size * (1 - batch_size / n)

    assert _passes_every_check("minibatch_gradient_variance", textbook) == []


def test_the_judge_names_a_batch_with_too_many_of_one_class():
    def one_class_per_batch_where_possible(labels, batch_size, generator):
        n_batches = math.ceil(len(labels) / batch_size)
        shuffled = torch.randperm(len(labels), generator=generator)
        return list(shuffled[torch.argsort(labels[shuffled], stable=True)].tensor_split(n_batches))

    failing = _passes_every_check("stratified_batches", one_class_per_batch_where_possible)
    assert "class_counts_follow_the_data" in failing


def test_hidden_cases_hold_the_promised_edge_cases():
    calls = [
        (decode(step["labels"]), step["batch_size"])
        for cases in QUESTIONS["stratified_batches"].cases.values()
        for case in cases
        for step in case["steps"]
    ]
    assert any(torch.bincount(labels).min() == 1 for labels, _ in calls)  # a class with one example
    assert any(len(labels) % b != 0 and b < len(labels) for labels, b in calls)  # N not divisible by B
    assert any(b >= len(labels) for labels, b in calls) and any(b == len(labels) for labels, b in calls)
    assert any(b == 1 for _, b in calls)
    seeding = QUESTIONS["stratified_batches"].cases["random_from_the_generator_only"]
    for case in seeding:
        seeds = [step["generator"]["args"]["seed"] for step in case["steps"]]
        assert seeds[0] == seeds[1] != seeds[2]


def test_points_are_three_and_two():
    notebook = json.loads((paths.EXERCISES / "01_minibatch.ipynb").read_text())
    configs = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "raw"]
    assert "# BEGIN QUESTION\nname: stratified_batches\npoints: 3" in configs
    assert "# BEGIN QUESTION\nname: minibatch_gradient_variance\npoints: 2" in configs
