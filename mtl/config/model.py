"""The model section: the shared encoder (each with its own section) and how the tasks share it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mtl.config.base import Strict



class WordsConfig(Strict):
    """The per-token input of the encoders trained from scratch (bilstm, transformer): [word ; char CNN]."""

    lowercase: bool = True  # the word vocabulary is lowercased; the char CNN still sees case
    min_count: int = Field(2, ge=1)  # rarer train words become <unk> (word dropout teaches <unk>)
    dim: int = Field(128, ge=1)  # word embedding size
    dropout: float = Field(0.05, ge=0, lt=1)  # train-time chance that a word id becomes <unk>
    char_dim: int = Field(32, ge=1)
    char_filters: int = Field(64, ge=1)  # char CNN output size per word
    char_kernel: int = Field(3, ge=1)
    max_chars: int = Field(20, ge=1)  # longer words are cut for the char CNN


class BiLSTMConfig(Strict):
    hidden_size: int = Field(192, ge=1)  # per direction: states are 2 x hidden_size wide
    layers: int = Field(2, ge=1)


class TransformerConfig(Strict):
    layers: int = Field(2, ge=1)  # pre-LN blocks
    d_model: int = Field(256, ge=1)  # state width
    attention_heads: int = Field(4, ge=1)  # must divide d_model
    ff_size: int = Field(1024, ge=1)  # the blocks' MLP width

    @model_validator(mode="after")
    def _check(self) -> TransformerConfig:
        if self.d_model % self.attention_heads:
            raise ValueError(f"d_model {self.d_model} is not a multiple of attention_heads {self.attention_heads}")
        return self


class PretrainedConfig(Strict):
    # a Hugging Face model folder (relative to params.yaml) or a hub name (the hub only when not offline)
    source: str | None = None
    subword_pooling: Literal["first", "mean"] = "first"  # a word's state: its first piece's, or its pieces' mean
    finetune: bool = False  # false: frozen, only the heads train; true: it trains too, at training.pretrained_lr


class SoftConfig(Strict):
    l2: float = Field(0.001, ge=0)  # weight of sum_t ||θ_t - mean θ||² over the task encoders


class AdversarialConfig(Strict):
    weight: float = Field(0.05, ge=0)  # λ on the task discriminator's loss (gradient reversed into the encoder)
    orthogonality: float = Field(0.01, ge=0)  # γ on ||SᵀP||²_F between shared and private word states


class ModelConfig(Strict):
    # The shared encoder (mtl/model/encoders/), each with its own section: bilstm or transformer over
    # `words` (word embeddings + char CNN), trained from scratch; or pretrained, a Hugging Face encoder.
    encoder: Literal["bilstm", "transformer", "pretrained"] = "bilstm"
    dropout: float = Field(0.25, ge=0, lt=1)  # on the inputs, between layers and on the encoder states
    # How raw text becomes tokens at prediction time (mtl/corpora/tokenize.py), recorded in the model folder:
    # treebank matches the PTB/UD tokenization of the shipped corpora ("do n't"); wordpunct gave "don ' t".
    tokenizer: Literal["whitespace", "wordpunct", "treebank"] = "treebank"
    words: WordsConfig = WordsConfig()
    bilstm: BiLSTMConfig = BiLSTMConfig()
    transformer: TransformerConfig = TransformerConfig()
    pretrained: PretrainedConfig = PretrainedConfig()
    # How the tasks share parameters (mtl/model/sharing/), each scheme with its own section where it has knobs.
    sharing: Literal["hard", "soft", "adversarial", "attention"] = "attention"
    soft: SoftConfig = SoftConfig()
    adversarial: AdversarialConfig = AdversarialConfig()

    @model_validator(mode="after")
    def _check_encoder(self) -> ModelConfig:
        if self.encoder == "pretrained" and not self.pretrained.source:
            raise ValueError("encoder pretrained needs model.pretrained.source: a model folder or a hub name")
        return self
