"""The report section of a prepared ``data/ovis/`` (filled in below)."""

from __future__ import annotations

from pathlib import Path

from segprep.report.model import ReportSection


def report_section(recipe, out_root: Path) -> ReportSection:
    return ReportSection(recipe.NAME, recipe.FOLDER, recipe.TITLE, [], notes=["(report view to come)"])
