"""Experiments behind the chapters: pure, seeded ``config -> result`` functions, no plotting."""

from optimlab.experiments.momentum import (
    ConventionsConfig,
    ConventionsResult,
    DigitsSweepConfig,
    DigitsSweepResult,
    QuadraticConfig,
    QuadraticResult,
    run_conventions,
    run_digits_sweep,
    run_quadratic,
)

__all__ = [
    "ConventionsConfig",
    "ConventionsResult",
    "DigitsSweepConfig",
    "DigitsSweepResult",
    "QuadraticConfig",
    "QuadraticResult",
    "run_conventions",
    "run_digits_sweep",
    "run_quadratic",
]
