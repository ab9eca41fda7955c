"""The model stages behind `mtl evaluate`, `mtl gate` and `mtl promote`: each reads what the stage before it
wrote, calls the pure modules (evaluation, gate, registry) and writes JSON and Markdown beside them. The
candidate is <run>/<model>; the production model is whatever the registry's production alias points at."""

from mtl.stages.evaluate import evaluate_candidate, evaluate_model
from mtl.stages.gate import gate_candidate
from mtl.stages.promote import Promotion, PromotionRefused, promote_candidate

__all__ = ["Promotion", "PromotionRefused", "evaluate_candidate", "evaluate_model", "gate_candidate",
           "promote_candidate"]
