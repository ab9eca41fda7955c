"""int8 models: dynamic quantization of the Linear and LSTM layers, saved as data (safetensors + JSON).

Why torch's dynamic quantization (torch.ao.quantization.quantize_dynamic) and not torchao: the default
encoder is a BiLSTM, and its LSTM layers hold most of the weights and nearly all of the multiply-adds
(the LSTM's input and recurrent GEMMs at every time step; the heads' Linear layers are small). torchao's
int8 configs rewrite nn.Linear only, so they leave the LSTM, the part that costs, in fp32; quantize_dynamic
replaces nn.LSTM too (int8 weights, activations quantized per call, fbgemm/x86 int8 GEMMs). torch marks
torch.ao.quantization deprecated in favour of torchao, which has no LSTM path yet: the warning is
silenced here and nothing else of torch.ao is used, so the day it goes, only quantize() changes.
Quantized kernels run on CPU; an int8 model is a CPU model.

A quantized module holds packed weights (torchbind objects) that safetensors cannot store and that torch
would otherwise pickle. So the folder stores, per quantized weight, its int8 values and its per-tensor
scale and zero point; biases and every other layer (embeddings, char CNN, CRF, layer mixes) as float
tensors. Loading builds the model's fp32 shape, fills it with the dequantized weights (a strict load: no
tensor missing or left over), quantizes it, and then sets every quantized module's packed weights from the
stored int8 values exactly, so the loaded model computes what the exported one did, bit for bit.

    model.safetensors   <module>.<weight>.q_int8 / .q_scale / .q_zero_point for quantized weights; the rest as is
    config.json         as for fp32 (mtl/model/io.py) with format INT8_FORMAT and "quantization"
    vocab.json, labels.json (and a pretrained encoder's tokenizer files) as for fp32
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn
from torch.ao.nn.quantized import dynamic as qdynamic

from mtl.model.encoders import get_encoder
from mtl.model.io import ModelFileError, load_model, load_weights, read_json, save_model, write_json
from mtl.model.model import MultiTaskModel
from mtl.model.spec import MultiTaskConfig
from mtl.model.predict import Predictor

INT8_FORMAT = "int8-dynamic/1"  # config.json's format: load_model refuses it, load_int8 expects it
QUANTIZED_LAYERS = {nn.Linear, nn.LSTM}
SUFFIXES = (".q_int8", ".q_scale", ".q_zero_point")


def quantize(model: MultiTaskModel) -> MultiTaskModel:
    """A copy of the model with int8 Linear and LSTM layers (dynamic quantization), in eval mode."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*deprecated.*")  # see the module docstring
        return torch.ao.quantization.quantize_dynamic(model.eval(), QUANTIZED_LAYERS, dtype=torch.qint8, inplace=False)


def _quantized_modules(model: nn.Module) -> dict[str, nn.Module]:
    return {name: module for name, module in model.named_modules()
            if isinstance(module, (qdynamic.Linear, qdynamic.LSTM))}


def _weights_and_biases(module: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """A quantized module's ({name: int8 weight}, {name: float bias}) under the float module's names."""
    if isinstance(module, qdynamic.LSTM):
        return module.get_weight(), module.get_bias()
    return {"weight": module.weight()}, {"bias": module.bias()}


def int8_state(model: MultiTaskModel) -> dict[str, torch.Tensor]:
    """Every tensor of a quantized model as plain tensors, for safetensors."""
    quantized = _quantized_modules(model)
    state = {name: tensor for name, tensor in model.state_dict().items()
             if isinstance(tensor, torch.Tensor) and not any(name.startswith(q + ".") for q in quantized)}
    for prefix, module in quantized.items():
        weights, biases = _weights_and_biases(module)
        for name, weight in weights.items():
            if weight.qscheme() not in (torch.per_tensor_affine, torch.per_tensor_symmetric):
                raise ValueError(f"{prefix}.{name}: {weight.qscheme()} is not stored; per-tensor only")
            state[f"{prefix}.{name}.q_int8"] = weight.int_repr()
            state[f"{prefix}.{name}.q_scale"] = torch.tensor(weight.q_scale(), dtype=torch.float64)
            state[f"{prefix}.{name}.q_zero_point"] = torch.tensor(weight.q_zero_point(), dtype=torch.int64)
        state.update({f"{prefix}.{name}": bias.detach() for name, bias in biases.items() if bias is not None})
    return {name: tensor.detach().contiguous() for name, tensor in state.items()}


def save_int8(fp32: MultiTaskModel, int8: MultiTaskModel, folder: str | Path, source: dict[str, Any]) -> None:
    """Write the quantized model: fp32's folder layout (config, vocabularies, labels, tokenizer), int8 weights.

    source: where the fp32 model came from ({"ref", "weights_sha256", ...}), kept in config.json."""
    folder = Path(folder)
    save_model(fp32, folder)  # config.json, vocab.json, labels.json, tokenizer files; weights replaced below
    save_file(int8_state(int8), folder / "model.safetensors", metadata={"format": INT8_FORMAT})
    config = read_config(folder)
    config["format"] = INT8_FORMAT
    config["quantization"] = {"method": "dynamic", "dtype": "qint8",
                              "layers": sorted(t.__name__ for t in QUANTIZED_LAYERS),
                              "engine": torch.backends.quantized.engine, "source": source}
    write_json(folder / "config.json", config)


def read_config(folder: str | Path) -> dict[str, Any]:
    return read_json(Path(folder) / "config.json")


def is_int8(folder: str | Path) -> bool:
    return read_config(folder).get("format") == INT8_FORMAT


def load_int8(folder: str | Path) -> MultiTaskModel:
    """The quantized model saved in folder, exactly as exported (on the CPU: quantized kernels are CPU ones)."""
    folder = Path(folder)
    config = read_config(folder)
    if config.get("format") != INT8_FORMAT:
        raise ModelFileError(f"{folder / 'config.json'}: model format {config.get('format')!r}, "
                             f"expected {INT8_FORMAT!r}")
    try:
        model_config = MultiTaskConfig.from_json(config["model"])
        shell = MultiTaskModel(model_config, get_encoder(model_config.encoder).load_vocab(folder), config.get("params"))
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{folder}: not an int8 model folder ({error})") from None
    stored = load_weights(folder / "model.safetensors")
    floats = {name: tensor for name, tensor in stored.items() if not name.endswith(SUFFIXES)}
    try:
        for name in (n[: -len(".q_int8")] for n in stored if n.endswith(".q_int8")):
            scale, zero_point = stored[f"{name}.q_scale"].item(), stored[f"{name}.q_zero_point"].item()
            floats[name] = ((stored[f"{name}.q_int8"].double() - zero_point) * scale).float()
        shell.load_state_dict(floats, strict=True)  # every weight present, none left over
        model = quantize(shell)
        for prefix, module in _quantized_modules(model).items():
            _set_int8_weights(module, prefix, stored, floats)
    except (KeyError, RuntimeError, ValueError) as error:
        raise ModelFileError(f"{folder / 'model.safetensors'}: the int8 weights do not fit config.json "
                             f"({str(error).splitlines()[0]})") from None
    return model.eval()


def _set_int8_weights(module: nn.Module, prefix: str, stored: dict, floats: dict) -> None:
    """Replace the weights quantize() just computed with the stored int8 ones (re-quantizing the
    dequantized values could pick a slightly different scale)."""
    weights, biases = _weights_and_biases(module)
    exact = {}
    for name in weights:
        key = f"{prefix}.{name}"
        scale, zero_point = stored[f"{key}.q_scale"].item(), stored[f"{key}.q_zero_point"].item()
        weight = torch.quantize_per_tensor(floats[key], scale, zero_point, torch.qint8)
        if not torch.equal(weight.int_repr(), stored[f"{key}.q_int8"]):
            raise ValueError(f"{key}: the stored int8 weights do not round-trip")
        exact[name] = weight
    bias = {name: floats[f"{prefix}.{name}"] for name in biases if f"{prefix}.{name}" in floats}
    if isinstance(module, qdynamic.LSTM):
        module.set_weight_bias({**exact, **bias})
    else:
        module.set_weight_bias(exact["weight"], bias.get("bias"))


def load_any_model(folder: str | Path) -> tuple[MultiTaskModel, str]:
    """(model, precision) for an fp32 or an int8 model folder."""
    return (load_int8(folder), "int8") if is_int8(folder) else (load_model(folder), "fp32")


def load_predictor(folder: str | Path) -> Predictor:
    """A Predictor for an fp32 or int8 model folder, with the tokenizer the folder records."""
    model, precision = load_any_model(folder)
    return Predictor(model, precision=precision)
