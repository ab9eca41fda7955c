"""The multi-task model: shared encoder(s), per-task heads, persistence as data, prediction."""

from mtl.model.batch import Batch, Example, Text, collate
from mtl.model.io import ModelFileError, build_model, load_model, save_model
from mtl.model.model import MultiTaskModel
from mtl.model.predict import Predictor, predict
from mtl.model.spec import MultiTaskConfig, TaskSpec
from mtl.model.vocab import Vocab, build_vocab

__all__ = [
    "Batch",
    "Example",
    "ModelFileError",
    "MultiTaskConfig",
    "MultiTaskModel",
    "Predictor",
    "TaskSpec",
    "Text",
    "Vocab",
    "build_model",
    "build_vocab",
    "collate",
    "load_model",
    "predict",
    "save_model",
]
