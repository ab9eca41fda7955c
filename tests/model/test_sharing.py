"""Parameter-sharing schemes (mtl/model/sharing/): each trains with the real loop on the tiny synthetic dataset
of six tasks (two of them sentence pairs), saves and loads to identical predictions, resumes bit for bit
after a crash and predicts with one shared-encoder pass. Then each scheme's pieces on hand-made inputs:
gradient reversal, the orthogonality and L2 penalties, the per-task layer mixes, the all-layers hook.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from mtl.config import ModelConfig, TrainingConfig
from mtl.model import Example, build_model, build_vocab, collate, load_model, predict, save_model
from mtl.model.sharing import adversarial, attention, soft
from mtl.tasks import get_kind
from mtl.training import train
from mtl.training.weighting import make_weighting
from tests.model.conftest import LABELS, SENTENCES, save_and_reload
from tests.training.conftest import tiny_params, write_unified
from tests.training.resuming import assert_same_run, interrupt_and_resume

SCHEMES = ["hard", "soft", "adversarial", "attention"]
STEPS = 48  # with checkpoints every 10 and an evaluation every 24


def tiny_model(sharing: str, seed: int = 0, **section) -> nn.Module:
    torch.manual_seed(seed)
    vocab = build_vocab(SENTENCES, min_count=1, lowercase=True, max_word_chars=8)
    words = {"dim": 8, "char_dim": 4, "char_filters": 4, **section.pop("words", {})}
    bilstm = {"hidden_size": 8, **section.pop("bilstm", {})}
    config = ModelConfig.model_validate({"words": words, "bilstm": bilstm, "sharing": sharing, **section})
    return build_model(config, vocab, LABELS)


def tagged_batch(model, task: str = "pos"):
    batch = collate([Example(model.vocab.encode_texts([s])) for s in SENTENCES])
    batch.task, batch.labels, batch.task_options = task, LABELS[task]["labels"], LABELS[task]["options"]
    batch.targets = get_kind("tagging").collate_targets([[i % 4 for i in range(len(s))] for s in SENTENCES],
                                                        batch.texts[0].words.size(1))
    return batch


# --- every scheme, end to end with the real loop --------------------------------------------------------


@pytest.fixture(scope="module")
def unified(tmp_path_factory) -> Path:
    return write_unified(tmp_path_factory.mktemp("unified"), pairs=True)


def scheme_params(scheme: str, **training):
    return tiny_params({"sharing": scheme}, pairs=True, max_steps=STEPS, eval_every=24, **training)


@pytest.fixture(scope="module", params=SCHEMES)
def straight(request, unified, tmp_path_factory) -> tuple[str, Path]:
    """(scheme, the folder of an uninterrupted run of STEPS steps)."""
    out = tmp_path_factory.mktemp(f"straight-{request.param}")
    train(scheme_params(request.param), data_dir=unified, out_dir=out)
    return request.param, out


def test_each_scheme_trains_the_loss_down(straight):
    scheme, out = straight
    losses: dict[str, list[float]] = {}  # per task (their scales differ): task loss + the scheme's penalties
    with (out / "train_log.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            losses.setdefault(row["task"], []).append(float(row["loss"]))
    assert sum(map(len, losses.values())) == STEPS and len(losses) == 6 and min(map(len, losses.values())) >= 4
    first, last = (sum(sum(values[part]) / 3 for values in losses.values()) for part in (slice(3), slice(-3, None)))
    assert last < 0.9 * first, (scheme, losses)
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["model"]["sharing"] == scheme


def test_each_scheme_saves_and_loads_to_identical_predictions(straight, tmp_path, monkeypatch):
    scheme, out = straight
    model = load_model(out / "model")
    sentences = [["the", "cat", "runs"], ["Alice", "likes", "every", "superb", "tree", "!"], ["who", "finds", "?"],
                 (["the", "cat", "sees", "a", "dog"], ["the", "cat", "sees"])]
    predicted = predict(model, sentences)
    assert [len(tags) for tags in predicted["pos"][:3]] == [3, 6, 3] and predicted["pos"][3] is None
    assert predicted["entailment"][3] in {"ENTAILMENT", "NEUTRAL", "CONTRADICTION"}
    loaded = save_and_reload(model, tmp_path / "again", monkeypatch, sentences)
    assert loaded.config.sharing == scheme and loaded.config.sharing_options == model.config.sharing_options


def test_each_scheme_resumes_exactly_after_a_crash(straight, unified, tmp_path):
    """Crashed at step 17 (the step-10 checkpoint is the last whole one) and resumed: the same weights, the
    same optimizer state, the same logs as the uninterrupted run."""
    scheme, out = straight
    interrupt_and_resume(scheme_params(scheme), unified, tmp_path / "resumed", stop_at=17)
    assert_same_run(out, tmp_path / "resumed")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_each_scheme_runs_under_gradnorm_and_pcgrad(scheme, unified, tmp_path):
    # every_task methods: k forward passes per step, each with its own auxiliary loss; GradNorm reads
    # last_shared_parameters()
    for kind in ("gradnorm", "pcgrad"):
        params = tiny_params({"sharing": scheme}, pairs=True, max_steps=4, eval_every=4, checkpoint_every=4,
                             weighting={"kind": kind})
        assert train(params, data_dir=unified, out_dir=tmp_path / kind).steps == 4


@pytest.mark.parametrize("scheme", SCHEMES)
def test_predict_runs_each_encoder_once_per_batch(scheme, sentences):
    model = tiny_model(scheme).eval()
    if scheme == "soft":  # nothing is shared: each asked task's own encoder
        encoders = list(model.encoders.values())
    elif scheme == "adversarial":  # the shared one, and each task's private one
        encoders = [model.encoder, *model.private.values()]
    else:
        encoders = [model.encoder]
    calls = [0] * len(encoders)
    hooks = [m.register_forward_hook(lambda *args, i=i: calls.__setitem__(i, calls[i] + 1))
             for i, m in enumerate(encoders)]
    predict(model, sentences, batch_size=2)  # 3 batches of all four tasks
    for hook in hooks:
        hook.remove()
    assert calls == [3] * len(encoders)


# --- hard: one encoder and the heads, nothing else ----------------------------------------------------------


def test_hard_adds_nothing():
    model = tiny_model("hard").train()
    assert {name.split(".")[0] for name in model.state_dict()} == {"encoder", "heads"}
    batch = tagged_batch(model)
    model(batch, ["pos"])
    assert model.auxiliary_loss() == 0.0  # the step's `loss + 0.0`: the same value, the same gradient
    assert model.last_shared_parameters() == list(model.encoder.parameters())


def test_train_step_with_the_hook_matches_the_step_without_it():
    """Three AdamW steps through train_step (loss + model.auxiliary_loss()) and through the step as it was
    before the hook end with the same weights, bit for bit."""
    from mtl.training.step import train_step

    def step_before_the_hook(model, optimizer, batches, kinds, weighting, clip):
        model.train()
        losses = {task: get_kind(kinds[task]).loss(model(batch, [task])[task], batch) for task, batch in batches.items()}
        optimizer.zero_grad(set_to_none=True)
        weighting.backward(losses, model)
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()

    ends = []
    for step in (train_step, step_before_the_hook):
        model = tiny_model("hard")
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        weighting = make_weighting(TrainingConfig(), ["pos"])
        torch.manual_seed(1)
        for _ in range(3):
            step(model, optimizer, {"pos": tagged_batch(model)}, {"pos": "tagging"}, weighting, 1.0)
        ends.append(model.state_dict())
    assert all(torch.equal(ends[0][k], ends[1][k]) for k in ends[0])


# --- parameter counts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
def test_parameter_counts_add_up(scheme):
    model = tiny_model(scheme)
    counts = model.parameter_counts()
    n = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert counts["total"] == model.n_parameters() == counts["shared"] + sum(counts["per_task"].values()) + counts["other"]
    assert set(counts["per_task"]) == set(LABELS)
    heads = {task: n(model.heads[task]) for task in LABELS}
    if scheme == "soft":
        assert counts["shared"] == 0 and counts["per_task"] == {t: heads[t] + n(model.encoders[t]) for t in LABELS}
    else:
        assert counts["shared"] == n(model.encoder)
    if scheme == "hard":
        assert counts["per_task"] == heads and counts["other"] == 0
    if scheme == "adversarial":
        assert counts["per_task"] == {t: heads[t] + n(model.private[t]) for t in LABELS}
        assert counts["other"] == n(model.discriminator)
    if scheme == "attention":
        assert counts["per_task"] == {t: heads[t] + model.encoder.n_layers + 1 for t in LABELS}  # w_t and γ_t


# --- the schemes' pieces -----------------------------------------------------------------------------------


def test_gradient_reversal_is_the_identity_forward_and_flips_the_gradient():
    x = torch.randn(3, 4, requires_grad=True)
    weight = torch.randn(3, 4)
    y = adversarial.reverse_gradient(x)
    assert torch.equal(y, x)
    (y * weight).sum().backward()
    assert torch.equal(x.grad, -weight)


def test_the_shared_encoder_gets_the_discriminators_gradient_reversed():
    model = tiny_model("adversarial", adversarial={"weight": 1.0, "orthogonality": 0.0}, dropout=0.0,
                       words={"dropout": 0.0}).train()  # no dropout: every pass sees the same states
    batch = tagged_batch(model, "ner")
    target = torch.full((len(SENTENCES),), list(LABELS).index("ner"))

    def grads() -> tuple[list[torch.Tensor], torch.Tensor]:
        encoder = [p.grad.clone() for p in model.encoder.parameters() if p.grad is not None]
        return encoder, model.discriminator.weight.grad.clone()

    model(batch, ["ner"])
    penalty = model.auxiliary_loss()  # 1.0 x the discriminator's cross-entropy, through the reversal
    assert model.auxiliary_loss() == 0.0  # taken once
    penalty.backward()
    encoder_reversed, discriminator_reversed = grads()
    model.zero_grad()
    text = batch.texts[0]
    pooled = (model.encoder(batch.texts)[0] * text.mask.unsqueeze(2)).sum(1) / text.lengths.unsqueeze(1)  # (B, H)
    plain = nn.functional.cross_entropy(model.discriminator(pooled), target)  # no reversal
    torch.testing.assert_close(plain, penalty)
    plain.backward()
    encoder_plain, discriminator_plain = grads()
    assert len(encoder_plain) == len(encoder_reversed) > 0
    assert all(torch.allclose(r, -g) for r, g in zip(encoder_reversed, encoder_plain))  # the encoder: flipped
    assert torch.allclose(discriminator_reversed, discriminator_plain)  # the discriminator: as is


def test_orthogonality_is_zero_for_orthogonal_features_and_not_otherwise():
    # Orthogonal in the paper's sense: every shared feature (a column of S, one value per word) is orthogonal
    # to every private one. Here S's columns lie in the span of 2 orthonormal word-vectors, P's in the 3 others.
    q, _ = torch.linalg.qr(torch.randn(5, 5, dtype=torch.float64))  # (T, T) orthonormal columns
    shared = torch.stack([q[:, :2] @ torch.randn(2, 6, dtype=torch.float64) for _ in range(3)])  # (B, T, H)
    private = torch.stack([q[:, 2:] @ torch.randn(3, 6, dtype=torch.float64) for _ in range(3)])
    assert adversarial.orthogonality(shared, private).item() == pytest.approx(0.0, abs=1e-20)
    early, late = torch.zeros(2, 5, 6), torch.zeros(2, 5, 6)  # exactly 0: features active on different words
    early[:, :2], late[:, 2:] = torch.randn(2, 2, 6), torch.randn(2, 3, 6)
    assert adversarial.orthogonality(early, late).item() == 0.0
    assert adversarial.orthogonality(shared, shared).item() > 1.0
    a, b = torch.randn(2, 5, 6), torch.randn(2, 5, 6)  # per sentence, then averaged: ||S_bᵀ P_b||²_F by hand
    torch.testing.assert_close(adversarial.orthogonality(a, b), sum((a[i].T @ b[i]).pow(2).sum() for i in range(2)) / 2)


def test_soft_l2_is_zero_for_identical_encoders_and_pulls_them_together():
    model = tiny_model("soft", soft={"l2": 0.5}).train()
    encoders = list(model.encoders.values())
    assert soft.l2_penalty(encoders).item() == 0.0  # they start as copies of one
    with torch.no_grad():
        encoders[1].lstm.ahead[0].bias_ih_l0.add_(1.0)  # 4 x hidden_size = 32 numbers, 1 away
    # k = 4 encoders, one off by d: sum_t ||θ_t - θ̄||² = 32 d² (3/4)² ... + 3 x 32 (d/4)² = 32 x 3/4
    torch.testing.assert_close(soft.l2_penalty(encoders), torch.tensor(32 * 0.75))
    batch = tagged_batch(model)
    model(batch, ["pos"])
    penalty = model.auxiliary_loss()
    torch.testing.assert_close(penalty, torch.tensor(0.5 * 32 * 0.75))
    penalty.backward()
    moved = encoders[1].lstm.ahead[0].bias_ih_l0.grad
    assert (moved > 0).all()  # gradient descent moves the odd one back toward the others
    assert (encoders[0].lstm.ahead[0].bias_ih_l0.grad < 0).all()


def test_attention_mix_weights_are_per_task_and_sum_to_one():
    model = tiny_model("attention", bilstm={"layers": 3}).train()
    assert {task: len(w) for task, w in attention.mix_weights(model).items()} == {t: 3 for t in LABELS}
    with torch.no_grad():
        model.mix["pos"].weights.copy_(torch.tensor([2.0, 0.0, -1.0]))
        model.mix["sentiment"].weights.copy_(torch.tensor([-3.0, 0.5, 1.0]))
    weights = attention.mix_weights(model)
    for task, w in weights.items():
        assert sum(w) == pytest.approx(1.0) and all(x > 0 for x in w)
    assert weights["pos"][0] > weights["pos"][2] and weights["sentiment"][2] > weights["sentiment"][0]
    assert weights["ner"] == pytest.approx([1 / 3] * 3)  # untouched: an even mix
    # a task's mix is what its head reads: γ_t sum_j s_j h_j
    model.eval()
    batch = tagged_batch(model)
    layers = [layer[0] for layer in model.encoder(batch.texts, all_layers=True)]  # the batch's one text
    expected = sum(s * h for s, h in zip(weights["pos"], layers))
    torch.testing.assert_close(model.mix["pos"](layers), expected)
    # and each task's weights get gradients from its own loss only
    model.train()
    out = model(batch, ["pos"])["pos"]
    get_kind("tagging").loss(out, batch).backward()
    assert model.mix["pos"].weights.grad.abs().sum() > 0 and model.mix["ner"].weights.grad is None


@pytest.mark.parametrize("encoder", ["bilstm", "transformer", "pretrained"])
def test_all_layers_ends_with_the_default_output(encoder, tmp_path):
    section = {"encoder": encoder, "bilstm": {"layers": 2}}
    if encoder == "transformer":
        section["transformer"] = {"layers": 2, "d_model": 8, "attention_heads": 2, "ff_size": 16}
    if encoder == "pretrained":
        from tests.model.test_encoders import write_tiny_bert

        section["pretrained"] = {"source": str(write_tiny_bert(tmp_path / "bert"))}
    model = tiny_model("attention", **section).eval()
    batch = collate([Example(model.vocab.encode_texts([s])) for s in SENTENCES])
    layers = model.encoder(batch.texts, all_layers=True)  # [layer][text]
    assert len(layers) == model.encoder.n_layers == 2
    width = batch.texts[0].words.size(1)
    assert all(layer[0].shape == (len(SENTENCES), width, model.encoder.output_size) for layer in layers)
    assert torch.equal(layers[-1][0], model.encoder(batch.texts)[0])
    assert not torch.equal(layers[0][0], layers[1][0])
