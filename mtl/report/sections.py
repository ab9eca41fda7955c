"""The report's sections, top to bottom: the candidate at a glance, one section per task (curves, scores with
intervals on every set, confusion or per-class breakdown), the task mix, the gate, drift, transfer, leakage and
the registry's history. Each reads the Sources and adds tables and charts to the Page."""

from __future__ import annotations

from mtl.report import charts
from mtl.report.page import Page, esc, number, table, verdict
from mtl.report.sources import Sources

SECTIONS = [("tasks", "Tasks"), ("task-mix", "Task mix"), ("gate", "Gate"), ("drift", "Drift"),
            ("transfer", "Transfer"), ("leakage", "Leakage"), ("history", "Registry history")]


def build_page(found: Sources, title: str) -> Page:
    page = Page(title)
    for add in (header, tasks, task_mix, gate, drift, transfer, leakage, history):
        add(page, found)
    return page


def header(page: Page, found: Sources) -> None:
    page.add(f"<h1>{esc(page.title)}</h1>")
    facts = []
    if found.gate:
        against = found.gate.get("production_version") or "no production model (first run)"
        facts.append(f"Gate: {verdict(found.gate.get('verdict'))} against {esc(against)}")
    training = (found.metrics or {}).get("training")
    if training:
        facts.append(f"Training: {esc(training.get('stopped_reason'))}, {training['steps']} of {training['max_steps']} "
                     f"steps in {training['wall_seconds'] / 60:.1f} min; the model kept is step {training['best_step']}")
    page.add("<p>" + " · ".join(facts) + "</p>" if facts else '<p class="muted">No gate decision or training record.</p>')
    page.add("<nav>" + "".join(f'<a href="#{anchor}">{name}</a>' for anchor, name in SECTIONS) + "</nav>")
    for problem in found.problems:
        page.add(f'<p class="note">{esc(problem)}</p>')


# --- per task -----------------------------------------------------------------------------------------


def tasks(page: Page, found: Sources) -> None:
    page.add('<h2 id="tasks">Tasks</h2>')
    metrics = found.metrics or {}
    sets = scored_sets(metrics)
    names = list((metrics.get("test") or {}).get("per_task", {})) or sorted({row["task"] for row in found.train_log})
    if not names:
        page.add('<p class="muted">No evaluation yet: run `mtl evaluate`.</p>')
    for task in names:
        page.add(f'<section class="task" id="task-{esc(task)}" data-task="{esc(task)}"><h3>{esc(task)}</h3>')
        rows = {name: scored["per_task"][task] for name, scored in sets.items() if task in scored["per_task"]}
        if rows:
            page.add(score_table(rows))
        page.add('<div class="row">')
        loss = charts.bucketed_loss([r for r in found.train_log if r["task"] == task])
        dev = [{"step": r["step"], "metric": r["metric"], "value": r["value"]} for r in found.eval_log if r["task"] == task]
        page.chart(charts.training_curves(loss, dev, task), f"curves-{task}")
        if rows:
            page.chart(charts.scores(score_rows(rows), task), f"scores-{task}")
        for name, row in rows.items():
            if name == "dev":
                continue  # test and the extra sets: where a person looks for what the model gets wrong
            if row.get("confusion"):
                page.chart(charts.confusion(confusion_rows(row["confusion"]), task, name), f"confusion-{task}-{name}")
            elif row.get("per_class"):
                page.chart(charts.per_class(per_class_rows(row["per_class"]), task, name), f"per-class-{task}-{name}")
        page.add("</div></section>")


def scored_sets(metrics: dict) -> dict[str, dict]:
    """The evaluation report's evaluations by the name they are shown under: dev, test, each extra set."""
    return {**{split: metrics[split] for split in ("dev", "test") if split in metrics}, **metrics.get("extra", {})}


def score_table(rows: dict[str, dict]) -> str:
    body = []
    for name, row in rows.items():
        for metric, value in row["metrics"].items():
            lo, hi = row.get("intervals", {}).get(metric) or (None, None)
            primary = " (primary)" if metric == row["metric"] else ""
            body.append([esc(name), esc(metric + primary), number(value), number(lo), number(hi), row.get("n", "")])
    return table(["set", "metric", "value", "interval low", "interval high", "n"], body, numeric={2, 3, 4, 5})


def score_rows(rows: dict[str, dict]) -> list[dict]:
    out = []
    for name, row in rows.items():
        for metric, value in row["metrics"].items():
            lo, hi = row.get("intervals", {}).get(metric) or (value, value)
            out.append({"set": name, "metric": metric, "value": value, "lo": lo, "hi": hi, "n": row.get("n")})
    return out


def confusion_rows(confusion: dict[str, dict[str, int]]) -> list[dict]:
    out = []
    for gold, predicted in confusion.items():
        total = sum(predicted.values())
        out += [{"gold": gold, "predicted": p, "count": n, "share": n / total if total else 0.0} for p, n in predicted.items()]
    return out


def per_class_rows(breakdown: dict[str, dict[str, float]]) -> list[dict]:
    return [{"class": name, "measure": measure, "value": value, "support": scores.get("support")}
            for name, scores in breakdown.items() for measure, value in scores.items() if measure != "support"]


# --- the run, the gate, drift, transfer, leakage, history ------------------------------------------------


def task_mix(page: Page, found: Sources) -> None:
    page.add('<h2 id="task-mix">Task mix</h2>')
    if not found.task_mix:
        page.add('<p class="muted">No task_mix.csv: no training run in this workspace.</p>')
        return
    page.chart(charts.task_mix(found.task_mix), "task-mix")


def gate(page: Page, found: Sources) -> None:
    page.add('<h2 id="gate">Gate</h2>')
    if not found.gate:
        page.add('<p class="muted">No gate decision yet: run `mtl gate`.</p>')
        return
    rows = found.gate["rows"]
    page.add(f"<p>Overall: {verdict(found.gate['verdict'])}</p>")
    page.add(table(["task", "metric", "candidate", "production", "difference [interval]", "floor", "max_drop", "n",
                    "verdict", "reason"],
                   [[esc(r["task"]), esc(r["metric"]), number(r["value"]), number(r["production"]),
                     esc(_difference(r)), number(r["floor"]), number(r["max_drop"]), r["n"] if r["n"] is not None else "-",
                     verdict(r["verdict"]), esc(r["reason"])] for r in rows], numeric={2, 3, 5, 6, 7}))
    page.add("".join(f"<p class=\"muted\">{esc(note)}</p>" for note in found.gate.get("notes", [])))
    floors = [{"task": r["task"], "metric": r["metric"], "value": r["value"], "lo": (r["ci"] or [r["value"]] * 2)[0],
               "hi": (r["ci"] or [r["value"]] * 2)[1], "floor": r["floor"]}
              for r in rows if r["value"] is not None and r["floor"] is not None]
    if floors:
        page.chart(charts.floors(floors), "gate-floors")
    lower = _lower_is_better(found.metrics or {})  # their max_drop is a rise: the limit sits at +max_drop
    compared = [{"task": r["task"], "metric": r["metric"], "diff": r["diff"], "lo": r["diff_ci"][0], "hi": r["diff_ci"][1],
                 "limit": r["max_drop"] if r["metric"] in lower else -r["max_drop"], "verdict": r["verdict"]}
                for r in rows if r.get("diff_ci")]
    if compared:
        page.chart(charts.gate_intervals(compared), "gate-intervals")
    else:
        page.add('<p class="muted">No paired comparison with production (first run, or no common task).</p>')


def _difference(row: dict) -> str:
    if row["diff"] is None:
        return "-"
    interval = f" [{row['diff_ci'][0]:+.4f}, {row['diff_ci'][1]:+.4f}]" if row.get("diff_ci") else ""
    return f"{row['diff']:+.4f}{interval}"


def _lower_is_better(metrics: dict) -> set[str]:
    """The metrics (of any task: names are the kinds') where lower is better, as the evaluation says."""
    return {name for evaluation in scored_sets(metrics).values() for row in evaluation["per_task"].values()
            for name in row["lower_is_better"]}


def drift(page: Page, found: Sources) -> None:
    page.add('<h2 id="drift">Drift of the training data against production</h2>')
    report = found.drift or {}
    if "tasks" not in report:
        page.add(f'<p class="muted">{esc(report.get("note", "No drift report: run `mtl gate`."))}</p>')
        return
    page.add(f"<p>Production {esc(report['production_version'])}; drift.action {esc(report['action'])}"
             + (" (the same dataset as production's)" if report.get("same_data") else "") + "</p>")
    body, bars = [], []
    for task, row in report["tasks"].items():
        if row["status"] == "new":
            body.append([esc(task), "-", "-", "-", "-", "-", "-", esc("new task")])
            continue
        labels, lengths, unseen = row["labels"], row["lengths"], row["unseen"]
        movers = ", ".join(f"{m['outcome']} {m['before']:.1%}→{m['after']:.1%}" for m in labels["movers"][:3])
        body.append([esc(task), f"{row['examples']['before']} → {row['examples']['after']}", number(labels["shift"]),
                     f"{labels['p_value']:.2g}", esc(movers), number(lengths["statistic"]), f"{unseen['share']:.2%}",
                     esc("; ".join(row["reasons"]) or "ok")])
        bars += [{"task": task, "measure": "label shift (TVD)", "value": labels["shift"], "drifted": labels["drifted"],
                  "threshold": _threshold(report, "max_label_shift")},
                 {"task": task, "measure": "length shift (KS)", "value": lengths["statistic"],
                  "drifted": lengths["drifted"], "threshold": _threshold(report, "max_length_shift")},
                 {"task": task, "measure": "unseen token share", "value": unseen["share"], "drifted": unseen["drifted"],
                  "threshold": _threshold(report, "max_unseen")}]
    page.add(table(["task", "train examples", "label shift", "p", "largest movers", "length KS", "unseen tokens",
                    "status"], body, numeric={2, 3, 5, 6}))
    if bars:
        page.chart(charts.drift(bars), "drift")


def _threshold(report: dict, key: str) -> float | None:
    return (report.get("thresholds") or {}).get(key)


def transfer(page: Page, found: Sources) -> None:
    page.add('<h2 id="transfer">Transfer: multi-task against single-task</h2>')
    if not found.transfer:
        page.add('<p class="muted">No transfer report (it is an analysis outside the retrain flow: `dvc repro transfer`).</p>')
        return
    rows = [{"task": task, "metric": row["metric"], "diff": row["difference"]["value"], "lo": row["difference"]["ci"][0],
             "hi": row["difference"]["ci"][1], "verdict": row["verdict"]} for task, row in found.transfer["tasks"].items()]
    page.add(table(["task", "metric", "multi-task", "single-task", "difference", "verdict"],
                   [[esc(task), esc(row["metric"]), number(row["multi_task"]["value"]), number(row["single_task"]["value"]),
                     f"{row['difference']['value']:+.4f}", esc(row["verdict"])]
                    for task, row in found.transfer["tasks"].items()], numeric={2, 3, 4}))
    page.chart(charts.transfer(rows), "transfer")


def leakage(page: Page, found: Sources) -> None:
    page.add('<h2 id="leakage">Cross-task leakage</h2>')
    report = found.leakage
    if not report or not report.get("pairs"):
        page.add(f'<p class="muted">{esc((report or {}).get("skipped", "No leakage report: run `mtl unify`."))}</p>')
        return
    cells: dict[tuple[str, str], dict] = {}
    for row in report["pairs"]:
        cell = cells.setdefault((row["evaluated"], row["trained"]), {"texts": 0, "exact": 0, "near": 0})
        for key in ("texts", "exact", "near"):
            cell[key] += row[key]
    heat = [{"evaluated": f"{evaluated} (dev+test)" if "@" not in evaluated else evaluated, "trained": trained, **cell,
             "share": (cell["exact"] + cell["near"]) / cell["texts"] if cell["texts"] else 0.0,
             "label": f"{cell['exact']}+{cell['near']}" if cell["exact"] or cell["near"] else ""}
            for (evaluated, trained), cell in cells.items()]
    page.chart(charts.leakage(heat), "leakage")
    leaking = [row for row in report["pairs"] if row["exact"] or row["near"]]
    page.add(f"<p>Cell labels: exact + near-duplicate texts (Jaccard of word bigrams ≥ "
             f"{report['config']['similarity']}; texts of fewer than {report['config']['min_tokens']} words skipped).</p>")
    page.add(table(["texts of", "split", "in train of", "exact", "near", "of", "worst example"],
                   [[esc(r["evaluated"]), esc(r["split"]), esc(r["trained"]), r["exact"], r["near"], r["texts"],
                     _example(r["examples"][0]) if r["examples"] else "-"] for r in leaking], numeric={3, 4, 5})
             if leaking else "<p>No text of any task's dev or test split is in another task's train split.</p>")


def _example(example: dict) -> str:
    return (f"{esc(example['source'])}: “{esc(example['text'][:120])}”<br>≈ {esc(example['train_source'])}: "
            f"“{esc(example['train_text'][:120])}” (similarity {example['similarity']:.2f})")


def history(page: Page, found: Sources) -> None:
    page.add('<h2 id="history">Registry history</h2>')
    if not found.versions:
        page.add('<p class="muted">The registry holds no version yet.</p>')
        return
    ever_production = {move["version"] for move in found.moves}
    points = [{"version": row["version"], "created": row["created"], "task": name.split("/", 1)[0],
               "metric": name.split("/", 1)[1], "value": value,
               "production": "yes" if row["version"] in ever_production else "no"}
              for row in found.versions for name, value in row["metrics"].items()]
    if points:
        page.chart(charts.history(points), "history")
    page.add(table(["version", "created", "aliases", "gate", "mean primary"],
                   [[esc(r["version"]), esc(r["created"]), esc(", ".join(r["aliases"]) or "-"), verdict(r["gate"]),
                     number(r["mean_primary"])] for r in found.versions], numeric={4}))
    if found.moves:
        page.add("<h3>Production alias moves</h3>")
        page.add(table(["#", "when", "to", "from", "action", "by", "reason"],
                       [[m.get("seq"), esc(m.get("moved_at")), esc(m["version"]), esc(m.get("previous") or "-"),
                         esc(m.get("action")), esc(m.get("moved_by")), esc(m.get("reason"))] for m in found.moves],
                       numeric={0}))
