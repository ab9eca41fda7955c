"""mtl: multi-task NLP training pipeline.

A trained model from Python, with nothing but its folder:

    import mtl
    predictor = mtl.load("runs/candidate/model")
    predictor.predict(["Alice flew to Oslo .", ["pre", "split", "tokens"]])
    # -> [{"pos": [...], "ner": [...], "sentiment": "1", "question": "LOC"}, {...}]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from mtl.model.predict import Predictor


def load(folder: str | Path) -> Predictor:
    """The model saved in folder (a training run's model/, a registry version) as a Predictor.

    torch is imported here, on the first call, not by `import mtl`."""
    from mtl.model.predict import Predictor

    return Predictor.load(folder)
