"""Training: length-bucketed batches, task sampling, the loop, checkpoints and exact resume."""

from mtl.training.loop import TrainResult, train

__all__ = ["TrainResult", "train"]
