"""CSV logs DVC can plot: train_log.csv, eval_log.csv and task_mix.csv, each keyed by step in column one.

    train_log.csv  step,task,loss,lr,weight,total   a row per task trained at the step: its loss, its
                                                     weight, and the step's objective (same on each row)
    eval_log.csv   step,task,metric,value
    task_mix.csv   step,window,task,batches,fraction,expected
                                                     per sampling window (samplers.py): the batches each
                                                     task trained, their share, and the sampler's p(task)

Rows are buffered and flushed at evaluations and checkpoints. On resume a log is cut back to the rows
of the steps the checkpoint holds, so replayed steps are not logged twice.
"""

from __future__ import annotations

import csv
from pathlib import Path

TRAIN_COLUMNS = ["step", "task", "loss", "lr", "weight", "total"]
EVAL_COLUMNS = ["step", "task", "metric", "value"]
MIX_COLUMNS = ["step", "window", "task", "batches", "fraction", "expected"]


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
