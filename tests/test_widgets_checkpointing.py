"""Chapter 10's live explorer, headless: its controls pick the run, and the panel shows that run's resume."""

import dataclasses

import pytest

from optimlab.experiments.checkpointing import RESUME, run_resumes
from optimlab.widgets import checkpointing as checkpointing_widgets
from optimlab.widgets.checkpointing import ResumeExplorer
from optimlab.widgets.live import ResultCache


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    monkeypatch.setattr(checkpointing_widgets, "cached_resumes", ResultCache(run_resumes))


def _visible(explorer: ResumeExplorer) -> list[str]:
    return [
        line.get_label()
        for line in explorer.panel.loss_ax.lines
        if line.get_visible() and not line.get_label().startswith("_")
    ]


def test_the_explorer_shows_the_chosen_resume_of_the_chosen_run():
    explorer = ResumeExplorer(resume="forgot the scheduler")
    assert _visible(explorer) == ["never stopped", "forgot the scheduler"]
    assert explorer.output.outputs[0]["data"]["image/png"]

    explorer.resume.value = "exact"
    assert _visible(explorer) == ["never stopped", "exact"]

    explorer.stop_after.value = 2
    result = checkpointing_widgets.cached_resumes.get(dataclasses.replace(RESUME, stop_after=2))
    assert explorer.panel.result is result
    assert result.stop_step == 2 * result.steps_per_epoch
    assert result.max_weight_difference["exact"] == 0.0
