"""The CRF against brute force over every tag sequence of a tiny case."""

from __future__ import annotations

import itertools

import torch

from mtl.tasks.crf import CRF


def tiny_crf_case(seed: int = 0):
    torch.manual_seed(seed)
    crf = CRF(3)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    emissions = torch.randn(3, 4, 3)  # B=3 sentences of up to T=4 tokens, L=3 tags
    lengths = torch.tensor([4, 2, 1])
    mask = torch.arange(4).unsqueeze(0) < lengths.unsqueeze(1)
    return crf, emissions, lengths, mask


def all_paths(crf, emissions, mask, b, n):
    """(path, score) of every tag sequence of sentence b, its padding filled with tag 0."""
    for path in itertools.product(range(3), repeat=n):
        tags = torch.tensor([list(path) + [0] * (emissions.size(1) - n)])
        yield list(path), crf.score(emissions[b : b + 1], tags, mask[b : b + 1]).item()


def test_viterbi_matches_brute_force():
    crf, emissions, lengths, mask = tiny_crf_case()
    decoded = crf.viterbi(emissions, mask)
    for b, n in enumerate(lengths.tolist()):
        best_path, _ = max(all_paths(crf, emissions, mask, b, n), key=lambda x: x[1])
        assert decoded[b] == best_path


def test_log_partition_matches_brute_force():
    crf, emissions, lengths, mask = tiny_crf_case(seed=1)
    log_z = crf.log_partition(emissions, mask)
    for b, n in enumerate(lengths.tolist()):
        scores = torch.tensor([s for _, s in all_paths(crf, emissions, mask, b, n)])
        torch.testing.assert_close(log_z[b], torch.logsumexp(scores, dim=0))


def test_nll_is_positive_and_trains():
    crf, emissions, _, mask = tiny_crf_case(seed=2)
    emissions.requires_grad_(True)
    tags = torch.tensor([[0, 1, 2, 1], [2, 2, 0, 0], [1, 0, 0, 0]])
    optimizer = torch.optim.SGD([emissions, *crf.parameters()], lr=0.5)
    first = None
    for _ in range(30):
        loss = crf.nll(emissions, tags, mask).sum()
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert 0 < loss.item() < first / 4
    assert crf.viterbi(emissions, mask) == [[0, 1, 2, 1], [2, 2], [1]]
