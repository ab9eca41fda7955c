"""The model card of a registry version: what it was trained on, for which tasks, how well it scores (with
intervals), how its training ran and stopped, what the gate said and where it came from.

Written as README.md into each version when it is published, and printed by `mtl registry show`, from the
version's records (metrics, gate, lineage), so versions published before cards existed get one too.
"""

from __future__ import annotations

from typing import Any


def model_card(version: str, records: dict[str, Any], *, created: str | None = None, aliases: list[str] = (),
               moves: list[dict] = ()) -> str:
    """Markdown. records: the version's metrics, gate and lineage dicts (any may be None); moves: the alias
    history entries that pointed an alias at this version."""
    metrics, gate, lineage = (records.get(name) or {} for name in ("metrics", "gate", "lineage"))
    params = lineage.get("params") or {}
    lines = [f"# Model {version}", ""]
    facts = [f"created {created}"] * bool(created) + [f"aliases: {', '.join(aliases)}"] * bool(aliases)
    if gate:
        facts.append(f"gate: {gate.get('verdict')}" + (" (overridden: promoted with --force)" if gate.get("override") else ""))
    lines += [" · ".join(facts), ""] if facts else []
    lines += _data(params, lineage)
    lines += _scores(metrics)
    lines += _training(metrics.get("training") or lineage.get("training"), params)
    lines += _gate(gate)
    lines += _lineage(lineage, moves)
    return "\n".join(lines).rstrip() + "\n"


def _data(params: dict, lineage: dict) -> list[str]:
    tasks, corpora = params.get("tasks") or {}, params.get("corpora") or {}
    if not tasks:
        return []
    extra = set((params.get("evaluation") or {}).get("extra") or {})
    stats = (lineage.get("data_stats") or {}).get("tasks") or {}
    lines = ["## Data and tasks", "", "| task | kind | corpora | train examples | labels |", "|---|---|---|---:|---|"]
    for task, options in tasks.items():
        fed = [name for name, corpus in corpora.items() if corpus.get("task") == task and name not in extra]
        labels = options.get("labels")
        shown = "-" if not labels else ", ".join(labels[:8]) + (f" (+{len(labels) - 8})" if len(labels) > 8 else "")
        examples = stats.get(task, {}).get("examples", "-")
        lines.append(f"| {task} | {options.get('kind')} | {', '.join(fed)} | {examples} | {shown} |")
    if extra:
        lines += ["", "Extra evaluation sets (never trained on): " + ", ".join(
            f"{name} ({corpora.get(name, {}).get('task')})" for name in sorted(extra))]
    splits = (lineage.get("data_stats") or {}).get("splits") or {}
    if splits:
        lines += ["", "Dataset sha256: " + ", ".join(f"{split} {sha[:12]}" for split, sha in splits.items())]
    return lines + [""]


def _scores(metrics: dict) -> list[str]:
    test = (metrics.get("test") or metrics).get("per_task") or {}
    if not test:
        return []
    dev = (metrics.get("dev") or {}).get("per_task") or {}
    extra = metrics.get("extra") or {}
    confidence = (metrics.get("test") or {}).get("bootstrap", {}).get("confidence")
    level = f" [{confidence:.0%} interval]" if confidence else ""
    lines = ["## Scores", "", f"| task | metric | dev | test{level} | n (test) |", "|---|---|---:|---|---:|"]
    for task, row in test.items():
        lines.append(f"| {task} | {row['metric']} | {_number(dev.get(task, {}).get('value'))} "
                     f"| {_interval(row['value'], row.get('ci'))} | {row.get('n', '-')} |")
    for corpus, scored in extra.items():
        for task, row in scored["per_task"].items():
            lines.append(f"| {task} @ {corpus} (extra) | {row['metric']} | | {_interval(row['value'], row.get('ci'))} "
                         f"| {row.get('n', '-')} |")
    return lines + [""]


def _training(training: dict | None, params: dict) -> list[str]:
    model, config = params.get("model") or {}, params.get("training") or {}
    lines = ["## Training", ""]
    if model:
        lines.append(f"- encoder {model.get('encoder')}, sharing {model.get('sharing')}; sampler "
                     f"{(config.get('sampler') or {}).get('kind')}, weighting {(config.get('weighting') or {}).get('kind')}")
    if training:
        lines.append(f"- {training.get('stopped_reason', training.get('stopped'))}: {training.get('steps')} of "
                     f"{training.get('max_steps')} steps in {training.get('wall_seconds', 0) / 60:.1f} min; the model "
                     f"kept is step {training.get('best_step')} (mean dev score {_number(training.get('best_score'))})")
    if config:
        lines.append(f"- budget: max_steps {config.get('max_steps')}, max_minutes {config.get('max_minutes')}, "
                     f"patience {config.get('patience')} evaluations every {config.get('eval_every')} steps; "
                     f"lr {config.get('lr')}, batch {config.get('batch_size')} {config.get('batch_unit')}")
    return lines + [""] if len(lines) > 2 else []


def _gate(gate: dict) -> list[str]:
    if not gate:
        return []
    lines = ["## Gate", "", f"Verdict: **{gate.get('verdict')}**"
             + (f" against production {gate['production_version']}" if gate.get("production_version") else
                " (first run: floors only)"), ""]
    lines += [f"- {row['task']}: {row['verdict']} ({row['reason']})" for row in gate.get("rows", [])]
    if gate.get("override"):
        override = gate["override"]
        lines.append(f"- overridden by {override.get('by')}: {override.get('reason')}")
    drifted = (gate.get("drift") or {}).get("drifted") or {}
    lines += [f"- drift in {task}: {'; '.join(reasons)}" for task, reasons in drifted.items()]
    return lines + [""]


def _lineage(lineage: dict, moves: list[dict]) -> list[str]:
    if not lineage and not moves:
        return []
    lines = ["## Lineage", ""]
    if lineage.get("git_commit"):
        lines.append(f"- code: git {lineage['git_commit'][:12]}" + (" (with uncommitted changes)" if lineage.get("git_dirty") else ""))
    for stage, outs in (lineage.get("dvc_lock") or {}).items():
        lines.append(f"- {stage}: " + ", ".join(f"{path} md5 {(md5 or '-')[:12]}" for path, md5 in outs.items()))
    for move in moves:
        lines.append(f"- {move.get('alias', 'alias')} moved here {move.get('moved_at')} by {move.get('moved_by')} "
                     f"({move.get('action')}; replaced {move.get('previous') or 'nothing'}): {move.get('reason')}")
    return lines + [""]


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _interval(value: float, ci: list[float] | None) -> str:
    return _number(value) + (f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "")
