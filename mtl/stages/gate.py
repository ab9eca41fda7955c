"""The gate stage: the candidate against its floors and against the production model, re-scored here, and its
training data against production's (drift).

The production model is re-scored on the candidate's exact test data (and on each extra evaluation set the gate
judges), so the two are never compared on different examples (the data may have changed since production was
promoted), and the candidate is re-predicted on it too, so the gate has both models' per-example statistics for
its paired test (mtl/gate). An extra set named under gate.extra is judged as a row "<task>@<corpus>" in the same
Holm family as the tasks. Drift (mtl/drift.py) compares the statistics saved with production's registry version
with the candidate's dataset: shown beside the gate table, and failing a drifted task when drift.action is block.

Writes the gate's decision (paths.gate), its table (paths.gate_table), the drift report (paths.drift) and
production's re-scored evaluation in the shape of the metrics report (paths.production_metrics: test, extra;
null without a production model).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace

from mtl import drift, evaluation
from mtl.config import Params
from mtl.gate import GateReport, decide
from mtl.model import MultiTaskModel, load_model
from mtl.registry import PRODUCTION, Registry, open_registry
from mtl.stages.evaluate import evaluate_predictions, extra_data, predict_split, split_data, write_json
from mtl.training.device import resolve_device
from mtl.training.data import TaskData


def gate_candidate(params: Params) -> dict:
    """Decide on the candidate's test scores (and gated extra sets) against the floors, the production model
    and, when params say so, drift."""
    metrics = json.loads(params.report("metrics").read_text(encoding="utf-8"))
    registry = open_registry(params)
    production, production_version, paired = None, None, {}
    device = resolve_device(params.training.device)
    gated_extra = {corpus: entry for corpus, entry in params.gate.extra.items() if corpus in metrics.get("extra", {})}
    if PRODUCTION in registry.aliases():
        production_version = registry.resolve(PRODUCTION)
        with tempfile.TemporaryDirectory() as folder:
            champion = load_model(registry.fetch(production_version, folder), device)
        candidate = load_model(params.run_file("model"), device)
        production = {"test": None, "extra": {}}
        production["test"], paired = paired_evaluation(candidate, champion, split_data(champion, params, "test"), params)
        for corpus in gated_extra:
            scored, pairs = paired_evaluation(candidate, champion, extra_data(champion, params, corpus), params)
            production["extra"][corpus] = scored
            paired |= {f"{task}@{corpus}": pair for task, pair in pairs.items()}
    # Written on every run (null without a production model): the report and the registry card read it.
    write_json(params.report("production_metrics"), {"production_version": production_version,
                                                     **(production or {"test": None, "extra": {}})})

    config = params.gate.model_copy(update={"tasks": {**params.gate.tasks, **{
        f"{params.corpora[corpus].task}@{corpus}": entry for corpus, entry in gated_extra.items()}}})
    report = decide(with_extra(metrics["test"], metrics.get("extra", {}), gated_extra),
                    with_extra(production["test"], production["extra"], gated_extra) if production else None,
                    paired, config)
    drifts = drift_report(params, registry, production_version)
    write_json(params.report("drift"), drifts)
    report = apply_drift(report, drifts, params.drift.action)
    gate = {**report.to_dict(), "production_version": production_version, "training": metrics.get("training"),
            "drift": {"action": params.drift.action, "drifted": drift.drifted(drifts.get("tasks", {}))}}
    write_json(params.report("gate"), gate)
    heading = f"Candidate vs production {production_version}" if production_version else "Candidate (no production model yet)"
    params.report("gate_table").write_text(
        f"# Gate: {report.verdict.upper()}\n\n{heading}\n\n{training_line(metrics.get('training'))}\n\n"
        f"{report.to_markdown()}\n{drift_section(drifts)}", encoding="utf-8")
    return gate


def with_extra(test: dict, extra: dict[str, dict], gated: dict) -> dict:
    """A test evaluation with the gated extra sets' rows added as "<task>@<corpus>" (one Holm family)."""
    rows = {f"{task}@{corpus}": row for corpus in gated if corpus in extra
            for task, row in extra[corpus]["per_task"].items()}
    return {**test, "per_task": {**test["per_task"], **rows}}


def training_line(training: dict | None) -> str:
    """How the candidate's training ran and stopped, for the gate's table."""
    if not training:
        return "Training: no record of how the candidate was trained."
    return (f"Training: {training['stopped_reason']} ({training['steps']} of {training['max_steps']} steps, "
            f"{training['wall_seconds'] / 60:.1f} min; the model kept is step {training['best_step']}).")


def paired_evaluation(candidate: MultiTaskModel, production: MultiTaskModel, data: dict[str, TaskData],
                      params: Params) -> tuple[dict, dict[str, evaluation.PairedStats]]:
    """Production's evaluation dict on `data` (its tasks' examples), and both models' per-example statistics
    for every task both have, on the same examples in the same order."""
    production_pred = predict_split(production, data)
    shared = {name: task for name, task in data.items() if name in candidate.config.tasks}
    candidate_pred = predict_split(candidate, shared)
    paired = {name: evaluation.paired_stats(task.gold, candidate_pred[name], production_pred[name], task.options,
                                            task.labels)
              for name, task in shared.items()}
    return evaluate_predictions(params, data, production_pred), paired


# --- drift: the candidate's training data against the data production was trained on --------------------


def drift_report(params: Params, registry: Registry, production_version: str | None) -> dict:
    """{"production_version", "tasks": {task: comparison}} or, where nothing can be compared, a "note"."""
    out: dict = {"production_version": production_version, "action": params.drift.action,
                 "thresholds": params.drift.model_dump(mode="json")}
    if params.drift.action == "off":
        return {**out, "note": "drift.action is off"}
    if production_version is None:
        return {**out, "note": "no production model: nothing to compare the training data with"}
    saved = (registry.show(production_version).get("lineage") or {}).get("data_stats")
    if saved is None:
        return {**out, "note": f"production {production_version} carries no data statistics (promoted before they "
                               "were saved): drift is measured from the next promotion on"}
    candidate = json.loads((params.unified_dir / params.paths.data_stats).read_text(encoding="utf-8"))
    return {**out, "same_data": saved["splits"] == candidate["splits"],
            "tasks": drift.compare(saved["tasks"], candidate["tasks"], params.drift)}


def apply_drift(report: GateReport, drifts: dict, action: str) -> GateReport:
    """A drifted task's row fails, with the reason, when drift.action is block; otherwise a note says it."""
    drifted = drift.drifted(drifts.get("tasks", {}))
    if not drifted:
        return report
    listed = "; ".join(f"{task}: {', '.join(reasons)}" for task, reasons in drifted.items())
    if action != "block":
        return replace(report, notes=[*report.notes, f"Drift (drift.action {action}, not blocking): {listed}."])
    rows = [replace(row, verdict="fail", reason=f"drift (drift.action block): {'; '.join(drifted[row.task])}; "
                    f"{row.reason}") if row.task in drifted else row for row in report.rows]
    return replace(report, verdict="fail", rows=rows,
                   notes=[*report.notes, f"Drift blocks the candidate (drift.action block): {listed}."])


def drift_section(drifts: dict) -> str:
    if "tasks" not in drifts:
        return f"## Drift of the training data against production\n\n{drifts.get('note', '')}\n"
    return drift.to_markdown(drifts["tasks"], drifts["production_version"])
