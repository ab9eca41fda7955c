"""A linear-chain CRF over tags: negative log-likelihood by the forward algorithm, decoding by Viterbi.

Both are vectorised over the batch and the tag pairs; only the time steps are a Python loop. Masks are
prefixes (a sentence's real tokens come first), which is what the padded batches hold.
"""

from __future__ import annotations

import torch
from torch import nn


class CRF(nn.Module):
    def __init__(self, n_tags: int) -> None:
        super().__init__()
        self.transitions = nn.Parameter(torch.zeros(n_tags, n_tags))  # [i, j]: tag i followed by tag j
        self.start = nn.Parameter(torch.zeros(n_tags))  # score of a sentence opening with each tag
        self.end = nn.Parameter(torch.zeros(n_tags))  # score of a sentence closing with each tag

    def score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Unnormalised score of the given tag sequences: (B, T, L), (B, T), (B, T) -> (B,)."""
        maskf = mask.to(emissions.dtype)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, T)
        moved = self.transitions[tags[:, :-1], tags[:, 1:]]  # (B, T-1)
        last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)  # (B,)
        return (
            self.start[tags[:, 0]]
            + (emitted * maskf).sum(1)
            + (moved * maskf[:, 1:]).sum(1)
            + self.end[last]
        )

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log of the summed exp-scores of every tag sequence: (B, T, L), (B, T) -> (B,)."""
        alpha = self.start + emissions[:, 0]  # (B, L)
        for t in range(1, emissions.size(1)):
            # (B, L, 1) + (L, L) + (B, 1, L) -> logsumexp over the previous tag -> (B, L)
            step = torch.logsumexp(alpha.unsqueeze(2) + self.transitions + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)  # padding carries alpha through
        return torch.logsumexp(alpha + self.end, dim=1)

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood per sentence (B,). Padded positions of tags may hold any valid id."""
        return self.log_partition(emissions, mask) - self.score(emissions, tags, mask)

    @torch.no_grad()
    def viterbi(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """The best tag sequence of each sentence, each as long as the sentence."""
        score = self.start + emissions[:, 0]  # (B, L)
        backpointers = []
        for t in range(1, emissions.size(1)):
            best, previous = (score.unsqueeze(2) + self.transitions).max(dim=1)  # (B, L): best previous tag
            score = torch.where(mask[:, t].unsqueeze(1), best + emissions[:, t], score)
            backpointers.append(previous)
        last = (score + self.end).argmax(dim=1).tolist()  # (B,)
        history = torch.stack(backpointers).transpose(0, 1).tolist() if backpointers else []  # (B, T-1, L)
        paths = []
        for b, length in enumerate(mask.sum(1).tolist()):
            path = [last[b]]
            for t in range(length - 2, -1, -1):  # history[b][t] points from position t+1 back to t
                path.append(history[b][t][path[-1]])
            paths.append(path[::-1])
        return paths
