"""The registry of shared encoders: params' model.encoder -> module.

Every encoder maps a Batch to one state per word, (B, T, H), under the batch's word mask (B, T): a
pretrained encoder pools its sub-word pieces back to words, so the heads, losses and decoding never
know which encoder ran. An encoder module exposes

    prepare(model_cfg, vocab, root) -> (vocab, options)
        the vocabulary sentences are encoded with (the word vocabulary built from train, or a pretrained
        model's tokenizer) and the encoder's own settings, saved in config.json as encoder_options;
        root is the folder relative paths in params.yaml are relative to
    build(config, *, fresh) -> nn.Module with .output_size (H) and forward(batch) -> (B, T, H); also
        .n_layers and forward(batch, all_layers=True) -> a list of n_layers (B, T, H), every layer's
        states, the last one the default output (the attention sharing scheme mixes them)
        fresh=True: a new encoder (a pretrained one with its published weights); False: the shape only,
        which load_model then fills from model.safetensors
    load_vocab(folder) -> the vocabulary that vocab.save(folder / "vocab.json") wrote

A new encoder is one module plus one line here. Only the pretrained one imports transformers, and only
when it is built or loaded.
"""

from types import ModuleType

from mtl.model.encoders import bilstm, pretrained, transformer

ENCODERS: dict[str, ModuleType] = {
    "bilstm": bilstm,
    "transformer": transformer,
    "pretrained": pretrained,
}


def get_encoder(name: str) -> ModuleType:
    try:
        return ENCODERS[name]
    except KeyError:
        raise ValueError(f"unknown encoder {name!r}; known: {sorted(ENCODERS)}") from None
