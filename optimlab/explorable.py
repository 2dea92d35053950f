"""Explorables for the static book: a slider over precomputed frames, no kernel needed.

In the HTML book no Python runs, so a live widget would be dead. Instead a figure is
drawn once per parameter value at build time and the frames are embedded in the page
with matplotlib's JavaScript player (``FuncAnimation.to_jshtml``): a range slider
picks the frame. The player sits in a ``<div class="explorable">`` that the book's
stylesheet sizes and its browser test finds.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib
from IPython.display import HTML
from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure

EXPLORABLE_CLASS = "explorable"


def explorable_html(fig: Figure, draw_frame: Callable[[int], object], n_frames: int, *, interval_ms: int = 800) -> str:
    """HTML of a slider-driven player over ``n_frames`` frames of ``fig``.

    ``draw_frame(i)`` updates the figure's artists to frame ``i`` (``0 <= i < n_frames``);
    each frame is rendered once, as a PNG at the figure's dpi, so the HTML grows with
    ``n_frames`` and the figure's pixel size. The player starts paused on frame 0 and
    plays once when asked to.
    """
    if n_frames < 1:
        raise ValueError(f"an explorable needs at least one frame, got n_frames={n_frames}")
    animation = FuncAnimation(fig, draw_frame, frames=n_frames, interval=interval_ms, repeat=False)
    # The default 20 MB limit silently drops frames past it; fail loudly instead, well below it.
    with matplotlib.rc_context({"animation.embed_limit": 8.0}):
        player = animation.to_jshtml(default_mode="once")
    return f'<div class="{EXPLORABLE_CLASS}">{player}</div>'


def explorable(fig: Figure, draw_frame: Callable[[int], object], n_frames: int, *, interval_ms: int = 800) -> HTML:
    """:func:`explorable_html`, wrapped for display as a notebook cell's output."""
    return HTML(explorable_html(fig, draw_frame, n_frames, interval_ms=interval_ms))
