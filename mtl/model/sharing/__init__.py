"""The registry of parameter-sharing schemes: params' model.sharing -> module. A scheme decides which
encoders there are, which of them every task shares, and what each task's head reads.

    hard         one shared encoder, a head per task (the default)                      Caruana 1997
    soft         an encoder per task, an L2 penalty pulling their parameters together   Duong et al. 2015
    adversarial  a shared encoder and a private one per task; heads read [shared; private]; a task
                 discriminator through gradient reversal and an orthogonality penalty   Liu, Qiu & Huang 2017
    attention    one shared encoder; each task mixes its layers with softmax weights of its own
                                                                                        Peters et al. 2018

A scheme module exposes (`model` is the MultiTaskModel that holds the parts):

    options(model_cfg) -> dict
        the scheme's own settings (penalty weights), saved in config.json as sharing_options
    build(config, *, fresh) -> ({name: nn.Module}, head input width)
        the parts; the model registers them as its own modules, in this order, before the heads (so a hard
        model's weights are named encoder.* and heads.*, and drawn in the same order, as before schemes)
    forward(model, batch, tasks, auxiliary) -> ({task: head output}, auxiliary loss or None)
        every shared encoder runs once per batch, whatever the number of tasks; the auxiliary loss (the
        scheme's penalties) only when `auxiliary` (training with gradients), else None
    shared_parameters(model), task_parameters(model, task)
        what every task uses, what only `task` uses (its head not counted: the model adds it)
    last_shared_parameters(model)
        where GradNorm measures the task gradients' norms

A new scheme is one module plus one line here. Nothing outside mtl/model knows which scheme runs: the loop
adds model.auxiliary_loss() to each task loss, and the extra parameters are model parameters like others.
"""

from types import ModuleType

from mtl.model.sharing import adversarial, attention, hard, soft

SCHEMES: dict[str, ModuleType] = {
    "hard": hard,
    "soft": soft,
    "adversarial": adversarial,
    "attention": attention,
}


def get_sharing(name: str) -> ModuleType:
    try:
        return SCHEMES[name]
    except KeyError:
        raise ValueError(f"unknown sharing scheme {name!r}; known: {sorted(SCHEMES)}") from None
