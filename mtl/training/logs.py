"""CSV logs DVC can plot: train_log.csv (step,task,loss,lr) and eval_log.csv (step,task,metric,value).

Rows are buffered and flushed at evaluations and checkpoints. On resume a log is cut back to the rows
of the steps the checkpoint holds, so replayed steps are not logged twice.
"""

from __future__ import annotations

import csv
from pathlib import Path

TRAIN_COLUMNS = ["step", "task", "loss", "lr"]
EVAL_COLUMNS = ["step", "task", "metric", "value"]


class CsvLog:
    def __init__(self, path: Path, columns: list[str], *, keep_until: int | None = None) -> None:
        """keep_until=None starts a new file; a step number keeps the existing rows up to that step."""
        self.path, self.columns = path, columns
        kept: list[list[str]] = []
        if keep_until is not None and path.exists():
            with path.open(newline="", encoding="utf-8") as f:
                kept = [row for row in list(csv.reader(f))[1:] if row and int(row[0]) <= keep_until]
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([columns, *kept])
        self._pending: list[list] = []

    def append(self, *row) -> None:
        self._pending.append(list(row))

    def flush(self) -> None:
        if self._pending:
            with self.path.open("a", newline="", encoding="utf-8") as f:
                csv.writer(f).writerows(self._pending)
            self._pending = []
