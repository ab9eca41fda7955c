"""Per-file accounting and the JSON-ready report of one corpus's validation.

The report becomes data/interim/<corpus>/report.json, a DVC metric: the counts DVC compares across
runs (read, accepted, quarantined, ...) sit at the top level and under "splits"; the detail (GX's
summary of the suite, the batch checks) follows them. Nothing in it varies from run to run with the
same input (no timings, no timestamps), so `dvc metrics diff` shows only real changes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mtl.config import ValidationConfig
from mtl.records import Record, Rejection
from mtl.validation.quarantine import reason_category

if TYPE_CHECKING:
    from mtl.validation.checks import BatchIssue
    from mtl.validation.suite import SuiteResult


class AccountingError(RuntimeError):
    """Records read != records accepted + records quarantined for some file: data would be lost."""


@dataclass(slots=True)
class SplitCounts:
    file: str
    read: int  # records the reader parsed + units it rejected
    accepted: int
    quarantined: int  # the reader's rejections + the records validation refused
    by_reason: dict[str, int] = field(default_factory=dict)  # reason category -> count

    @property
    def quarantined_fraction(self) -> float:
        return self.quarantined / self.read if self.read else 0.0


def count_splits(
    files: dict[str, str],
    records: dict[str, list[Record]],
    reader_rejections: list[Rejection],
    accepted: dict[str, list[Record]],
    quarantined: list[Rejection],
) -> dict[str, SplitCounts]:
    """Count every file, and raise AccountingError unless read == accepted + quarantined for each.

    `read` is counted from the readers' output, `accepted + quarantined` from validation's: the two
    agree only if validation neither lost nor duplicated a record.
    """
    rejected_by_reader = Counter(rejection.split for rejection in reader_rejections)
    quarantined_by_split: dict[str, list[Rejection]] = {split: [] for split in files}
    for rejection in quarantined:
        if rejection.split not in quarantined_by_split:
            raise AccountingError(f"{rejection.source}: split {rejection.split!r} has no file ({sorted(files)})")
        quarantined_by_split[rejection.split].append(rejection)

    counts: dict[str, SplitCounts] = {}
    for split, file in files.items():
        read = len(records.get(split, [])) + rejected_by_reader[split]
        refused = quarantined_by_split[split]
        counts[split] = SplitCounts(
            file=file,
            read=read,
            accepted=len(accepted[split]),
            quarantined=len(refused),
            by_reason=dict(Counter(reason_category(rejection.reason) for rejection in refused).most_common()),
        )
        if read != counts[split].accepted + counts[split].quarantined:
            raise AccountingError(
                f"{file}: read {read} != accepted {counts[split].accepted} + quarantined {counts[split].quarantined}"
            )
    if sum(count.quarantined for count in counts.values()) != len(quarantined):
        raise AccountingError(f"{len(quarantined)} quarantined in all, but the files account for fewer")
    return counts


def build_report(
    corpus: str,
    *,
    task_name: str,
    kind: str,
    labels: list[str],
    labels_learned: bool,
    counts: dict[str, SplitCounts],
    suite: SuiteResult,
    issues: list[BatchIssue],
    config: ValidationConfig,
) -> dict[str, Any]:
    read = sum(count.read for count in counts.values())
    quarantined = sum(count.quarantined for count in counts.values())
    by_reason: Counter[str] = Counter()
    for count in counts.values():
        by_reason.update(count.by_reason)
    fired = {issue.check: issue for issue in issues}
    return {
        "corpus": corpus,
        "task": task_name,
        "kind": kind,
        "read": read,
        "accepted": sum(count.accepted for count in counts.values()),
        "quarantined": quarantined,
        "quarantined_fraction": round(quarantined / read, 6) if read else 0.0,
        "quarantined_by_reason": dict(by_reason.most_common()),
        "labels": len(labels),
        "labels_learned": labels_learned,  # False: the label set came from params.yaml
        "failed_checks": sum(issue.action == "fail" for issue in issues),
        "warned_checks": sum(issue.action == "warn" for issue in issues),
        "splits": {
            split: {
                "file": count.file,
                "read": count.read,
                "accepted": count.accepted,
                "quarantined": count.quarantined,
                "quarantined_fraction": round(count.quarantined_fraction, 6),
                "quarantined_by_reason": count.by_reason,
            }
            for split, count in counts.items()
        },
        "suite": {
            "name": suite.name,
            "success": suite.success,
            "expectations": [
                {
                    "expectation": summary.expectation,
                    "column": summary.column,
                    "reason": reason_category(summary.reason),
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
            for check, action in config.checks.model_dump().items()
        ],
    }
