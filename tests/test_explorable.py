import re

import pytest
from matplotlib.figure import Figure

from optimlab.widgets.explorable import explorable, explorable_html


def _frames(html: str) -> list[str]:
    return re.findall(r'frames\[\d+\] = "(data:image/png;base64,[^"]+)"', html)


def test_explorable_html_has_a_slider_over_one_distinct_frame_per_value():
    fig = Figure(figsize=(2, 1.5), dpi=40)
    (line,) = fig.subplots().plot([0, 1], [0, 0])
    html = explorable_html(
        fig, lambda index: line.set_ydata([0, index]), 4, description="a rising line", slider_label="slope"
    )
    assert html.startswith('<div class="explorable">') and html.endswith("</div>")
    assert re.search(r'<input[^>]*type="range"', html)
    # what a screen reader announces: the picture's alt text and the slider's name
    assert re.search(r'<img alt="a rising line" id="_anim_img', html)
    assert re.search(r'<input aria-label="slope" id="_anim_slider', html)
    frames = _frames(html)
    assert len(frames) == 4
    assert len(set(frames)) == 4  # each frame drew something different
    # nothing is fetched from the network (the book works offline)
    assert "http" not in html and 'class="fa' not in html


def test_explorable_wraps_the_html_for_display():
    fig = Figure(figsize=(2, 1.5), dpi=40)
    (line,) = fig.subplots().plot([0, 1], [0, 0])
    shown = explorable(fig, lambda index: line.set_ydata([index, 0]), 2, description="d", slider_label="s")
    assert 'class="explorable"' in shown.data and len(_frames(shown.data)) == 2


def test_explorable_needs_a_frame():
    with pytest.raises(ValueError, match="n_frames=0"):
        explorable_html(Figure(), lambda index: None, 0, description="d", slider_label="s")
