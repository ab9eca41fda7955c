"""Task kinds. A kind (tagging, classification) owns its record fields, expectations, head, loss and
metrics; nothing outside this package branches on the kind. Adding a kind is one module plus one line here.
"""

from mtl.tasks.classification import Classification
from mtl.tasks.tagging import Tagging

KINDS = {kind.name: kind for kind in (Tagging(), Classification())}


def get_kind(name: str):
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown task kind {name!r}; known: {sorted(KINDS)}") from None
