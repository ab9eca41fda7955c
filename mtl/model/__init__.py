"""The multi-task model: shared encoder, per-task heads, persistence as data, prediction."""

from mtl.model.batch import Batch, Example, collate
from mtl.model.io import build_model, load_model, save_model
from mtl.model.model import MultiTaskConfig, MultiTaskModel, TaskSpec
from mtl.model.predict import Predictor, predict
from mtl.model.vocab import Vocab, build_vocab

__all__ = [
    "Batch",
    "Example",
    "MultiTaskConfig",
    "MultiTaskModel",
    "Predictor",
    "TaskSpec",
    "Vocab",
    "build_model",
    "build_vocab",
    "collate",
    "load_model",
    "predict",
    "save_model",
]
