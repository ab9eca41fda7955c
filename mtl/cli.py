"""`mtl <verb>`: a thin command line over the modules. Every command takes --params FILE."""

from __future__ import annotations

import json
import os
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from mtl.config import Params, load_params
from mtl.errors import MtlError
from mtl.logs import log_to_stderr
from mtl.offline import go_offline

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
corpora_app = typer.Typer(no_args_is_help=True, help="Corpus files: fetch and verify.")
app.add_typer(corpora_app, name="corpora")
registry_app = typer.Typer(no_args_is_help=True, help="Model versions and aliases.")
app.add_typer(registry_app, name="registry")

ParamsOption = Annotated[Path, typer.Option("--params", help="The configuration file.")]


class Tokenizer(str, Enum):  # mtl/corpora/tokenize.py's names, for the command line
    treebank = "treebank"
    wordpunct = "wordpunct"
    whitespace = "whitespace"


def _params(path: Path) -> Params:
    go_offline()
    return load_params(path)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@corpora_app.command("pull")
def corpora_pull(
    names: Annotated[list[str] | None, typer.Argument(help="Corpora to pull (default: all in params).")] = None,
    params_file: ParamsOption = Path("params.yaml"),
    track: Annotated[bool, typer.Option(help="Version the raw folder with `dvc add` when in a DVC workspace.")] = True,
) -> None:
    """Fill the raw folder from MTL_CORPORA_MIRROR or the public URLs, verifying every sha256.

    Example: mtl corpora pull sst2 trec
    """
    from mtl.corpora.fetch import FetchError, pull_corpora
    from mtl.pipeline import StageFailed, is_dvc_workspace, track as dvc_track

    params = _params(params_file)
    try:
        for fetched in pull_corpora(params, names):
            typer.echo(f"{fetched.corpus}/{fetched.file}: {fetched.origin}")
        if track and is_dvc_workspace(params.root):
            dvc_track(params.root, params.raw_dir)
    except (FetchError, StageFailed) as error:
        _fail(str(error))


@app.command()
def ingest(
    corpus: Annotated[str, typer.Argument(help="The corpus to read and validate.")],
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Read one corpus, validate it, and write its records, quarantine and report.

    Example: mtl ingest sst2 --params params.yaml
    """
    from mtl.ingest import IngestFailed, ingest as run_ingest

    params = _params(params_file)
    try:
        result = run_ingest(corpus, params)
    except (IngestFailed, KeyError, FileNotFoundError) as error:
        _fail(f"ingest {corpus}: {error}")
    report = result.validation.report
    typer.echo(
        f"{corpus}: read {report['read']}, accepted {report['accepted']}, quarantined {report['quarantined']}"
        f" -> {result.output_dir}"
    )
    for issue in result.validation.issues:
        typer.echo(f"warning: {issue.message}", err=True)


@app.command()
def unify(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Build the task-tagged dataset from every corpus's accepted records.

    Example: mtl unify
    """
    from mtl.dataset import unify as run_unify

    params = _params(params_file)
    try:
        manifest = run_unify(params)
    except FileNotFoundError as error:
        _fail(f"unify: {error}; run the ingest stages first")
    typer.echo(json.dumps(manifest["tasks"], indent=1))


@app.command()
def train(
    params_file: ParamsOption = Path("params.yaml"),
    resume: Annotated[bool, typer.Option("--resume", help="Continue exactly from the last checkpoint.")] = False,
    nproc: Annotated[int | None, typer.Option("--nproc", help="Data-parallel processes (torchrun); default: "
                                                                "training.processes.")] = None,
) -> None:
    """Train the shared encoder and its task heads on the unified dataset -> <run>/model.

    Example: mtl train --resume   (or: mtl train --nproc 2)
    """
    from mtl.training import train as run_training
    from mtl.training.distributed import launch

    params = _params(params_file)
    processes = nproc or params.training.processes
    if processes > 1 and "WORLD_SIZE" not in os.environ:  # not yet under torchrun: start the processes
        argv = ["train", "--params", str(params_file), *(["--resume"] if resume else [])]
        raise typer.Exit(launch(processes, argv))
    try:
        result = run_training(params, data_dir=params.unified_dir, out_dir=params.run_dir, resume=resume)
    except (FileNotFoundError, ValueError) as error:
        _fail(f"train: {error}")
    if os.environ.get("RANK", "0") == "0":  # under torchrun the first process speaks for all
        typer.echo(f"trained {result.steps} steps ({result.stopped}); best dev score {result.best_score:.4f}")


@app.command()
def evaluate(
    params_file: ParamsOption = Path("params.yaml"),
    model: Annotated[str | None, typer.Option(help="Score this model instead (a folder, alias or version; "
                                                   "nothing is written). An int8 folder is compared with its fp32 "
                                                   "model per task, with paired intervals.")] = None,
) -> None:
    """Score the candidate per task on dev and test, with bootstrap intervals -> reports/metrics.json.

    Example: mtl evaluate   (or: mtl evaluate --model exports/int8)
    """
    params = _params(params_file)
    if model is not None:
        from mtl.export import evaluate_any, to_markdown

        kind, result = evaluate_any(params, model)
        if kind == "int8":
            typer.echo(to_markdown(result))
            return
        metrics = {"test": result}
    else:
        from mtl.stages.evaluate import evaluate_candidate

        metrics = evaluate_candidate(params)
    scored = {"test": metrics["test"], **metrics.get("extra", {})}  # the extra evaluation sets beside test
    for name, evaluation in scored.items():
        for task, row in evaluation["per_task"].items():
            low, high = row["ci"] or (float("nan"), float("nan"))
            typer.echo(f"{task:>12} {name} {row['metric']}: {row['value']:.4f} [{low:.4f}, {high:.4f}] n={row['n']}")


@app.command()
def gate(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Decide per task: floor, and a paired test against production (Holm across tasks) -> reports/gate.json,
    gate.md, and production_metrics.json (production re-scored on the same test data, shaped like metrics.json).

    Example: mtl gate
    """
    from mtl.stages.gate import gate_candidate

    params = _params(params_file)
    gate_candidate(params)
    typer.echo(params.report("gate_table").read_text(encoding="utf-8"))


@app.command()
def report(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Write the page to open in a browser (reports/report.html: training curves, scores with intervals, confusion,
    task mix, gate, drift, leakage, registry history; no network needed) and `dvc plots show`'s offline template.

    Example: mtl report && xdg-open reports/report.html
    """
    from mtl.report import write_report

    typer.echo(write_report(_params(params_file)))


@app.command()
def promote(
    params_file: ParamsOption = Path("params.yaml"),
    reason: Annotated[str | None, typer.Option(help="Why, recorded with the alias move (required with --force).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Promote although the gate refused: an audited override (action 'force', who, why).")] = False,
) -> None:
    """Publish the gated candidate to the registry and move the production alias to it.

    Example: mtl promote --force --reason "known labelling bug in the new test data"
    """
    from mtl.registry import RegistryError
    from mtl.stages.promote import PromotionRefused, promote_candidate

    if force and not (reason or "").strip():
        _fail('promote: --force needs --reason "...": an override of the gate must say why')
    try:
        result = promote_candidate(_params(params_file), reason or "gate passed", force=force)
    except (PromotionRefused, RegistryError) as error:
        _fail(f"promote: {error}")
    if result.forced:
        typer.echo(f"FORCED: promoted {result.version} to production against the gate (replacing {result.replaced or 'nothing'})")
    elif result.changed:
        typer.echo(f"promoted {result.version} to production (replacing {result.replaced or 'nothing'})")
    else:
        typer.echo(f"production model unchanged: {result.version} already holds these weights")


@app.command()
def baseline(
    tasks: Annotated[list[str] | None, typer.Option("--task", help="A task to train alone (repeatable; default: every task).")] = None,
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Train a single-task model per task with the same encoder, params and budget (baseline.budget)
    -> <run>/baselines/<task>/model. An analysis, not part of the retrain flow: `dvc repro transfer`.

    Example: mtl baseline --task pos
    """
    from mtl.baseline import train_baselines

    params = _params(params_file)
    try:
        results = train_baselines(params, tasks)
    except (FileNotFoundError, ValueError) as error:
        _fail(f"baseline: {error}")
    for task, result in results.items():
        typer.echo(f"{task}: trained {result.steps} steps ({params.baseline.budget} budget); best dev score {result.best_score:.4f}")


@app.command()
def transfer(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Per task on test: the multi-task candidate vs its single-task baseline (paired bootstrap: positive,
    negative or no significant transfer), and the cost of 1 vs N models -> reports/transfer.json, transfer.md.

    Example: mtl transfer
    """
    from mtl.transfer import transfer_report

    params = _params(params_file)
    try:
        transfer_report(params)
    except (FileNotFoundError, ValueError) as error:
        _fail(f"transfer: {error}")
    typer.echo(params.report("transfer_table").read_text(encoding="utf-8"))


@registry_app.command("list")
def registry_list(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Every complete version with its aliases, gate verdict and headline metrics.

    Example: mtl registry list
    """
    from mtl.registry import RegistryError, open_registry

    try:
        rows = open_registry(_params(params_file)).list_versions()
    except RegistryError as error:
        _fail(str(error))
    if not rows:
        typer.echo("the registry is empty")
    for row in rows:
        metrics = "  ".join(f"{name}={value:.4f}" for name, value in row["metrics"].items())
        aliases = ",".join(row["aliases"]) or "-"
        typer.echo(f"{row['version']}  {row['created']}  [{aliases}]  gate={row['gate']}  {metrics}")


@registry_app.command("show")
def registry_show(
    ref: Annotated[str, typer.Argument(help="A version (v0003) or an alias (production).")] = "production",
    params_file: ParamsOption = Path("params.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="Everything the version holds (manifest, metrics, gate, "
                                                         "lineage) as JSON instead of its model card.")] = False,
) -> None:
    """A version's model card: data, tasks, scores with intervals, training and how it stopped, gate, lineage.

    Example: mtl registry show v0002   (or: mtl registry show production --json)
    """
    from mtl.registry import RegistryError, open_registry

    try:
        registry = open_registry(_params(params_file))
        typer.echo(json.dumps(registry.show(ref), indent=2) if as_json else registry.card(ref))
    except RegistryError as error:
        _fail(str(error))


@registry_app.command("rollback")
def registry_rollback(
    alias: Annotated[str, typer.Argument()] = "production",
    params_file: ParamsOption = Path("params.yaml"),
    reason: Annotated[str, typer.Option(help="Why, recorded with the alias move.")] = "",
) -> None:
    """Move an alias back to the version it replaced.

    Example: mtl registry rollback production --reason "v0003 mislabels dates"
    """
    from mtl.registry import RegistryError, open_registry

    try:
        record = open_registry(_params(params_file)).rollback(alias, reason)
    except RegistryError as error:
        _fail(str(error))
    typer.echo(f"{alias} -> {record['version']} (was {record['previous']})")


@registry_app.command("gc")
def registry_gc(
    params_file: ParamsOption = Path("params.yaml"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")] = False,
) -> None:
    """Remove what killed promotions left: incomplete versions' files (their id stays taken) and temporary
    files, once older than registry.gc_grace_hours. Never a version an alias or the history names.
    Each promotion does the same first.

    Example: mtl registry gc --dry-run
    """
    from mtl.registry import RegistryError, open_registry

    try:
        collected = open_registry(_params(params_file)).collect_garbage(dry_run=dry_run)
    except RegistryError as error:
        _fail(str(error))
    verb = "would remove" if dry_run else "removed"
    for version in collected.versions:
        typer.echo(f"{verb} incomplete version {version}")
    typer.echo(f"{verb} {len(collected.files)} file(s)" + "".join(f"\n  {name}" for name in collected.files))
    for why in collected.kept:
        typer.echo(f"kept {why}")


@app.command()
def predict(
    model: Annotated[str, typer.Option(help="A registry alias or version, or a model folder (fp32 or int8).")] = "production",
    input_file: Annotated[Path | None, typer.Option("--input", help="One sentence per line (default: stdin).")] = None,
    pairs: Annotated[bool, typer.Option("--pairs", help="Each line is a pair, its two texts split by a TAB: the "
                                                        "tasks that read pairs answer.")] = False,
    tokenizer: Annotated[Tokenizer | None, typer.Option(help="How to split raw text (default: the tokenizer the "
                                                             "model folder records).")] = None,
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Every task's prediction for each input sentence (JSON lines), from one pass of the shared encoder.

    Example: echo "I don't like it ." | mtl predict --model production
    """
    import sys

    import mtl
    from mtl.model.predict import Predictor
    from mtl.registry import PRODUCTION, RegistryError

    _params(params_file)
    text = input_file.read_bytes() if input_file else sys.stdin.buffer.read()
    try:
        lines = [line for line in text.decode("utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError as error:
        _fail(f"predict: {input_file or 'stdin'}: not UTF-8 text (byte {error.start + 1}: {error.reason})")
    inputs: list = lines
    if pairs:
        bad = [i + 1 for i, line in enumerate(lines) if line.count("\t") != 1]
        if bad:
            _fail(f"predict --pairs: line(s) {bad[:5]} of {input_file or 'stdin'} are not two texts split by one TAB")
        inputs = [tuple(line.split("\t")) for line in lines]
    try:
        predictor = mtl.load(model, params=params_file)
    except RegistryError as error:
        if model == PRODUCTION and "neither a version nor an alias" in str(error):
            _fail("predict: no production model yet: run `make run` (or `mtl run`), or pass --model "
                  "runs/candidate/model")
        _fail(f"predict: {error}")
    if tokenizer is not None:
        predictor = Predictor(predictor.model, tokenizer.value, predictor.precision)
    tokens = predictor.tokens_of(inputs)
    for words, predictions in zip(tokens, predictor.predict(tokens) if tokens else []):
        typer.echo(json.dumps({"tokens": words, **predictions}, ensure_ascii=False))


@app.command()
def serve(
    model: Annotated[str, typer.Option(help="A registry alias (followed when it moves), a version, or a model "
                                            "folder (fp32 or int8).")] = "production",
    host: Annotated[str | None, typer.Option(help="Address to bind (default: serve.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: serve.port).")] = None,
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Serve the model over HTTP until interrupted: POST /v1/predict, GET /v1/model, /healthz, /readyz, /metrics.

    Example: mtl serve --model production --port 8000
    """
    from mtl.serve import serve as run_service

    run_service(_params(params_file), model, host=host, port=port)


@app.command()
def export(
    quantize: Annotated[str, typer.Option(help="The quantization: int8 (dynamic, Linear and LSTM layers).")] = "int8",
    model: Annotated[str, typer.Option(help="A registry alias or version, or a model folder.")] = "production",
    out: Annotated[Path | None, typer.Option(help="The folder to write (default: exports/<version>-int8).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Export although a task drops beyond its gate's max_drop.")] = False,
    reason: Annotated[str | None, typer.Option(help="Why, kept in the folder (required with --force).")] = None,
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Write an int8 copy of a model, refused when any task's test score drops beyond its gate's max_drop.

    Example: mtl export --quantize int8 --model production --out exports/int8
    """
    from mtl.export import ExportRefused, export_int8, to_markdown
    from mtl.registry import RegistryError

    if quantize != "int8":
        _fail(f"export: unknown quantization {quantize!r}; known: int8")
    try:
        result = export_int8(_params(params_file), model, out, force=force, reason=reason)
    except (ExportRefused, RegistryError) as error:
        _fail(f"export: {error}")
    typer.echo(to_markdown(result.comparison))
    typer.echo(("FORCED: " if result.forced else "") + f"wrote {result.folder}")


@app.command("run")
def run_job(
    params_file: ParamsOption = Path("params.yaml"),
    skip_unchanged: Annotated[bool, typer.Option("--skip-unchanged", help="End as skipped when nothing changed since the last decided candidate.")] = False,
) -> None:
    """The main job (what `make run` runs): the retrain flow. The DVC stages up to the gate, then a
    promotion when every task passes; each stage's start, end and output are logged as they happen.

    Example: mtl run --params params.yaml
    """
    from mtl.pipeline import require_workspace_params
    from mtl.schedule import retrain_flow

    go_offline()
    require_workspace_params(params_file)  # before Prefect starts: a wrong file is one `error:` line
    retrain_flow()(params_file.resolve(), skip_unchanged=skip_unchanged)  # so is a failed stage


@app.command()
def schedule(
    params_file: ParamsOption = Path("params.yaml"),
    interval: Annotated[float | None, typer.Option(help="Every this many seconds instead of params' cron (to try it out).")] = None,
) -> None:
    """Serve the retrain flow as a Prefect deployment on params' schedule until interrupted (needs PREFECT_API_URL).

    Example: mtl schedule --interval 60
    """
    from mtl.schedule import ScheduleError, serve

    try:
        serve(_params(params_file), params_file, interval=interval)
    except ScheduleError as error:
        _fail(f"schedule: {error}")


# Expected failures: any MtlError (each module's own: a bad config, input, file or store, a refused promotion),
# and what the operating system says of a file. Their message is the whole story: one line, exit code 1.
EXPECTED = (MtlError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError, UnicodeDecodeError)


def main() -> None:
    # Before torch loads: idle OpenMP threads otherwise spin, and on a busy 2-core machine that cut
    # training from ~5k to ~400 tokens/s (measured).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    log_to_stderr()  # progress of stages and training, with a timestamp; `mtl run` relays it to the flow's log
    try:
        app()
    except EXPECTED as error:
        said = f"{error.filename}: missing" if isinstance(error, FileNotFoundError) and error.filename else error
        typer.echo(f"error: {said}{next_step(error)}", err=True)
        raise SystemExit(1) from None
    except Exception:
        typer.echo("error: an unexpected failure, which is a bug in mtl; the traceback follows. Please report it "
                   "with the command you ran.", err=True)
        raise


def next_step(error: BaseException) -> str:
    """What to do about a missing input a stage before would have written."""
    if not (isinstance(error, FileNotFoundError) or "missing" in str(error)):
        return ""
    where = str(getattr(error, "filename", None) or error)
    for produced_by, names in (("mtl train (or make run)", ("model.safetensors", "config.json", "/model")),
                               ("mtl evaluate", ("metrics.json",)), ("mtl gate", ("gate.json",)),
                               ("mtl unify", ("labels.json", ".parquet")), ("mtl corpora pull", ("data/raw",))):
        if any(name in where for name in names):
            return f" (run `{produced_by}` first)"
    return ""


def version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"mtl {version('mtl')}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """mtl: multi-task NLP training pipeline. `mtl run` runs the whole job; each stage is a command too.

    Example: mtl run --params params.yaml"""


if __name__ == "__main__":
    main()
