"""The docs ship what they cite: the exercise guide's rules by section, no paths outside the
repository."""
from __future__ import annotations

import re
from pathlib import Path

from spinewise.coaching import guide

ROOT = Path(__file__).resolve().parents[1]


def test_every_guide_section_the_code_cites_is_summarised():
    text = (ROOT / "docs/exercise-guide.md").read_text()
    headings = set(re.findall(r"^## (.+)$", text, re.M))
    for const in (guide.CORE, guide.WHEN, guide.RESULTS, guide.SAFETY, guide.FAQ,
                  guide.MISTAKES, guide.ADVANCED):
        assert const.removeprefix("guide: ") in headings, const
    # short forms used in comments ("guide: Core Stabilization - Plank") name a section here
    cited = set()
    for path in (ROOT / "spinewise").rglob("*.py"):
        cited |= set(re.findall(r"guide: ([A-Z][A-Za-z ]+?)(?: -|[,:(]|$)", path.read_text(), re.M))
    for name in cited:
        assert any(h.startswith(name) or name in h for h in headings) or name in text, name


def test_docs_cite_nothing_outside_the_repository():
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        assert "/work/" not in path.read_text() and "../shared" not in path.read_text(), path
