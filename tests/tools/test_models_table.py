"""docs/models.md holds the models table as the registry makes it today."""

from __future__ import annotations

from pathlib import Path

from tools.models_table import table

PAGE = Path(__file__).resolve().parents[2] / "docs" / "models.md"


def test_the_models_page_holds_the_registry_s_table() -> None:
    assert table() in PAGE.read_text(encoding="utf-8"), (
        "docs/models.md is out of date: paste in what `python -m tools.models_table` prints"
    )
