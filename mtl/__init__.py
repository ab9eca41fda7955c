"""mtl: multi-task NLP training pipeline.

A trained model from Python:

    import mtl
    predictor = mtl.load("runs/candidate/model")       # a model folder (fp32, or int8 from `mtl export`)
    predictor = mtl.load("production")                 # or a registry alias or version, from params.yaml's registry
    predictor.predict(["I don't like it.", ["pre", "split", "tokens"]])
    # -> [{"pos": [...], "ner": [...], "sentiment": "0", "question": "DESC"}, {...}]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from mtl.model.predict import Predictor


def load(ref: str | Path, *, params: str | Path = "params.yaml") -> Predictor:
    """A model as a Predictor: ref is a model folder, or a registry alias ("production") or version
    ("v0003") of the registry that the params file names (fetched and checked against its manifest).

    torch is imported here, on the first call, not by `import mtl`."""
    import tempfile
    from pathlib import Path

    from mtl.quantize import load_predictor

    if Path(ref).is_dir():
        return load_predictor(ref)
    from mtl.config import load_params
    from mtl.registry import open_registry

    registry = open_registry(load_params(params))
    with tempfile.TemporaryDirectory() as folder:
        return load_predictor(registry.fetch(str(ref), folder))  # read into memory: the folder can go
