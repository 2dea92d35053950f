"""Execute the book's chapters side by side into Jupyter Book's execution cache, before `jupyter-book build`.

myst-nb (execution mode `cache`) runs each chapter whose code is not cached, one after the
other. Here jupyter-cache runs the uncached ones in parallel, one process per core, into the
same cache, read as myst-nb reads them; the build then finds every chapter cached. A chapter
that forces execution (`mystnb: execution_mode: force`, the midterm review) is left to the
build. A chapter that fails here is left uncached: the build runs it again and shows its error.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import yaml
from jupyter_cache import get_cache
from jupyter_cache.executors import load_executor

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "_build" / ".jupyter_cache"
READER = {"name": "myst_nb_md", "type": "plugin"}  # myst-nb's own reader, so the cache keys match the build's
TIMEOUT_S = 600  # as _config.yml's execute.timeout


def chapters() -> list[Path]:
    """The chapters `_toc.yml` lists that the build would take from the cache."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [entry["file"] for part in toc.get("parts", []) for entry in part.get("chapters", [])]
    paths = [ROOT / f"{name}.md" for name in files]
    return [path for path in paths if path.exists() and "execution_mode: force" not in path.read_text("utf-8")]


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    # One thread per kernel: the chapters run side by side, one per core, and their small tensors gain
    # nothing from a second thread (it slows them down once the cores are shared).
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the Makefile runs jupyter-book
    cache = get_cache(str(CACHE))
    records = [cache.add_nb_to_project(str(path), read_data=READER) for path in chapters()]
    stale = [record.pk for record in records if cache.get_cached_project_nb(record.pk) is None]
    if not stale:
        return 0
    print(f"executing {len(stale)} chapter(s) side by side into {CACHE}", flush=True)
    started = time.perf_counter()
    result = load_executor("local-parallel", cache, logger=logging.getLogger("execute_chapters")).run_and_cache(
        filter_pks=stale, timeout=TIMEOUT_S, allow_errors=False
    )
    failed = result.excepted + result.errored
    print(
        f"executed {len(result.succeeded)} chapter(s) in {time.perf_counter() - started:.1f} s"
        + (f"; {len(failed)} failed and are left to the build" if failed else ""),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
