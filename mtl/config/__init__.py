"""The one configuration: params.yaml parsed once into frozen, typed objects.

Unknown keys are errors, with the nearest valid key suggested: a typo must never silently fall back to a
default. Code defaults equal the shipped params.yaml. Relative paths in params.yaml are relative to the file
itself, so every command works from any copy of the repository, and they must stay inside that folder
(paths.allow_outside_root lifts it). A task's options are validated by its kind (mtl/tasks), a corpus's
reader options by its format (mtl/corpora/formats.py): both sit below this package.

The sections live by concern: base (the strict model, splits, errors), data, model, training, release
(evaluation, gate, drift, registry, schedule, notify, serve) and params (the root and the loader).
"""

from mtl.config.base import SPLITS, CheckAction, ConfigError, KeyedError, Split, Strict
from mtl.config.data import (FOLDERS, CorpusConfig, CorpusFile, DataFlowConfig, IngestConfig, LeakageConfig, Paths,
                             UnifyConfig, ValidationChecks, ValidationConfig, parse_task)
from mtl.config.model import (AdversarialConfig, BiLSTMConfig, ModelConfig, PretrainedConfig, SoftConfig,
                              TransformerConfig, WordsConfig)
from mtl.config.params import Params, inside_root, load_params
from mtl.config.release import (DriftConfig, EvaluationConfig, ExtraSet, GateConfig, GateTask, NotifyConfig,
                                RegistryConfig, RetrainEvent, ScheduleConfig, ServeConfig)
from mtl.config.training import (SINGLE_PROCESS_WEIGHTINGS, BaselineConfig, SamplerConfig, TrainingConfig,
                                 WeightingConfig, refuse_many_processes)

__all__ = [
    "SPLITS", "CheckAction", "ConfigError", "KeyedError", "Split", "Strict",
    "FOLDERS", "CorpusConfig", "CorpusFile", "DataFlowConfig", "IngestConfig", "LeakageConfig", "Paths", "UnifyConfig",
    "ValidationChecks", "ValidationConfig", "parse_task",
    "AdversarialConfig", "BiLSTMConfig", "ModelConfig", "PretrainedConfig", "SoftConfig", "TransformerConfig",
    "WordsConfig",
    "Params", "inside_root", "load_params",
    "DriftConfig", "EvaluationConfig", "ExtraSet", "GateConfig", "GateTask", "NotifyConfig", "RegistryConfig",
    "RetrainEvent", "ScheduleConfig", "ServeConfig",
    "SINGLE_PROCESS_WEIGHTINGS", "BaselineConfig", "SamplerConfig", "TrainingConfig", "WeightingConfig",
    "refuse_many_processes",
]
