"""int8 export (`mtl serve` and `mtl.load` take it as they take fp32): a quantized folder is data
(safetensors + JSON) that loads back exactly; the export compares every task with the fp32 model and
refuses a drop beyond the gate's max_drop unless forced with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.ao.nn.quantized import dynamic as qdynamic
from typer.testing import CliRunner

import mtl
from mtl.cli import app as cli
from mtl.export import ExportRefused, export_int8
from mtl.model import load_model, predict, save_model
from mtl.quantize import INT8_FORMAT, load_int8, quantize, read_config, save_int8
from mtl.training.data import read_labels, read_split
from tests.serve.conftest import Trained, write_params

def with_max_drop(trained: Trained, folder: Path, max_drop: float):
    """The trained model's params with every task's gate max_drop set."""
    from mtl.config import load_params

    entries = trained.params.model_dump(mode="json")["gate"]["tasks"]
    gate = {"tasks": {task: {**entries.get(task, {}), "max_drop": max_drop} for task in trained.params.tasks}}
    return load_params(write_params(trained.params, folder / "params.yaml", gate=gate))


@pytest.fixture(scope="module")
def params(trained: Trained, tmp_path_factory: pytest.TempPathFactory):
    # The tiny test split has 16 examples per task: one flipped answer moves accuracy by 0.06, so the bar
    # for "int8 kept the model" is wide here; the real gate uses 0.01.
    return with_max_drop(trained, tmp_path_factory.mktemp("int8-params"), 0.3)


def test_an_int8_folder_is_data_and_loads_back_exactly(trained: Trained, tmp_path: Path) -> None:
    fp32 = load_model(trained.model)
    int8 = quantize(fp32)
    save_int8(fp32, int8, tmp_path / "int8", {"ref": str(trained.model)})
    labels = read_labels(trained.unified / trained.params.paths.labels)
    sentences = [row["tokens"] for row in read_split(trained.unified, "test", trained.params.tasks, labels)["pos"].rows]
    loaded = load_int8(tmp_path / "int8")
    assert predict(loaded, sentences) == predict(int8, sentences)  # the stored int8 weights, bit for bit
    assert {p.suffix for p in (tmp_path / "int8").iterdir()} == {".json", ".safetensors"}
    assert read_config(tmp_path / "int8")["format"] == INT8_FORMAT
    lstms = [m for m in loaded.modules() if isinstance(m, qdynamic.LSTM)]
    linears = [m for m in loaded.modules() if isinstance(m, qdynamic.Linear)]
    assert lstms and linears and not any(isinstance(m, (torch.nn.LSTM, torch.nn.Linear)) for m in loaded.modules())
    from safetensors import safe_open

    with safe_open(tmp_path / "int8" / "model.safetensors", "pt") as stored:
        int8_weights = [name for name in stored.keys() if stored.get_tensor(name).dtype == torch.int8]
    assert len(int8_weights) == sum(len(m.get_weight()) for m in lstms) + len(linears)  # every one, int8
    with pytest.raises(ValueError, match="format"):  # ModelFileError, a ValueError
        load_model(tmp_path / "int8")  # the fp32 loader refuses it instead of misreading it
    predictor = mtl.load(tmp_path / "int8")
    assert predictor.precision == "int8" and predictor.tokenizer == "treebank"
    tokens = ["the", "cat", "sees", "a", "dog", "."]
    assert predictor.predict(["the cat sees a dog ."])[0]["pos"] == predict(int8, [tokens])["pos"][0]


def test_export_compares_every_task_and_evaluate_repeats_it(trained: Trained, params, tmp_path: Path) -> None:
    result = export_int8(params, str(trained.model), tmp_path / "int8")
    assert set(result.comparison) == {"pos", "ner", "sentiment", "question"} and not result.forced
    for row in result.comparison.values():
        low, high = row["difference"]["ci"]
        assert low <= row["difference"]["value"] <= high
        assert row["difference"]["value"] == pytest.approx(row["int8"]["value"] - row["fp32"]["value"])
    assert read_config(tmp_path / "int8")["quantization"]["source"]["comparison"] == result.comparison
    done = CliRunner().invoke(cli, ["evaluate", "--model", str(tmp_path / "int8"),
                                    "--params", str(params.root / "params.yaml")])
    assert done.exit_code == 0, done.output
    for task, row in result.comparison.items():  # same data, same seed: the same figures again
        assert f"| {task} | {row['metric']} | {row['n']} | {row['fp32']['value']:.4f} | {row['int8']['value']:.4f} " \
               f"| {row['difference']['value']:+.4f}" in done.output


def test_export_refuses_a_drop_beyond_max_drop_unless_forced_with_a_reason(trained: Trained, tmp_path: Path) -> None:
    params = with_max_drop(trained, tmp_path, 0.0)  # any drop at all refuses
    # One outlier per LSTM weight matrix: a per-tensor int8 scale then rounds every other weight to 0, the
    # known failure of naive int8, so the int8 model loses its encoder while fp32 barely notices.
    model = load_model(trained.model)
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if ".weight_" in name and weight.dim() == 2:
                weight.view(-1)[0] = 1000 * weight.abs().max()
    save_model(model, tmp_path / "outlier")
    with pytest.raises(ExportRefused, match=r"int8 loses too much: \w+ [\w_]+ -0\.\d+ \(max_drop 0.0\)") as refused:
        export_int8(params, str(tmp_path / "outlier"), tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    with pytest.raises(ExportRefused, match="--force needs --reason"):
        export_int8(params, str(tmp_path / "outlier"), tmp_path / "refused", force=True)
    forced = export_int8(params, str(tmp_path / "outlier"), tmp_path / "forced", force=True, reason="measuring it")
    override = read_config(tmp_path / "forced")["quantization"]["source"]["override"]
    assert forced.forced and override["reason"] == "measuring it" and override["dropped"]
    assert all(f"{task} " in str(refused.value) for task in override["dropped"])  # the tasks it named
    assert all(not forced.comparison[task]["ok"] for task in override["dropped"])
