"""The report's charts: each a function of plain rows (dicts) returning a Vega-Lite spec (a dict), built with
Altair. Vega-Lite, because the page and `dvc plots show` then draw with the same library (vega-embed, inlined
once per page by page.py), a spec is data a test can read, and every chart keeps its tooltips offline.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

Spec = dict[str, Any]
WIDTH, HEIGHT = 360, 200
MAX_POINTS = 120  # a training curve is averaged into at most this many points per task


def _spec(chart: alt.TopLevelMixin) -> Spec:
    return chart.configure_view(stroke=None).to_dict()


def training_curves(loss: list[dict], dev: list[dict], task: str) -> Spec:
    """Training loss (mean per bucket of steps) beside every dev metric of the task, over steps."""
    loss_frame = pd.DataFrame(loss or [{"step": 0, "loss": None}])
    dev_frame = pd.DataFrame(dev or [{"step": 0, "metric": "-", "value": None}])
    left = alt.Chart(loss_frame, title=f"{task}: training loss").mark_line(point=len(loss) < 40).encode(
        x=alt.X("step:Q", title="step"), y=alt.Y("loss:Q", title="loss (mean over the bucket)", scale=alt.Scale(zero=False)),
        tooltip=["step:Q", alt.Tooltip("loss:Q", format=".4f")]).properties(width=WIDTH, height=HEIGHT)
    right = alt.Chart(dev_frame, title=f"{task}: dev metrics").mark_line(point=True).encode(
        x=alt.X("step:Q", title="step"), y=alt.Y("value:Q", title="dev score", scale=alt.Scale(zero=False)),
        color=alt.Color("metric:N", title="metric"),
        tooltip=["step:Q", "metric:N", alt.Tooltip("value:Q", format=".4f")]).properties(width=WIDTH, height=HEIGHT)
    return _spec(alt.hconcat(left, right).resolve_scale(color="independent"))


def bucketed_loss(rows: list[dict]) -> list[dict]:
    """A task's (step, loss) rows averaged into at most MAX_POINTS buckets of consecutive steps."""
    if not rows:
        return []
    last = max(row["step"] for row in rows)
    size = max(1, -(-last // MAX_POINTS))
    buckets: dict[int, list[float]] = {}
    for row in rows:
        buckets.setdefault((row["step"] - 1) // size, []).append(row["loss"])
    return [{"step": (bucket + 1) * size, "loss": sum(values) / len(values)} for bucket, values in sorted(buckets.items())]


def scores(rows: list[dict], task: str) -> Spec:
    """Each metric on each evaluated set (dev, test, extra sets), the point with its interval."""
    frame = pd.DataFrame(rows)
    base = alt.Chart(frame).encode(y=alt.Y("set:N", title=None, sort=None))
    interval = base.mark_rule(strokeWidth=2).encode(x=alt.X("lo:Q", title="value", scale=alt.Scale(zero=False)),
                                                    x2="hi:Q")
    point = base.mark_point(filled=True, size=60).encode(
        x="value:Q", color=alt.Color("set:N", legend=None),
        tooltip=["set:N", "metric:N", alt.Tooltip("value:Q", format=".4f"), alt.Tooltip("lo:Q", format=".4f"),
                 alt.Tooltip("hi:Q", format=".4f"), "n:Q"])
    layered = alt.layer(interval, point).properties(width=200, height=22 * frame["set"].nunique())
    return _spec(layered.facet(facet=alt.Facet("metric:N", title=None), columns=2, title=f"{task}: scores with "
                               "their bootstrap intervals").resolve_scale(x="independent"))


def confusion(rows: list[dict], task: str, set_name: str) -> Spec:
    """A confusion matrix: rows gold, columns predicted, shaded by the share of the gold row."""
    frame = pd.DataFrame(rows)
    base = alt.Chart(frame, title=f"{task}: confusion on {set_name} (row-normalised)").encode(
        x=alt.X("predicted:N", sort=None), y=alt.Y("gold:N", sort=None))
    cells = base.mark_rect().encode(color=alt.Color("share:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]),
                                                    title="share of gold"),
                                    tooltip=["gold:N", "predicted:N", "count:Q", alt.Tooltip("share:Q", format=".1%")])
    text = base.mark_text(fontSize=11).encode(text="count:Q", color=alt.condition("datum.share > 0.5",
                                                                                alt.value("white"), alt.value("black")))
    size = max(120, 34 * frame["gold"].nunique())
    return _spec(alt.layer(cells, text).properties(width=size, height=size))


def per_class(rows: list[dict], task: str, set_name: str) -> Spec:
    """The kind's breakdown (per entity type, tag, label or score range): one bar per class and measure."""
    frame = pd.DataFrame(rows)
    chart = alt.Chart(frame, title=f"{task}: per class on {set_name}").mark_bar().encode(
        x=alt.X("value:Q", title=None), y=alt.Y("class:N", sort=None, title=None),
        color=alt.Color("measure:N", title="measure"), yOffset="measure:N",
        tooltip=["class:N", "measure:N", alt.Tooltip("value:Q", format=".4f"), "support:Q"])
    return _spec(chart.properties(width=WIDTH, height=max(60, 16 * len(frame))))


def task_mix(rows: list[dict]) -> Spec:
    """The realised share of each task's batches per sampling window (solid) against the sampler's p (dashed)."""
    frame = pd.DataFrame(rows).melt(id_vars=["step", "task"], value_vars=["fraction", "expected"], var_name="share")
    frame["share"] = frame["share"].map({"fraction": "realised", "expected": "planned"})
    chart = alt.Chart(frame, title="Task mix per sampling window").mark_line(point=True).encode(
        x=alt.X("step:Q", title="step (end of window)"), y=alt.Y("value:Q", title="share of the window's batches"),
        color=alt.Color("task:N"), strokeDash=alt.StrokeDash("share:N", sort=["realised", "planned"]),
        tooltip=["step:Q", "task:N", "share:N", alt.Tooltip("value:Q", format=".3f")])
    return _spec(chart.properties(width=2 * WIDTH, height=HEIGHT))


def gate_intervals(rows: list[dict]) -> Spec:
    """Per gated row: candidate - production with its Holm-adjusted paired interval, against -max_drop (red)."""
    frame = pd.DataFrame(rows)
    base = alt.Chart(frame, title="Gate: candidate - production (paired interval) against -max_drop").encode(
        y=alt.Y("task:N", title=None, sort=None))
    interval = base.mark_rule(strokeWidth=3).encode(x=alt.X("lo:Q", title="difference in metric units"), x2="hi:Q",
                                                    color=alt.Color("verdict:N", scale=alt.Scale(
                                                        domain=["pass", "fail", "inconclusive"],
                                                        range=["#2e7d32", "#c62828", "#ef6c00"])))
    point = base.mark_point(filled=True, size=70, color="black").encode(
        x="diff:Q", tooltip=["task:N", "metric:N", alt.Tooltip("diff:Q", format="+.4f"), alt.Tooltip("lo:Q", format="+.4f"),
                             alt.Tooltip("hi:Q", format="+.4f"), alt.Tooltip("limit:Q", format="+.4f"), "verdict:N"])
    limit = base.mark_tick(color="#c62828", thickness=3, size=22).encode(x="limit:Q")
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(strokeDash=[4, 4], color="gray").encode(x="x:Q")
    return _spec(alt.layer(zero, interval, point, limit).properties(width=2 * WIDTH, height=28 * len(frame)))


def floors(rows: list[dict]) -> Spec:
    """Per gated row: the candidate's test value with its interval, and its floor (a ceiling for MSE) as a tick."""
    frame = pd.DataFrame(rows)
    base = alt.Chart(frame, title="Gate: candidate on test against its floor").encode(y=alt.Y("task:N", title=None, sort=None))
    interval = base.mark_rule(strokeWidth=3, color="#1565c0").encode(x=alt.X("lo:Q", title="metric value"), x2="hi:Q")
    point = base.mark_point(filled=True, size=70, color="#1565c0").encode(
        x="value:Q", tooltip=["task:N", "metric:N", alt.Tooltip("value:Q", format=".4f"), alt.Tooltip("floor:Q", format=".4f")])
    floor = base.mark_tick(color="black", thickness=3, size=22).encode(x="floor:Q")
    return _spec(alt.layer(interval, point, floor).properties(width=2 * WIDTH, height=28 * len(frame)))


def transfer(rows: list[dict]) -> Spec:
    """Multi-task minus single-task per task on test, with its paired interval, against 0."""
    frame = pd.DataFrame(rows)
    base = alt.Chart(frame, title="Transfer: multi-task - single-task on test").encode(y=alt.Y("task:N", title=None))
    interval = base.mark_rule(strokeWidth=3).encode(x=alt.X("lo:Q", title="difference in metric units"), x2="hi:Q",
                                                    color=alt.Color("verdict:N"))
    point = base.mark_point(filled=True, size=70, color="black").encode(
        x="diff:Q", tooltip=["task:N", "metric:N", alt.Tooltip("diff:Q", format="+.4f"), "verdict:N"])
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(strokeDash=[4, 4], color="gray").encode(x="x:Q")
    return _spec(alt.layer(zero, interval, point).properties(width=2 * WIDTH, height=28 * len(frame)))


def history(rows: list[dict]) -> Spec:
    """Each registry version's test score per task (primary metric), versions in order; production's marked."""
    frame = pd.DataFrame(rows)
    base = alt.Chart(frame, title="Registry: test score per task, version by version").encode(
        x=alt.X("version:O", title="version", sort=None), y=alt.Y("value:Q", title="test (primary metric)"),
        color=alt.Color("task:N"))
    lines = base.mark_line()
    points = base.mark_point(filled=True, size=80).encode(
        shape=alt.Shape("production:N", title="was production", scale=alt.Scale(domain=["yes", "no"],
                                                                                        range=["diamond", "circle"])),
        tooltip=["version:N", "created:N", "task:N", "metric:N", alt.Tooltip("value:Q", format=".4f"), "production:N"])
    return _spec(alt.layer(lines, points).properties(width=2 * WIDTH, height=HEIGHT))


def drift(rows: list[dict]) -> Spec:
    """Per task: label shift, length shift and unseen-token share, each against its threshold (black tick)."""
    frame = pd.DataFrame(rows)
    base = alt.Chart(frame).encode(y=alt.Y("task:N", title=None))
    bars = base.mark_bar().encode(x=alt.X("value:Q", title=None), color=alt.Color("drifted:N", scale=alt.Scale(
        domain=[False, True], range=["#90a4ae", "#c62828"])), tooltip=["task:N", "measure:N",
                                                                       alt.Tooltip("value:Q", format=".4f"),
                                                                       alt.Tooltip("threshold:Q", format=".4f"), "drifted:N"])
    tick = base.mark_tick(color="black", thickness=2, size=18).encode(x="threshold:Q")
    return _spec(alt.layer(bars, tick).properties(width=220, height=22 * frame["task"].nunique()).facet(
        facet=alt.Facet("measure:N", title=None), columns=3,
        title="Drift of the training data against production").resolve_scale(x="independent"))


def leakage(rows: list[dict]) -> Spec:
    """Evaluated (task, split) x trained task: the share of its texts found in that task's train split."""
    frame = pd.DataFrame(rows)
    base = alt.Chart(frame, title="Cross-task leakage: share of evaluated texts found in another task's train").encode(
        x=alt.X("trained:N", title="in the train split of"), y=alt.Y("evaluated:N", title="texts of", sort=None))
    cells = base.mark_rect().encode(color=alt.Color("share:Q", scale=alt.Scale(scheme="oranges"), title="share"),
                                    tooltip=["evaluated:N", "trained:N", "texts:Q", "exact:Q", "near:Q",
                                             alt.Tooltip("share:Q", format=".2%")])
    text = base.mark_text(fontSize=10).encode(text=alt.Text("label:N"))
    return _spec(alt.layer(cells, text).properties(width=70 * frame["trained"].nunique(),
                                                   height=24 * frame["evaluated"].nunique()))
