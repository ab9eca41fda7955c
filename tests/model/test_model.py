"""Shapes, masks and prediction plumbing of the multi-task model."""

from __future__ import annotations

import pytest
import torch

from mtl.model import Example, collate, predict
from mtl.model.heads import AttentionPooler, TagScores


def batch_of(model, sentences):
    return collate([Example(*model.vocab.encode(s)) for s in sentences])


def test_shapes(model, sentences):
    batch = batch_of(model, sentences)
    B, T = len(sentences), max(map(len, sentences))
    assert batch.words.shape == (B, T) and batch.chars.shape[:2] == (B, T)
    assert batch.mask.sum().item() == sum(map(len, sentences))
    outputs = model(batch, ["pos", "ner", "sentiment", "question"])
    assert isinstance(outputs["pos"], TagScores) and outputs["pos"].emissions.shape == (B, T, 6)
    assert outputs["ner"].emissions.shape == (B, T, 5)
    assert outputs["sentiment"].shape == (B, 2)
    assert outputs["question"].shape == (B, 3)
    assert model.encoder(batch).shape == (B, T, 2 * model.config.hidden_size)


def test_padding_does_not_change_a_sentence(model, sentences):
    """A sentence alone and the same sentence padded in a batch with longer ones get the same states
    and outputs: packing, the char-CNN pooling mask and the attention mask all hide padding."""
    short = sentences[3]  # 2 tokens, beside sentences of up to 8
    alone = model(batch_of(model, [short]), ["pos", "sentiment"])
    padded = model(batch_of(model, sentences), ["pos", "sentiment"])
    n = len(short)
    torch.testing.assert_close(padded["pos"].emissions[3, :n], alone["pos"].emissions[0, :n])
    torch.testing.assert_close(padded["sentiment"][3], alone["sentiment"][0])


def test_attention_ignores_states_under_the_mask():
    torch.manual_seed(0)
    pooler = AttentionPooler(6, 3)
    states = torch.randn(2, 5, 6)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    noisy = states.clone()
    noisy[0, 3:] = 1e3
    torch.testing.assert_close(pooler(states, mask)[0], pooler(noisy, mask)[0])


def test_unknown_words_and_chars_map_to_unk(model):
    words, chars = model.vocab.encode(["the", "zzzqqq", "<pad>", "ÿ"])
    assert words[0] > 1 and words[1] == 1 and words[2] == 1  # a literal "<pad>" is not padding
    assert chars.shape == (4, 6) and chars[3, 0] == 1 and chars[3, 1] == 0


def test_predict_keeps_order_and_runs_the_encoder_once_per_batch(model, sentences):
    calls = []
    hook = model.encoder.register_forward_hook(lambda *args: calls.append(1))
    together = predict(model, sentences, batch_size=2)
    hook.remove()
    assert len(calls) == 3  # ceil(5 / 2) batches, each encoded once for all four tasks
    assert set(together) == {"pos", "ner", "sentiment", "question"}
    for i, sentence in enumerate(sentences):
        one = predict(model, [sentence])
        assert {task: preds[0] for task, preds in one.items()} == {task: preds[i] for task, preds in together.items()}
        assert len(together["pos"][i]) == len(sentence) and together["sentiment"][i] in {"0", "1"}


def test_predict_rejects_unknown_tasks_and_empty_sentences(model):
    with pytest.raises(ValueError, match="no task"):
        predict(model, [["a"]], tasks=["parsing"])
    with pytest.raises(ValueError, match="empty"):
        predict(model, [["a"], []])


def test_predict_restores_training_mode(model, sentences):
    model.train()
    predict(model, sentences)
    assert model.training
