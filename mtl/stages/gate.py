"""The gate stage: the candidate against its floors and against the production model, re-scored here.

The production model is re-scored on the candidate's exact test data, so the two are never compared on
different examples (the data may have changed since production was promoted), and the candidate is
re-predicted on it too, so the gate has both models' per-example statistics for its paired test
(mtl/gate). Writes the gate's decision (paths.gate), its table (paths.gate_table) and production's re-scored
test evaluation in the shape of the metrics report (paths.production_metrics; null without a production model).
"""

from __future__ import annotations

import json
import tempfile

from mtl import evaluation
from mtl.config import Params
from mtl.gate import decide
from mtl.model import MultiTaskModel, load_model
from mtl.registry import PRODUCTION, open_registry
from mtl.stages.evaluate import evaluate_predictions, predict_split, split_data, write_json
from mtl.training.device import resolve_device


def gate_candidate(params: Params) -> dict:
    """Decide on the candidate's test scores against the floors and the production model."""
    metrics = json.loads(params.report("metrics").read_text(encoding="utf-8"))
    registry = open_registry(params)
    production, production_version, paired = None, None, {}
    device = resolve_device(params.training.device)
    if PRODUCTION in registry.aliases():
        production_version = registry.resolve(PRODUCTION)
        with tempfile.TemporaryDirectory() as folder:
            champion = load_model(registry.fetch(production_version, folder), device)
        candidate = load_model(params.run_file("model"), device)
        production, paired = paired_evaluation(candidate, champion, params, "test")
    # Written on every run (null without a production model): DVC tracks it as a metric of the gate stage.
    write_json(params.report("production_metrics"), {"production_version": production_version, "test": production})
    report = decide(metrics["test"], production, paired, params.gate)
    gate = {**report.to_dict(), "production_version": production_version, "training": metrics.get("training")}
    write_json(params.report("gate"), gate)
    heading = f"Candidate vs production {production_version}" if production_version else "Candidate (no production model yet)"
    params.report("gate_table").write_text(
        f"# Gate: {report.verdict.upper()}\n\n{heading}\n\n{training_line(metrics.get('training'))}\n\n"
        f"{report.to_markdown()}\n", encoding="utf-8")
    return gate


def training_line(training: dict | None) -> str:
    """How the candidate's training ran and stopped, for the gate's table."""
    if not training:
        return "Training: no record of how the candidate was trained."
    return (f"Training: {training['stopped_reason']} ({training['steps']} of {training['max_steps']} steps, "
            f"{training['wall_seconds'] / 60:.1f} min; the model kept is step {training['best_step']}).")


def paired_evaluation(candidate: MultiTaskModel, production: MultiTaskModel, params: Params, split: str
                      ) -> tuple[dict, dict[str, evaluation.PairedStats]]:
    """Production's evaluation dict on `split`, and both models' per-example statistics for every task
    both have, on the same examples in the same order."""
    data = split_data(production, params, split)
    production_pred = predict_split(production, data)
    shared = {name: task for name, task in data.items() if name in candidate.config.tasks}
    candidate_pred = predict_split(candidate, shared)
    paired = {name: evaluation.paired_stats(task.gold, candidate_pred[name], production_pred[name], task.options,
                                            task.labels)
              for name, task in shared.items()}
    return evaluate_predictions(params, data, production_pred), paired
