"""The report stage (`mtl report`): the page a person opens to see one evaluated candidate.

Reads the candidate's training logs, the evaluate and gate stages' reports (and transfer's, when there is one),
the dataset's leakage report and the registry's history (sources.py), and writes one self-contained HTML page
(paths.report: sections.py, charts.py, page.py) and `dvc plots show`'s HTML template with the same JavaScript
inlined (paths.plots_template), so both draw offline.
"""

from __future__ import annotations

from pathlib import Path

from mtl.config import Params
from mtl.report.page import plots_template
from mtl.report.sections import build_page
from mtl.report.sources import read_sources


def write_report(params: Params) -> Path:
    """Write the report and the DVC plots template under the reports folder; returns the report's path."""
    found = read_sources(params)
    gate = found.gate or {}
    title = "mtl candidate report" + (f": gate {gate['verdict']}" if gate.get("verdict") else "")
    path = params.report("report")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_page(found, title).render(), encoding="utf-8")
    params.report("plots_template").write_text(plots_template(), encoding="utf-8")
    return path
