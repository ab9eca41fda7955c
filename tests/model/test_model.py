"""Shapes, masks and prediction plumbing of the multi-task model."""

from __future__ import annotations

import pytest
import torch

from mtl.model import Example, collate, predict
from mtl.tasks.layers import AttentionPool, TagScores
from tests.model.conftest import PAIRS, tiny_model


def batch_of(model, inputs):
    """A batch of single texts (token lists) or of pairs (tuples of two)."""
    return collate([Example(model.vocab.encode_texts(list(x) if isinstance(x, tuple) else [x])) for x in inputs])


def test_shapes(model, sentences):
    batch = batch_of(model, sentences)
    B, T = len(sentences), max(map(len, sentences))
    text = batch.texts[0]
    assert len(batch.texts) == 1 and text.words.shape == (B, T) and text.chars.shape[:2] == (B, T)
    assert text.mask.sum().item() == sum(map(len, sentences))
    outputs = model(batch, ["pos", "ner", "sentiment", "question"])
    assert isinstance(outputs["pos"], TagScores) and outputs["pos"].emissions.shape == (B, T, 6)
    assert outputs["ner"].emissions.shape == (B, T, 5)
    assert outputs["sentiment"].shape == (B, 2)
    assert outputs["question"].shape == (B, 3)
    [states] = model.encoder(batch.texts)
    assert states.shape == (B, T, 2 * model.config.encoder_options["hidden_size"])


def test_a_pair_is_two_padded_texts_encoded_in_one_pass_as_if_alone():
    """Both texts of a pair go through the shared encoder in one call (stacked along the batch), and each
    text's states equal those of the same text encoded on its own."""
    model = tiny_model(pairs=True)
    batch = batch_of(model, PAIRS)
    assert [text.words.shape for text in batch.texts] == [(2, 3), (2, 5)]
    calls = []
    hook = model.encoder.register_forward_hook(lambda *args: calls.append(1))
    outputs = model(batch, ["entailment", "relatedness"])
    hook.remove()
    assert len(calls) == 1 and outputs["entailment"].shape == (2, 3) and outputs["relatedness"].shape == (2, 1)
    first, second = model.encoder(batch.texts)
    alone = model.encoder(batch_of(model, [b for _, b in PAIRS]).texts)[0]
    torch.testing.assert_close(second, alone)  # 1e-5-level float noise at most: the same ops, other batch rows
    assert first.shape[:2] == (2, 3) and second.shape[:2] == (2, 5)


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
    pooler = AttentionPool(6)
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
    for bad in ("", " ", None, 3):
        with pytest.raises(ValueError, match=r"inputs \[1\] hold a token that is not text or is empty or blank"):
            predict(model, [["a"], ["b", bad]])


def test_predict_restores_training_mode(model, sentences):
    model.train()
    predict(model, sentences)
    assert model.training


def test_predict_answers_each_input_with_the_tasks_that_read_its_number_of_texts(sentences):
    model = tiny_model(pairs=True)
    out = predict(model, [sentences[0], PAIRS[0], sentences[1], PAIRS[1]])
    assert [out["pos"][i] is None for i in range(4)] == [False, True, False, True]
    assert [out["entailment"][i] is None for i in range(4)] == [True, False, True, False]
    assert out["entailment"][1] in {"ENTAILMENT", "NEUTRAL", "CONTRADICTION"}
    assert all(1.0 <= out["relatedness"][i] <= 5.0 for i in (1, 3))  # the head squashes into the range
    assert predict(model, [PAIRS[1], PAIRS[0]])["relatedness"] == [out["relatedness"][3], out["relatedness"][1]]
