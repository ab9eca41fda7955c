"""Transfer: is the multi-task candidate better or worse on each task than that task's single-task
baseline, and what does one shared model save against N single-task models?

Per task, on the test split, both models predict the same examples; `evaluation.paired_stats` turns
their predictions into per-example statistics and `evaluation.paired_bootstrap` resamples examples once
for both, so the interval of (multi-task - single-task) keeps the pairing. The verdict reads the interval:

    negative transfer          the whole interval is below 0 (multi-task worse beyond the noise)
    positive transfer          the whole interval is above 0
    no significant difference  the interval contains 0

Each task is judged at baseline.confidence on its own (no correction across tasks, unlike the gate's
Holm): with 4 tasks, one verdict in ~5 runs may be a false alarm where nothing differs.

Cost: total parameters of one multi-task model against the N single-task models, and prediction speed
on the same test sentences: one multi-task pass producing every task, against each single-task model
producing its own task. Both sides are timed in the same loop, alternating, best of baseline.timing_repeats.

reports/transfer.json:

    {"split": "test", "budget": "steps"|"examples",
     "bootstrap": {"n_resamples", "confidence", "seed", "method": "paired percentile"},
     "tasks": {task: {"metric", "n", "multi_task": {"value", "ci"}, "single_task": {"value", "ci"},
                      "difference": {"value", "ci"}, "verdict"}},
     "summary": {verdict: [task, ...]},
     "cost": {"n_single_task_models", "parameters": {"multi_task", "multi_task_breakdown": {"total",
              "shared", "per_task", "other"}, "single_task": {task: n}, "single_task_total", "ratio"},
              "inference": {"sentences", "tokens", "repeats", "threads",
              "multi_task": {"seconds", "tokens_per_second"},
              "single_task": {"seconds", "tokens_per_second", "per_model_seconds": {task: s}},
              "speedup"}}}
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import torch

from mtl import evaluation
from mtl.baseline import baseline_dir
from mtl.config import Params
from mtl.model import MultiTaskModel, load_model, predict
from mtl.model.predict import texts_of
from mtl.tasks import kind_of
from mtl.tasks.kind import TaskOptions
from mtl.training.data import TaskData, read_labels, read_split
from mtl.training.device import setup_threads

NEGATIVE, POSITIVE, NO_DIFFERENCE = "negative transfer", "positive transfer", "no significant difference"
VERDICTS = (NEGATIVE, POSITIVE, NO_DIFFERENCE)


# --- per task: paired comparison ------------------------------------------------------------------


def verdict(ci: list[float], lower_is_better: bool = False) -> str:
    """The verdict on an interval of multi-task minus single-task (of a metric where lower is better: MSE)."""
    lo, hi = sorted(-x for x in ci) if lower_is_better else ci
    if hi < 0:
        return NEGATIVE
    if lo > 0:
        return POSITIVE
    return NO_DIFFERENCE


def compare_task(
    task: str,
    gold: list,
    multi_pred: list,
    single_pred: list,
    task_cfg: TaskOptions,
    labels: list[str],
    metric: str,
    *,
    n_bootstrap: int,
    confidence: float,
    seed: int,
) -> dict[str, Any]:
    """One task's row: both models' scores with their intervals, the paired difference and the verdict."""
    pair = evaluation.paired_stats(gold, multi_pred, single_pred, task_cfg, labels)
    alpha = (1.0 - confidence) / 2.0

    def scored(stats: np.ndarray) -> dict[str, Any]:
        ci = evaluation.bootstrap_intervals(stats, pair.metrics_of, n_bootstrap=n_bootstrap, confidence=confidence,
                                            rng=evaluation.task_rng(seed, task))[metric]
        return {"value": pair.metrics_of(stats.sum(axis=0))[metric], "ci": ci}

    replicates = evaluation.paired_bootstrap(pair.candidate, pair.production, pair.metrics_of,
                                             n_bootstrap=n_bootstrap, rng=evaluation.task_rng(seed, task))[metric]
    lo, hi = np.quantile(replicates, [alpha, 1.0 - alpha])
    difference = {"value": pair.difference()[metric], "ci": [float(lo), float(hi)]}
    return {
        "metric": metric,
        "n": pair.n,
        "multi_task": scored(pair.candidate),
        "single_task": scored(pair.production),
        "difference": difference,
        "verdict": verdict(difference["ci"], metric in kind_of(task_cfg).lower_is_better),
    }


def task_metric(params: Params, task: str) -> str:
    """The gate's metric for the task when it names one, else the kind's default (the primary metric)."""
    entry = params.gate.tasks.get(task)
    return (entry.metric if entry else None) or kind_of(params.tasks[task]).default_metric(params.tasks[task])


# --- cost: parameters and prediction speed --------------------------------------------------------


def parameter_counts(model: MultiTaskModel) -> dict[str, Any]:
    """{"total", "shared", "per_task": {task: n}, "other"} (frozen weights included): the model's own
    breakdown by sharing scheme where it has one, else the total alone, from named_parameters."""
    if hasattr(model, "parameter_counts"):
        return model.parameter_counts()
    return {"total": sum(p.numel() for _, p in model.named_parameters())}


def round_robin(per_task: dict[str, list[list[str]]], limit: int | None = None) -> list[list[str]]:
    """The tasks' sentences interleaved (one of each in turn), so a limit keeps every task's share."""
    longest = max((len(s) for s in per_task.values()), default=0)
    mixed = [sentences[i] for i in range(longest) for sentences in per_task.values() if i < len(sentences)]
    return mixed[:limit] if limit else mixed


def inference_cost(
    multi: MultiTaskModel,
    singles: dict[str, MultiTaskModel],
    sentences: list[list[str]],
    *,
    repeats: int = 3,
    batch_size: int = 128,
) -> dict[str, Any]:
    """Parameters, and best-of-`repeats` prediction time of every task for `sentences`: one multi-task
    pass against each single-task model predicting its own task. The two sides alternate in each repeat
    so they meet the same machine load."""
    tasks = list(singles)

    def timed(run) -> float:
        started = time.perf_counter()
        run()
        return time.perf_counter() - started

    warm = sentences[:batch_size]  # the first call of a model pays one-off allocations
    predict(multi, warm, tasks, batch_size)
    for task, model in singles.items():
        predict(model, warm, [task], batch_size)
    multi_times, single_times = [], {task: [] for task in tasks}
    for _ in range(repeats):
        multi_times.append(timed(lambda: predict(multi, sentences, tasks, batch_size)))
        for task, model in singles.items():
            single_times[task].append(timed(lambda: predict(model, sentences, [task], batch_size)))
    tokens = sum(len(text) for item in sentences for text in texts_of(item))
    multi_seconds = min(multi_times)
    # Best of the repeats' totals: each repeat ran all N models, so the sum is one realistic pass.
    single_seconds = min(sum(times[r] for times in single_times.values()) for r in range(repeats))
    single_params = {task: parameter_counts(model)["total"] for task, model in singles.items()}
    multi_counts = parameter_counts(multi)
    multi_params = multi_counts["total"]
    return {
        "n_single_task_models": len(singles),
        "parameters": {
            "multi_task": multi_params,
            "multi_task_breakdown": multi_counts,
            "single_task": single_params,
            "single_task_total": sum(single_params.values()),
            "ratio": sum(single_params.values()) / multi_params,
        },
        "inference": {
            "sentences": len(sentences),
            "tokens": tokens,
            "repeats": repeats,
            "threads": torch.get_num_threads(),
            "multi_task": {"seconds": multi_seconds, "tokens_per_second": tokens / multi_seconds},
            "single_task": {
                "seconds": single_seconds,
                "tokens_per_second": tokens / single_seconds,
                "per_model_seconds": {task: min(times) for task, times in single_times.items()},
            },
            "speedup": single_seconds / multi_seconds,
        },
    }


# --- the report -----------------------------------------------------------------------------------


def build_report(rows: dict[str, dict], cost: dict, params: Params, split: str = "test") -> dict[str, Any]:
    config = params.baseline
    return {
        "split": split,
        "budget": config.budget,
        "bootstrap": {"n_resamples": config.n_bootstrap, "confidence": config.confidence, "seed": config.seed,
                      "method": "paired percentile"},
        "tasks": rows,
        "summary": {name: [task for task, row in rows.items() if row["verdict"] == name] for name in VERDICTS},
        "cost": cost,
    }


def to_markdown(report: dict[str, Any]) -> str:
    def interval(ci: list[float]) -> str:
        return f"[{ci[0]:+.4f}, {ci[1]:+.4f}]"

    def score(entry: dict) -> str:
        return f"{entry['value']:.4f} [{entry['ci'][0]:.4f}, {entry['ci'][1]:.4f}]"

    confidence = report["bootstrap"]["confidence"]
    lines = [
        f"# Transfer: multi-task candidate vs single-task baselines ({report['split']}, budget {report['budget']})",
        "",
        f"Scores with {confidence:.0%} bootstrap intervals; the difference is multi-task minus single-task, "
        f"from a paired bootstrap ({report['bootstrap']['n_resamples']} resamples) on the same examples.",
        "",
        "| task | metric | n | multi-task | single-task | difference [lo, hi] | verdict |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for task, row in report["tasks"].items():
        diff = row["difference"]
        lines.append(f"| {task} | {row['metric']} | {row['n']} | {score(row['multi_task'])} | "
                     f"{score(row['single_task'])} | {diff['value']:+.4f} {interval(diff['ci'])} | {row['verdict']} |")
    cost = report["cost"]
    params, speed = cost["parameters"], cost["inference"]
    n = cost["n_single_task_models"]
    lines += [
        "",
        f"## Cost: one multi-task model vs {n} single-task models",
        "",
        f"Prediction of every task for {speed['sentences']} test sentences ({speed['tokens']} tokens), "
        f"best of {speed['repeats']}, {speed['threads']} thread(s).",
        "",
        f"| | multi-task (1 model) | single-task ({n} models) | single / multi |",
        "|---|---:|---:|---:|",
        f"| parameters | {params['multi_task']:,} | {params['single_task_total']:,} | {params['ratio']:.2f}x |",
        f"| seconds | {speed['multi_task']['seconds']:.3f} | {speed['single_task']['seconds']:.3f} | "
        f"{speed['speedup']:.2f}x |",
        f"| tokens/s | {speed['multi_task']['tokens_per_second']:,.0f} | "
        f"{speed['single_task']['tokens_per_second']:,.0f} | {1 / speed['speedup']:.2f}x |",
    ]
    breakdown = params.get("multi_task_breakdown", {})
    if "shared" in breakdown:
        task_specific = sum(breakdown["per_task"].values())
        lines += ["", f"Multi-task parameters: {breakdown['shared']:,} shared, {task_specific:,} task-specific, "
                      f"{breakdown['other']:,} used in training only."]
    return "\n".join(lines) + "\n"


# --- the stage ------------------------------------------------------------------------------------


def load_baselines(params: Params, tasks: list[str]) -> dict[str, MultiTaskModel]:
    singles = {}
    for task in tasks:
        folder = params.run_file("model", baseline_dir(params, task))
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"no single-task baseline for {task!r} at {folder}: "
                                    f"run `mtl baseline --task {task}`")
        model = load_model(folder)
        if list(model.config.tasks) != [task]:
            raise ValueError(f"{folder} is not a single-task model of {task!r}: it has {list(model.config.tasks)}")
        singles[task] = model
    return singles


def transfer_report(params: Params, split: str = "test") -> dict[str, Any]:
    """Compare the candidate (<run>/model) with every task's baseline (<run>/baselines/<task>/model) on
    `split`: reports/transfer.json (a DVC metric) and reports/transfer.md. Timed with training.threads,
    the threads the models were trained with."""
    setup_threads(params.training.threads)
    candidate_dir = params.run_file("model")
    if not (candidate_dir / "config.json").is_file():
        raise FileNotFoundError(f"no multi-task candidate at {candidate_dir}: run `mtl train` first")
    multi = load_model(candidate_dir)
    tasks = {name: params.tasks[name] for name in multi.config.tasks if name in params.tasks}
    singles = load_baselines(params, list(tasks))
    data: dict[str, TaskData] = read_split(params.unified_dir, split, tasks, read_labels(params.unified_dir / params.paths.labels))
    config, batch = params.baseline, params.training.eval_batch_size
    rows = {}
    for name, task in data.items():
        rows[name] = compare_task(
            name, task.gold, predict(multi, task.inputs, [name], batch)[name],
            predict(singles[name], task.inputs, [name], batch)[name], tasks[name], task.labels,
            task_metric(params, name), n_bootstrap=config.n_bootstrap, confidence=config.confidence, seed=config.seed,
        )
    sentences = round_robin({name: task.inputs for name, task in data.items()}, config.timing_sentences)
    cost = inference_cost(multi, singles, sentences, repeats=config.timing_repeats, batch_size=batch)
    report = build_report(rows, cost, params, split)
    params.reports_dir.mkdir(parents=True, exist_ok=True)
    params.report("transfer").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    params.report("transfer_table").write_text(to_markdown(report), encoding="utf-8")
    return report
