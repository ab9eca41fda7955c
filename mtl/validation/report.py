"""The JSON-ready report of one corpus's validation.

The report becomes data/interim/<corpus>/report.json, a DVC metric: the counts DVC compares across
runs (read, accepted, quarantined, ...) sit at the top level, under "splits" and under "files" (one file
may feed several splits: each file's own counts per split are under its "splits"; a header line, read but not
a unit of input, is under its "header"); the detail (GX's summary of the suite, the batch checks and the
warnings) follows them. Nothing in it varies from run to run with the
same input (no timings, no timestamps), so `dvc metrics diff` shows only real changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mtl.config import ValidationConfig
from mtl.corpora.lines import Header, clip
from mtl.records import file_of
from mtl.validation.accounting import Accounting, Counts
from mtl.validation.checks import BatchIssue
from mtl.validation.suite import SuiteResult
from mtl.validation.suspicious import WARNINGS

HEADER_SHOWN = 200  # characters of a header line the report keeps


def build_report(
    corpus: str,
    *,
    task_name: str,
    kind: str,
    labels: list[str],
    labels_learned: bool,
    accounting: Accounting,
    headers: Sequence[Header],
    suite: SuiteResult,
    issues: list[BatchIssue],
    config: ValidationConfig,
) -> dict[str, Any]:
    total = Counts()
    for counts in accounting.files.values():
        total.read += counts.read
        total.accepted += counts.accepted
        total.quarantined += counts.quarantined
        total.by_reason.update(counts.by_reason)
    fired = {issue.check: issue for issue in issues}
    header_of = {file_of(header.source): header for header in headers}
    actions = {**config.checks.model_dump(), **{check: "warn" for check in WARNINGS}}
    return {
        "corpus": corpus,
        "task": task_name,
        "kind": kind,
        **total.to_dict(),
        "labels": len(labels),
        "labels_learned": labels_learned,  # False: the label set came from params.yaml
        "failed_checks": sum(issue.action == "fail" for issue in issues),
        "warned_checks": sum(issue.action == "warn" for issue in issues),
        "splits": {
            split: {"files": sorted(file for file, s in accounting.cells if s == split), **counts.to_dict()}
            for split, counts in accounting.splits.items()
        },
        "files": {
            file: {**counts.to_dict(),
                   "splits": {s: {"read": c.read, "accepted": c.accepted, "quarantined": c.quarantined}
                              for (f, s), c in sorted(accounting.cells.items()) if f == file},
                   **({"header": {"line": int(header_of[file].source.rsplit(":", 1)[1]),
                                  "text": clip(header_of[file].raw, HEADER_SHOWN)}} if file in header_of else {})}
            for file, counts in accounting.files.items()
        },
        "suite": {
            "name": suite.name,
            "success": suite.success,
            "expectations": [
                {
                    "expectation": summary.expectation,
                    "column": summary.column,
                    "reason": summary.key,
                    "success": summary.success,
                    "unexpected_count": summary.unexpected_count,
                }
                for summary in suite.expectations
            ],
        },
        "checks": [
            {
                "check": check,
                "action": action,
                "fired": check in fired,
                "message": fired[check].message if check in fired else None,
            }
            for check, action in actions.items()
        ],
    }
