"""The Prefect UI and the HTML report, seen by headless Chromium (`tests.ui_check`).

Skipped where no Chromium is installed (CI does not install one: see docs/ui-check.md).
Screenshots go to $GROVES_SCREENSHOTS (default: the test's temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser import find_chromium

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        find_chromium() is None,
        reason="no Chromium: apt-get install chromium (or set CHROMIUM) to run the UI check",
    ),
]


def test_artifacts_tab_shows_every_plot_inline_for_local_and_s3_stores(tmp_path: Path) -> None:
    from tests.ui_check import run_check

    out = Path(os.environ.get("GROVES_SCREENSHOTS") or tmp_path)
    facts = run_check(out)
    for kind in ("local", "s3"):
        for view in ("grid", "rows"):
            cards = facts[kind][view]
            assert cards[0]["text"].startswith(facts[kind]["headline"][:40])
            images = [image for card in cards for image in card["images"]]
            assert [i["alt"] for i in images] == facts[kind]["plots"]
            assert all(i["width"] > 0 for i in images), images  # the browser decoded each
            sources = {i["src"].split(":", 1)[0] for i in images}
            assert sources == ({"data"} if kind == "local" else {"http"})
            if kind == "s3":
                assert all(i["src"].startswith(facts["s3"]["s3_url"]) for i in images)
            assert (out / f"artifacts-{kind}-{view}.png").stat().st_size > 50_000
    alts = [alt for alt, _ in facts["html"]]
    assert len(alts) == len(facts["local"]["plots"])
    assert all(width > 0 for _, width in facts["html"])
