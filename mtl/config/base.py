"""What every section of the configuration shares: the strict model base, the splits, the error types."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from mtl.errors import MtlError

Split = Literal["train", "dev", "test"]
SPLITS: tuple[Split, ...] = ("train", "dev", "test")
CheckAction = Literal["fail", "warn", "off"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeyedError(ValueError):
    """A validation error inside a nested mapping validated by hand (reader options): `path` is where in it."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(f"{'.'.join(map(str, path))}: {message}")  # readable where pydantic shows it raw
        self.path, self.message = path, message


class ConfigError(MtlError):
    """params.yaml is missing, unreadable or invalid; the message names the file and the key."""
