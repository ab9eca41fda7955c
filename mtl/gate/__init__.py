"""The gate: the promotion decision (decision.py), a pure function of the two evaluations, their paired
per-example statistics and the thresholds; Holm across tasks (holm.py); the report (report.py)."""

from mtl.gate.decision import decide
from mtl.gate.report import GateReport, GateRow, table_rows

__all__ = ["GateReport", "GateRow", "decide", "table_rows"]
