"""Drift: has the data a candidate was trained on moved away from the data production was trained on?

`train_statistics` (or `TrainStatistics`, fed batch by batch) summarises a dataset's train split per task: how many examples, the distribution of its
outcomes (tags, labels or score ranges: the kind's `outcomes`), of its sentence lengths, and its vocabulary
(lowercased words with counts). Unify writes it beside the dataset (paths.data_stats); a promotion saves it with
the registry version (lineage "data_stats"), so production's statistics travel with production.

`compare` then says, per task, between production's statistics and the candidate's:
- label shift: a chi-square test of homogeneity on the two outcome counts (its p-value), the total variation
  distance between the two distributions (the share of examples that would have to change outcome), and the
  outcomes whose share moved most. Tags are counted per token, so a tagging task's counts are not independent
  draws and its p-value is optimistic: the distance is what the threshold reads.
- sentence length: the two-sample Kolmogorov-Smirnov statistic and its p-value, and the mean lengths.
- unseen tokens: the share of the candidate's train tokens whose word production's train data (any task: the
  encoder is shared) never had, with the most frequent of them.
A shift counts as drift when its p-value is below `p_value` and its size passes its threshold; unseen tokens
when their share passes `max_unseen`. The gate reports drift beside its table, and blocks on it only when
`drift.action` is block.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from mtl.config import DriftConfig
from mtl.tasks import kind_of
from mtl.tasks.kind import TaskOptions

_EXAMPLE_WORDS = 8  # unseen words listed per task


class TrainStatistics:
    """Running train statistics, fed a batch of rows at a time (unify streams the train split through it): its
    memory is the counters (outcomes, length histogram, vocabulary), not the rows."""

    def __init__(self, tasks: dict[str, TaskOptions]) -> None:
        self.tasks = tasks
        self.examples: Counter = Counter()
        self.outcomes: dict[str, Counter] = {}
        self.lengths: dict[str, Counter] = {}
        self.vocabulary: dict[str, Counter] = {}

    def add(self, task: str, rows: Iterable[dict[str, Any]]) -> None:
        """Count a batch of the task's train rows (each with its kind's fields)."""
        kind, options = kind_of(self.tasks[task]), self.tasks[task]
        texts = kind.text_fields(options)
        outcomes = self.outcomes.setdefault(task, Counter())
        lengths = self.lengths.setdefault(task, Counter())
        vocabulary = self.vocabulary.setdefault(task, Counter())
        for row in rows:
            self.examples[task] += 1
            outcomes.update(kind.outcomes(row, options))
            for text in texts:
                lengths[len(row[text])] += 1
                vocabulary.update(token.lower() for token in row[text])

    def result(self, order: Iterable[str] | None = None) -> dict:
        """{task: {examples, outcomes: {value: n}, lengths: {tokens: n}, vocabulary: {word: n}}}, in `order`
        (default: the order the tasks were first added); a task in `order` never added has zero examples."""
        out = {}
        for name in (order if order is not None else self.outcomes):
            outcomes, lengths = self.outcomes.get(name, Counter()), self.lengths.get(name, Counter())
            out[name] = {"examples": self.examples[name], "outcomes": dict(sorted(outcomes.items())),
                         "lengths": {str(n): lengths[n] for n in sorted(lengths)},
                         "vocabulary": dict(self.vocabulary.get(name, Counter()))}
        return out


def train_statistics(rows: dict[str, list[dict[str, Any]]], tasks: dict[str, TaskOptions]) -> dict:
    """{task: {examples, outcomes: {value: n}, lengths: {tokens: n}, vocabulary: {word: n}}} of each task's
    train rows (its kind's fields)."""
    statistics = TrainStatistics(tasks)
    for name, task_rows in rows.items():
        statistics.add(name, task_rows)
    return statistics.result(rows)


def compare(production: dict, candidate: dict, config: DriftConfig) -> dict[str, dict]:
    """Per task of the candidate: its drift from production (train_statistics of each). A task production
    was not trained on is "new"."""
    known = set().union(*(stats["vocabulary"] for stats in production.values())) if production else set()
    out = {}
    for task, after in candidate.items():
        before = production.get(task)
        if before is None:
            out[task] = {"status": "new", "reasons": ["new task: production was not trained on it"]}
            continue
        labels = label_shift(before["outcomes"], after["outcomes"], config.movers)
        lengths = length_shift(before["lengths"], after["lengths"])
        unseen = unseen_share(after["vocabulary"], known)
        labels["drifted"] = labels["p_value"] < config.p_value and labels["shift"] > config.max_label_shift
        lengths["drifted"] = lengths["p_value"] < config.p_value and lengths["statistic"] > config.max_length_shift
        unseen["drifted"] = unseen["share"] > config.max_unseen
        reasons = []
        if labels["drifted"]:
            top = labels["movers"][0]
            reasons.append(f"label shift {labels['shift']:.3f} > {config.max_label_shift:g} (chi-square p "
                           f"{labels['p_value']:.2g}; {top['outcome']} {top['before']:.1%} -> {top['after']:.1%})")
        if lengths["drifted"]:
            reasons.append(f"length shift KS {lengths['statistic']:.3f} > {config.max_length_shift:g} (p "
                           f"{lengths['p_value']:.2g}; mean {lengths['mean_before']:.1f} -> {lengths['mean_after']:.1f} tokens)")
        if unseen["drifted"]:
            reasons.append(f"{unseen['share']:.1%} of train tokens unseen by production's data > "
                           f"{config.max_unseen:.1%} (e.g. {', '.join(unseen['examples'][:3])})")
        out[task] = {"status": "drift" if reasons else "ok", "examples": {"before": before["examples"],
                     "after": after["examples"]}, "labels": labels, "lengths": lengths, "unseen": unseen,
                     "reasons": reasons}
    return out


def label_shift(before: dict[str, int], after: dict[str, int], movers: int) -> dict:
    """Chi-square test of homogeneity on the two outcome counts, total variation distance, largest movers."""
    from scipy.stats import chi2_contingency

    outcomes = sorted(set(before) | set(after))
    table = np.array([[before.get(o, 0) for o in outcomes], [after.get(o, 0) for o in outcomes]], dtype=float)
    n_before, n_after = table.sum(axis=1)
    if len(outcomes) < 2 or not n_before or not n_after:
        return {"p_value": 1.0, "shift": 0.0, "movers": []}
    p_value = float(chi2_contingency(table, correction=False).pvalue)
    share_before, share_after = table[0] / n_before, table[1] / n_after
    change = share_after - share_before
    order = np.argsort(-np.abs(change), kind="stable")[:movers]
    return {"p_value": p_value, "shift": float(np.abs(change).sum() / 2),
            "movers": [{"outcome": outcomes[i], "before": float(share_before[i]), "after": float(share_after[i]),
                        "change": float(change[i])} for i in order]}


def length_shift(before: dict[str, int], after: dict[str, int]) -> dict:
    """Two-sample Kolmogorov-Smirnov test on the sentence lengths (histograms {tokens: count})."""
    from scipy.stats import ks_2samp

    first, second = _expand(before), _expand(after)
    if not len(first) or not len(second):
        return {"statistic": 0.0, "p_value": 1.0, "mean_before": 0.0, "mean_after": 0.0}
    test = ks_2samp(first, second)
    return {"statistic": float(test.statistic), "p_value": float(test.pvalue), "mean_before": float(first.mean()),
            "mean_after": float(second.mean())}


def unseen_share(vocabulary: dict[str, int], known: set[str]) -> dict:
    """The share of token occurrences whose word is not in `known`, and the most frequent such words."""
    total = sum(vocabulary.values())
    unseen = Counter({word: n for word, n in vocabulary.items() if word not in known})
    return {"share": sum(unseen.values()) / total if total else 0.0, "tokens": total,
            "examples": [word for word, _ in unseen.most_common(_EXAMPLE_WORDS)]}


def _expand(histogram: dict[str, int]) -> np.ndarray:
    return np.repeat(np.array([int(k) for k in histogram], dtype=np.int64),
                     np.array(list(histogram.values()), dtype=np.int64))


def drifted(comparison: dict[str, dict]) -> dict[str, list[str]]:
    """task -> why it drifted, for the tasks that did."""
    return {task: row["reasons"] for task, row in comparison.items() if row["status"] == "drift"}


def to_markdown(comparison: dict[str, dict], production_version: str | None) -> str:
    heading = f"## Drift of the training data against production {production_version}"
    lines = [heading, "", "| task | examples | label shift (TVD) | p | largest mover | length KS | p | mean length "
             "| unseen tokens | status |", "|---|---:|---:|---:|---|---:|---:|---|---:|---|"]
    for task, row in comparison.items():
        if row["status"] == "new":
            lines.append(f"| {task} | | | | | | | | | new task |")
            continue
        labels, lengths, unseen = row["labels"], row["lengths"], row["unseen"]
        mover = labels["movers"][0] if labels["movers"] else None
        mover_text = f"{mover['outcome']} {mover['before']:.1%} -> {mover['after']:.1%}" if mover else "-"
        lines.append(
            f"| {task} | {row['examples']['before']} -> {row['examples']['after']} | {labels['shift']:.3f} "
            f"| {labels['p_value']:.2g} | {mover_text} | {lengths['statistic']:.3f} | {lengths['p_value']:.2g} "
            f"| {lengths['mean_before']:.1f} -> {lengths['mean_after']:.1f} | {unseen['share']:.2%} "
            f"| {'DRIFT: ' + '; '.join(row['reasons']) if row['reasons'] else 'ok'} |")
    return "\n".join(lines) + "\n"
