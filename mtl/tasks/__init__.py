"""Task kinds: the contract (kind.py) and its implementations, one module per kind.

A kind owns its record fields, options, expectations, head, loss, metrics and decoding (see kind.py); nothing
outside this package branches on a kind's name. Adding a kind is one module plus one line in KINDS.
"""

from mtl.tasks.classification import Classification
from mtl.tasks.kind import TaskKind, TaskOptions
from mtl.tasks.regression import Regression
from mtl.tasks.tagging import Tagging

KINDS: dict[str, TaskKind] = {
    kind.name: kind
    for kind in (
        Tagging(),
        Classification("classification", texts=["tokens"]),
        Classification("pair_classification", texts=["tokens", "tokens_b"]),
        Regression(),
    )
}


def get_kind(name: str) -> TaskKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown task kind {name!r}; known: {sorted(KINDS)}") from None


def kind_of(options: TaskOptions) -> TaskKind:
    """The kind of a task, from its parsed options (params.tasks[name])."""
    return get_kind(options.kind)


def task_options(kind: str, **values) -> TaskOptions:
    """A task's options as params would give them: task_options("tagging", scheme="bio", labels=[...])."""
    return get_kind(kind).Options.model_validate({"kind": kind, **values})
