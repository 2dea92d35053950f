"""The built HTML book, as a student's browser sees it.

`make test` builds the book first (`make book`); these tests read `_build/html` and
drive Debian's Chromium through Playwright. Every page must load without console
errors or requests that leave the machine, with its math typeset, and every
chapter's static explorable must answer its slider without a kernel.
"""

import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from autograder.paths import discover_exercises

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As the machines' own probe starts it: no background traffic to a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Raw TeX a reader must never see: MathJax replaces all of it when it runs.
RAW_MATH = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\\frac\{")


def _pages():
    if not (HTML / "index.html").exists():
        return []
    return sorted(
        p.relative_to(HTML).as_posix()
        for p in HTML.rglob("*.html")
        if not p.name.startswith("_") and not p.relative_to(HTML).as_posix().startswith("_")
    )


PAGES = _pages()
CHAPTERS = [p for p in PAGES if p.startswith("chapters/")]
# A chapter whose exercise notebook shares its name (chapters/04_momentum, exercises/04_momentum.ipynb).
CHAPTERS_WITH_EXERCISES = [p for p in CHAPTERS if Path(p).stem in discover_exercises()]
# A chapter that runs an experiment shows it on the static page too (the midterm review runs none).
CHAPTERS_WITH_EXPERIMENTS = [
    p for p in CHAPTERS if "optimlab.experiments" in (ROOT / "chapters" / f"{Path(p).stem}.md").read_text()
]


def test_book_was_built():
    assert PAGES, f"no built book in {HTML}: run `make book` first"
    assert "intro.html" in PAGES and CHAPTERS, f"pages found: {PAGES}"


def test_book_builds_with_warnings_as_errors(tmp_path):
    """A rebuild with Sphinx warnings as errors succeeds (the executed cells come from the cache)."""
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("jupyter-book")),
            "build",
            str(ROOT),
            "--path-output",
            str(tmp_path),
            "--warningiserror",
            "--keep-going",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


@pytest.mark.parametrize("page", PAGES)
def test_pages_load_no_script_from_a_cdn(page):
    html = (HTML / page).read_text(encoding="utf-8")
    remote = re.findall(r"<(?:script|link)[^>]+(?:src|href)=\"(https?://[^\"]+)\"[^>]*>", html)
    stylesheets_or_scripts = [url for url in remote if not re.search(r"rel=\"(canonical|icon)\"", url)]
    assert not stylesheets_or_scripts, f"{page} loads {stylesheets_or_scripts} from the network"


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium is missing: apt-get install -y chromium (.ci/run does this)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _open(browser, url, width=1280):
    """Open `url` in a window `width` pixels wide; return the page and the problems it logged (console errors,
    page errors, remote requests)."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    problems = []
    page.on("console", lambda msg: msg.type == "error" and problems.append(f"console: {msg.text}"))
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    page.on("requestfailed", lambda req: problems.append(f"request failed: {req.url}"))

    def only_local(route):
        if route.request.url.startswith("http://127.0.0.1"):
            route.continue_()
        else:
            problems.append(f"remote request: {route.request.url}")
            route.abort()

    page.route("**/*", only_local)
    page.goto(url)
    page.wait_for_load_state("networkidle")
    # MathJax typesets asynchronously; wait until it says it is done.
    page.wait_for_function("() => !window.MathJax || (window.MathJax.startup && window.MathJax.startup.promise)")
    page.evaluate("() => window.MathJax ? window.MathJax.startup.promise : null")
    return page, problems


def _visible_prose(page):
    """The page's text outside code blocks, where raw TeX would show if MathJax had not run."""
    return page.evaluate(
        """() => {
            const main = (document.querySelector('main') || document.body).cloneNode(true);
            main.querySelectorAll('pre, code, script, style, mjx-container, .cell_output').forEach(el => el.remove());
            return main.innerText;
        }"""
    )


@pytest.mark.browser
@pytest.mark.parametrize("page_path", PAGES)
def test_page_opens_cleanly_with_math_rendered(browser, server, page_path):
    page, problems = _open(browser, f"{server}/{page_path}")
    try:
        assert not problems, f"{page_path}: " + "\n".join(problems)
        leftover = RAW_MATH.findall(_visible_prose(page))
        assert not leftover, f"{page_path}: raw TeX left in the text: {leftover[:5]}"
        source = (HTML / page_path).read_text(encoding="utf-8")
        if 'class="math' in source:
            assert page.locator("mjx-container").count() > 0, f"{page_path}: math on the page but none typeset"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / (page_path.replace("/", "_") + ".png")), full_page=page_path in CHAPTERS)
    finally:
        page.close()


@pytest.mark.browser
@pytest.mark.parametrize("page_path", PAGES)
def test_page_has_no_serious_accessibility_violation(browser, server, page_path):
    """axe-core's checks (run in the same Chromium): nothing a screen-reader user would be stuck on."""
    page, _ = _open(browser, f"{server}/{page_path}")
    try:
        serious = serious_axe_violations(page)
    finally:
        page.close()
    assert not serious, f"{page_path}:\n" + "\n".join(serious)


def serious_axe_violations(page) -> list[str]:
    """axe-core's serious and critical findings on `page` as it is now, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    return [
        f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. {v['nodes'][0]['target']})"
        for v in Axe().run(page).response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.browser
@pytest.mark.parametrize("page_path", CHAPTERS_WITH_EXPERIMENTS)
def test_static_explorable_answers_its_slider(browser, server, page_path):
    page, problems = _open(browser, f"{server}/{page_path}")
    try:
        explorable = page.locator(".explorable").first
        assert explorable.count() == 1, f"{page_path} has no static explorable (.explorable)"
        slider = explorable.locator("input[type=range]").first
        image = explorable.locator("img").first
        explorable.scroll_into_view_if_needed()
        before = image.get_attribute("src")
        last = int(slider.get_attribute("max"))
        assert last >= 2, "an explorable needs several frames"
        slider.evaluate("(el, value) => { el.value = value; el.dispatchEvent(new Event('input')); }", last)
        page.wait_for_timeout(200)
        after = image.get_attribute("src")
        assert after != before, "moving the slider did not change the picture"
        slider.evaluate("(el) => { el.value = 0; el.dispatchEvent(new Event('input')); }")
        page.wait_for_timeout(200)
        assert image.get_attribute("src") == before, "moving the slider back did not restore the first frame"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        explorable.screenshot(path=str(SCREENSHOTS / (page_path.replace("/", "_") + ".explorable.png")))
        assert not problems, "\n".join(problems)
    finally:
        page.close()


@pytest.mark.parametrize("page_path", CHAPTERS)
def test_launch_buttons_open_the_chapter_live(page_path):
    html = (HTML / page_path).read_text(encoding="utf-8")
    stem = Path(page_path).with_suffix("").as_posix()
    colab = re.search(r'href="(https://colab\.research\.google\.com/[^"]+)"', html)
    assert colab and colab.group(1).endswith(f"/_notebooks/{stem}.ipynb"), "Colab must open an .ipynb"
    assert (HTML / "_notebooks" / f"{stem}.ipynb").exists(), "the notebook the Colab button opens is not published"
    assert re.search(rf'href="https://mybinder\.org/v2/gh/[^"]+{re.escape(stem)}\.md"', html), "no Binder button"
    assert re.search(r'href="https://[^"]+/hub/user-redirect/git-pull\?[^"]+"', html), "no JupyterHub button"


# Display math and code blocks (cells' input and output, and the prose's code) that need a sideways scroll,
# or stick out of the text column, each described as "what: its width / the column's width".
_TOO_WIDE = """() => {
    const column = document.querySelector('main article') || document.querySelector('main');
    const right = column.getBoundingClientRect().right;
    const blocks = [...column.querySelectorAll('pre, div.math, mjx-container[display="true"]')];
    return blocks
        .filter(el => el.scrollWidth > el.clientWidth + 1 || el.getBoundingClientRect().right > right + 1)
        .map(el => `${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 50)}": `
                   + `${el.scrollWidth}px / ${Math.round(column.getBoundingClientRect().width)}px`);
}"""


@pytest.mark.browser
@pytest.mark.parametrize("page_path", PAGES)
def test_no_math_or_code_needs_a_sideways_scroll_at_1280px(browser, server, page_path):
    page, _ = _open(browser, f"{server}/{page_path}", width=1280)
    try:
        too_wide = page.evaluate(_TOO_WIDE)
    finally:
        page.close()
    assert not too_wide, f"{page_path}: wider than the text column at 1280 px:\n" + "\n".join(too_wide)


@pytest.mark.browser
@pytest.mark.parametrize("page_path", PAGES)
def test_no_page_scrolls_sideways_on_a_phone(browser, server, page_path):
    page, _ = _open(browser, f"{server}/{page_path}", width=390)
    try:
        sideways = sideways_scroll(page)
    finally:
        page.close()
    assert not sideways, f"{page_path}: {sideways}"


def sideways_scroll(page) -> str:
    """Why `page` as a whole scrolls sideways in its window, or "" when it does not."""
    page_width, window_width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    return f"the page is {page_width}px wide in a {window_width}px window" if page_width > window_width else ""


@pytest.mark.parametrize("page_path", CHAPTERS_WITH_EXERCISES)
def test_exercise_links_open_the_student_notebook(page_path):
    """The Exercises section: Colab, a download, the JupyterHub line, and the notebook published in the site."""
    html = (HTML / page_path).read_text(encoding="utf-8")
    exercise = Path(page_path).stem
    colab = re.findall(r'href="(https://colab\.research\.google\.com/github/[^"]+)"', html)
    assert any(url.endswith(f"/exercises/{exercise}.ipynb") for url in colab), f"no Colab link to {exercise}: {colab}"
    assert f'href="../exercises/{exercise}.ipynb"' in html, f"no download link to {exercise}.ipynb"
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))
    assert f"nbgrader fetch_assignment {exercise}" in text, "no JupyterHub (nbgrader) line"
    published = HTML / "exercises" / f"{exercise}.ipynb"
    assert published.exists(), f"{published} is not published with the book"
    assert published.read_bytes() == (ROOT / "_build" / "exercises" / "student" / f"{exercise}.ipynb").read_bytes()
