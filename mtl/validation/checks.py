"""Batch-level checks: properties of a corpus as a whole that no single record shows.

Each check has an action in params.yaml (validation.checks): "fail" stops the ingest stage, "warn"
only reports, "off" does not run the check. A check that finds something gives a BatchIssue whose
message names the corpus, the check and the worst examples, so a person can act on it without
opening the report.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from mtl.config import ValidationConfig
from mtl.records import Record, Rejection, file_of
from mtl.validation.accounting import UNASSIGNED, Accounting, Counts

MAX_EXAMPLES = 5
Finding = tuple[str, list[str]]  # (what was found, examples), before the corpus and check are named


@dataclass(slots=True)
class BatchIssue:
    check: str  # "quarantine_fraction" | "empty_split" | "unseen_label" | "train_test_overlap"
    action: Literal["fail", "warn"]
    message: str
    examples: list[str] = field(default_factory=list)


def failures(result: Any) -> list[BatchIssue]:
    """The issues of a CorpusValidation (or any object with .issues) whose action is "fail"."""
    return [issue for issue in result.issues if issue.action == "fail"]


def batch_checks(
    corpus: str,
    *,
    accounting: Accounting,
    records: dict[str, list[Record]],
    accepted: dict[str, list[Record]],
    quarantined: list[Rejection],
    labels_of: Callable[[Record], list[str]],
    text_of: Callable[[Record], str],
    config: ValidationConfig,
) -> list[BatchIssue]:
    """Run every check whose action is not "off"; return the issues found, in check order. records and
    accepted: split -> records (as the task's kind parsed them); text_of: a record's text(s) as one string."""
    checks: dict[str, Callable[[], Finding | None]] = {
        "quarantine_fraction": lambda: quarantine_fraction(accounting.files, quarantined,
                                                           config.max_quarantine_fraction),
        "empty_split": lambda: empty_split(accounting.splits),
        "unseen_label": lambda: unseen_label(records, accepted, labels_of),
        "train_test_overlap": lambda: train_test_overlap(accepted, text_of),
    }
    issues: list[BatchIssue] = []
    for check, run in checks.items():
        action = getattr(config.checks, check)
        if action == "off":
            continue
        finding = run()
        if finding is not None:
            issues.append(issue(corpus, check, action, finding))
    return issues


def issue(corpus: str, check: str, action: Literal["fail", "warn"], finding: Finding) -> BatchIssue:
    """The issue of a finding, its message naming the corpus and the check. Messages quote records' text, so
    anything UTF-8 cannot encode (a lone surrogate in a label) is written as its escape: a report, a log line
    or a Prefect artifact must never fail to print it."""
    summary, examples = finding
    examples = [printable(example) for example in examples]
    message = printable(f"{corpus}: {check}: {summary}")
    if examples:
        message += ", e.g. " + "; ".join(examples)
    return BatchIssue(check=check, action=action, message=message, examples=examples)


def printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def quarantine_fraction(files: dict[str, Counts], quarantined: list[Rejection], limit: float) -> Finding | None:
    over = {file: count for file, count in files.items() if count.quarantined_fraction > limit}
    if not over:
        return None
    parts = []
    for file, count in sorted(over.items(), key=lambda item: -item[1].quarantined_fraction):
        top = ", ".join(f"{key} {n}" for key, n in count.by_reason.most_common(3))
        parts.append(
            f"{file} quarantined {count.quarantined} of {count.read} "
            f"({count.quarantined_fraction:.2%} > {limit:.2%}; {top})"
        )
    examples = [
        f"{rejection.source} ({_clip(rejection.reason, 80)})" for rejection in quarantined
        if file_of(rejection.source) in over
    ][:MAX_EXAMPLES]
    return "; ".join(parts), examples


def empty_split(splits: dict[str, Counts]) -> Finding | None:
    empty = [
        f"{split} (read {count.read}, quarantined {count.quarantined})"
        for split, count in splits.items()
        if count.accepted == 0 and split != UNASSIGNED
    ]
    if not empty:
        return None
    return f"{len(empty)} split(s) with no accepted records: " + ", ".join(empty), []


def unseen_label(
    records: dict[str, list[Record]], accepted: dict[str, list[Record]], labels_of: Callable[[Record], list[str]]
) -> Finding | None:
    """Labels of dev/test records (accepted or not) that no accepted train record has.

    Refused dev/test records count too: with a learned label set, a dev label absent from train makes
    its records fail the label expectation, and this check is what names the label plainly.
    """
    seen = {label for record in accepted.get("train", []) for label in labels_of(record)}
    unseen: dict[str, list[str]] = defaultdict(list)  # label -> sources of the records using it
    for split, split_records in records.items():
        if split == "train":
            continue
        for record in split_records:
            for label in set(labels_of(record)) - seen:
                unseen[label].append(record.source)
    if not unseen:
        return None
    worst = sorted(unseen.items(), key=lambda item: (-len(item[1]), item[0]))
    examples = [f"{label!r} in {len(sources)} record(s), first {sources[0]}" for label, sources in worst]
    return f"{len(unseen)} dev/test label(s) never seen in train", examples[:MAX_EXAMPLES]


def train_test_overlap(accepted: dict[str, list[Record]], text_of: Callable[[Record], str]) -> Finding | None:
    """Test records whose text (tokens joined by spaces; a pair's two texts together) is exactly a train
    record's: a pair leaks only when the pair repeats, not when one of its sentences does."""
    if not accepted.get("train") or not accepted.get("test"):
        return None
    train_texts = {text_of(record) for record in accepted["train"]}
    overlap = [record for record in accepted["test"] if text_of(record) in train_texts]
    if not overlap:
        return None
    distinct = Counter(text_of(record) for record in overlap)
    # the longest shared texts first: those are leaked examples, while "Mike" or "..." recur by chance
    longest = sorted(overlap, key=lambda record: -len(text_of(record)))[:MAX_EXAMPLES]
    examples = [f"{record.source} {_clip(text_of(record), 60)!r}" for record in longest]
    return (
        f"{len(overlap)} of {len(accepted['test'])} test texts also in train ({len(distinct)} distinct)",
        examples,
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
