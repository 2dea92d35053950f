"""Explorables for the static book: a slider over precomputed frames, no kernel needed.

In the HTML book no Python runs, so a live widget would be dead. Instead a figure is
drawn once per parameter value at build time and the frames are embedded in the page
with matplotlib's JavaScript player (``FuncAnimation.to_jshtml``): a range slider
picks the frame. The player sits in a ``<div class="explorable">`` that the book's
stylesheet sizes and its browser test finds.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import matplotlib
from IPython.display import HTML
from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure

EXPLORABLE_CLASS = "explorable"

# matplotlib's player draws its buttons with Font Awesome icons fetched from a CDN; the
# book must work offline, so the stylesheet link goes and each icon becomes a text glyph.
_FONT_AWESOME_LINK = re.compile(r"<link[^>]*font-awesome[^>]*>")
_ICON = re.compile(r'<i class="fa ([^"]+)"></i>')
_ICON_GLYPHS = {
    "fa-minus": "\u2212",
    "fa-fast-backward": "\u21e4",
    "fa-step-backward": "|\u25c0",
    "fa-play fa-flip-horizontal": "\u25c0",
    "fa-pause": "\u275a\u275a",
    "fa-play": "\u25b6",
    "fa-step-forward": "\u25b6|",
    "fa-fast-forward": "\u21e5",
    "fa-plus": "+",
}


def _without_cdn_icons(player_html: str) -> str:
    return _ICON.sub(lambda icon: _ICON_GLYPHS[icon.group(1)], _FONT_AWESOME_LINK.sub("", player_html))


# matplotlib's player gives its picture no alt text and its slider no label; a screen
# reader would announce "image" and "slider" and nothing else.
def _described(player_html: str, description: str, slider_label: str) -> str:
    alt, label = html.escape(description), html.escape(slider_label)
    player_html = player_html.replace('<img id="_anim_img', f'<img alt="{alt}" id="_anim_img', 1)
    return player_html.replace('<input id="_anim_slider', f'<input aria-label="{label}" id="_anim_slider', 1)


def explorable_html(
    fig: Figure,
    draw_frame: Callable[[int], object],
    n_frames: int,
    *,
    description: str,
    slider_label: str,
    interval_ms: int = 800,
) -> str:
    """HTML of a slider-driven player over ``n_frames`` frames of ``fig``.

    ``draw_frame(i)`` updates the figure's artists to frame ``i`` (``0 <= i < n_frames``);
    each frame is rendered once, as a PNG at the figure's dpi, so the HTML grows with
    ``n_frames`` and the figure's pixel size. The player starts paused on frame 0 and
    plays once when asked to. The HTML loads nothing from the network. ``description``
    is the picture's alt text and ``slider_label`` names what the slider chooses.
    """
    if n_frames < 1:
        raise ValueError(f"an explorable needs at least one frame, got n_frames={n_frames}")
    animation = FuncAnimation(fig, draw_frame, frames=n_frames, interval=interval_ms, repeat=False)
    # The default 20 MB limit silently drops frames past it; fail loudly instead, well below it.
    with matplotlib.rc_context({"animation.embed_limit": 8.0}):
        player = animation.to_jshtml(default_mode="once")
    player = _described(_without_cdn_icons(player), description, slider_label)
    return f'<div class="{EXPLORABLE_CLASS}">{player}</div>'


def explorable(fig: Figure, draw_frame: Callable[[int], object], n_frames: int, **options) -> HTML:
    """:func:`explorable_html`, wrapped for display as a notebook cell's output."""
    return HTML(explorable_html(fig, draw_frame, n_frames, **options))
