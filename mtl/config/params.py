"""The root of the configuration: Params (every section, and the checks across sections) and load_params, whose
errors name the file and the full key path, with the nearest valid key for an unknown one."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, SerializeAsAny, ValidationError, field_validator, model_validator

from mtl.config.base import ConfigError, KeyedError, Strict
from mtl.config.data import (FOLDERS, CorpusConfig, DataFlowConfig, IngestConfig, LeakageConfig, Paths, UnifyConfig,
                             ValidationConfig, parse_task)
from mtl.config.model import ModelConfig
from mtl.config.release import (DriftConfig, EvaluationConfig, GateConfig, NotifyConfig, RegistryConfig, ScheduleConfig,
                                ServeConfig)
from mtl.config.training import BaselineConfig, TrainingConfig
from mtl.tasks import TaskOptions, kind_of



class Params(Strict):
    paths: Paths = Paths()
    corpora: dict[str, CorpusConfig]
    tasks: dict[str, SerializeAsAny[TaskOptions]]  # each its kind's options model (parse_task)
    validation: ValidationConfig = ValidationConfig()
    ingest: IngestConfig = IngestConfig()
    unify: UnifyConfig = UnifyConfig()
    leakage: LeakageConfig = LeakageConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    baseline: BaselineConfig = BaselineConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    gate: GateConfig
    drift: DriftConfig = DriftConfig()
    registry: RegistryConfig = RegistryConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    data_flow: DataFlowConfig = DataFlowConfig()
    notify: NotifyConfig = NotifyConfig()
    serve: ServeConfig = ServeConfig()

    root: Path = Path(".")  # the folder params.yaml lives in; set by load_params

    @field_validator("tasks", mode="before")
    @classmethod
    def _parse_tasks(cls, tasks: Any) -> Any:
        if not isinstance(tasks, dict):
            return tasks
        return {name: parse_task(name, value) for name, value in tasks.items()}

    @model_validator(mode="after")
    def _check_tasks(self) -> Params:
        extra = self.evaluation.extra
        fed = {corpus.task for name, corpus in self.corpora.items() if name not in extra}
        for name, corpus in self.corpora.items():
            if corpus.task not in self.tasks:
                raise KeyedError(("corpora", name, "task"), f"task {corpus.task!r} is not declared under tasks")
            if name not in extra and "train" not in corpus.splits():
                raise KeyedError(("corpora", name, "files"), "a corpus needs train data (a train file, or a "
                                 "split_map value train), unless it is an extra evaluation set (evaluation.extra)")
        for name in extra:
            if name not in self.corpora:
                raise KeyedError(("evaluation", "extra", name), "not a corpus: declare it under corpora (with its "
                                 "task, format and files)")
        for name, entry in self.gate.extra.items():
            if name not in extra:
                raise KeyedError(("gate", "extra", name), "not an extra evaluation set: add it to evaluation.extra")
            task = self.tasks[self.corpora[name].task]
            known = kind_of(task).metric_names(task)
            if entry.metric is not None and entry.metric not in known:
                raise KeyedError(("gate", "extra", name, "metric"), f"unknown metric {entry.metric!r}; known: {known}")
        for name in self.tasks:
            if name not in fed:
                raise KeyedError(("tasks", name), "no corpus feeds this task: add one under corpora (task: "
                                 f"{name}) or remove the task")
            if name not in self.gate.tasks:
                raise KeyedError(("gate", "tasks"), f"task {name!r} has no gate entry: add gate.tasks.{name} "
                                 "with a floor (and max_drop) before it can reach production")
        for name, entry in self.gate.tasks.items():
            if name not in self.tasks:
                raise KeyedError(("gate", "tasks", name), f"task {name!r} is not declared under tasks")
            known = kind_of(self.tasks[name]).metric_names(self.tasks[name])
            if entry.metric is not None and entry.metric not in known:
                raise KeyedError(("gate", "tasks", name, "metric"), f"unknown metric {entry.metric!r}; known: {known}")
        for section, names in (("training.loss_weights", self.training.loss_weights),
                               ("training.sampler.probabilities", self.training.sampler.probabilities)):
            unknown = sorted(set(names) - set(self.tasks))
            if unknown:
                raise KeyedError(tuple(section.split(".")), f"names tasks that are not configured: {unknown}")
        return self

    @model_validator(mode="after")
    def _check_paths(self) -> Params:
        if self.paths.allow_outside_root:
            return self
        for key in FOLDERS:
            inside_root(self.root, getattr(self.paths, key), ("paths", key))
        for name, corpus in self.corpora.items():
            for file_name, file in corpus.files.items():
                folder = self.root / self.paths.raw / name
                if Path(file.path).is_absolute() or not _within(folder, folder / file.path):
                    raise KeyedError(("corpora", name, "files", file_name, "path"),
                                     f"{file.path!r} leaves the corpus's folder {self.paths.raw}/{name}/: give a "
                                     "file name (set paths.allow_outside_root: true to read files elsewhere)")
        uri = self.registry.uri
        if "://" not in uri and not Path(uri).expanduser().is_absolute():
            inside_root(self.root, uri, ("registry", "uri"))  # an absolute folder is a deliberate choice
        return self

    def report(self, name: str) -> Path:
        """A report file by its paths key: params.report("gate_table") -> <root>/reports/gate.md."""
        return self.reports_dir / getattr(self.paths, name)

    def run_file(self, name: str, run_dir: Path | None = None) -> Path:
        """A file of a training run's folder (the candidate's by default) by its paths key."""
        return (run_dir or self.run_dir) / getattr(self.paths, name)

    @property
    def raw_dir(self) -> Path:
        return self.root / self.paths.raw

    @property
    def interim_dir(self) -> Path:
        return self.root / self.paths.interim

    @property
    def unified_dir(self) -> Path:
        return self.root / self.paths.unified

    @property
    def run_dir(self) -> Path:
        return self.root / self.paths.run

    @property
    def reports_dir(self) -> Path:
        return self.root / self.paths.reports


def inside_root(root: Path, value: str, key: tuple[str, ...]) -> None:
    """A relative path of params must resolve (symlinks followed) inside params.yaml's folder."""
    if Path(value).is_absolute() or not _within(root, root / value):
        raise KeyedError(key, f"{value!r} resolves outside the project folder {root} (set "
                         "paths.allow_outside_root: true if that is deliberate)")


def _within(folder: Path, path: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such params file") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return Params.model_validate({**data, "root": path.resolve().parent})
    except ValidationError as error:
        raise ConfigError(f"{path}: " + "; ".join(_describe(e, data) for e in error.errors())) from None


def _describe(error: dict, data: dict) -> str:
    """One error as `dotted.key: message`, the key as written in params (the kinds' union tag dropped), with
    the nearest valid key suggested for an unknown one."""
    loc = [str(part) for part in error["loc"]]
    message = error["msg"].removeprefix("Value error, ")
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, KeyedError):
        loc += [str(part) for part in cause.path]
        message = cause.message
    if error["type"] == "extra_forbidden":
        hint = _nearest_key(loc)
        message = "unknown key" + (f"; did you mean {hint!r}?" if hint else "")
    return f"{'.'.join(loc) or '<top>'}: {message}"


def _nearest_key(loc: list[str]) -> str | None:
    """The valid key nearest to the unknown last one of `loc`, found by walking the models along it."""
    model: Any = Params
    parts = iter(loc[:-1])
    for part in parts:
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return None
        model = _model_of(field.annotation)
        if model is not field.annotation:
            next(parts, None)  # a dict's key (a corpus, a task): the model applies to its value
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    known = [name for name in model.model_fields if name != "root"]
    found = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
    return found[0] if found else None


def _model_of(annotation: Any) -> Any:
    """The model a field holds: itself, or the value model of a dict (a corpus, a task)."""
    if get_origin(annotation) is dict:
        return get_args(annotation)[1]
    return annotation
