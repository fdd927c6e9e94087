"""Adaptive selector pooling f_sel (SCAR) and the masked softmax pooling it is built on.

The selector scores every token and pools with a softmax restricted to Omega_m, the tokens that are
observed in the input and not removed by the masker:

    alpha_i = (1 - g_i) exp(s_i) / sum_{j observed} (1 - g_j) exp(s_j),     z(m) = sum_i alpha_i h_i

i.e. a softmax over ``s_i + log(1 - g_i)`` (``keep_log = log(1 - g)``, see
:mod:`ecgfoundry.models.masker`). Soft gates down-weight a token smoothly (so the masker gets a
gradient through the pooling); a token with ``g = 1`` (``keep_log = -inf``, e.g. removed by the
random masker) or an unobserved token gets exactly zero weight, so its features cannot change z.

Empty Omega_m: a record with no observed, un-removed token pools to the zero vector (finite, no
NaN, zero gradient). The random masker never removes the last observed token of a record, so this
only happens for records without any observed token.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["masked_softmax_weights", "masked_softmax_pool", "Selector"]


def masked_softmax_weights(token_observed: Tensor, scores: Tensor | None = None,
                           keep_log: Tensor | None = None) -> Tensor:
    """Pooling weights ``alpha`` (N, M): softmax of ``scores + keep_log`` over Omega_m.

    Parameters
    ----------
    token_observed : Tensor of shape (N, M), bool
    scores : Tensor of shape (N, M) or None
        Token scores; None means equal scores (a masked mean, weighted by ``1 - g``).
    keep_log : Tensor of shape (N, M) or None
        ``log(1 - g)``; ``-inf`` removes a token.

    Returns
    -------
    Tensor of shape (N, M)
        Rows sum to 1, or are all zero when Omega_m is empty.
    """
    valid = token_observed.to(torch.bool)
    if scores is None:
        logits = torch.zeros(valid.shape, device=valid.device,
                             dtype=keep_log.dtype if keep_log is not None else torch.float32)
    else:
        logits = scores
    if keep_log is not None:
        logits = logits + keep_log
        valid = valid & (keep_log > float("-inf"))
    logits = logits.masked_fill(~valid, float("-inf"))
    empty = ~valid.any(dim=-1, keepdim=True)
    logits = logits.masked_fill(empty, 0.0)
    return torch.softmax(logits, dim=-1) * (~empty).to(logits.dtype)


def masked_softmax_pool(tokens: Tensor, token_observed: Tensor, scores: Tensor | None = None,
                        keep_log: Tensor | None = None) -> Tensor:
    """``sum_i alpha_i tokens_i`` with :func:`masked_softmax_weights`; (N, M, D) -> (N, D)."""
    alpha = masked_softmax_weights(token_observed, scores, keep_log)
    return torch.einsum("nm,nmd->nd", alpha.to(tokens.dtype), tokens)


class Selector(nn.Module):
    """f_sel: an MLP scores each token; softmax pooling over Omega_m (see module docstring).

    Parameters
    ----------
    dim : int
        Token width D.
    hidden : int
        Hidden width of the scoring MLP.
    """

    def __init__(self, dim: int, hidden: int = 128):
        super().__init__()
        self.score = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def scores(self, tokens: Tensor) -> Tensor:
        """Token scores s (N, M)."""
        return self.score(tokens).squeeze(-1)

    def weights(self, tokens: Tensor, token_observed: Tensor, keep_log: Tensor | None = None) -> Tensor:
        """Pooling weights alpha (N, M)."""
        return masked_softmax_weights(token_observed, self.scores(tokens), keep_log)

    def forward(self, tokens: Tensor, token_observed: Tensor, keep_log: Tensor | None = None) -> Tensor:
        """Pool ``tokens`` (N, M, D) into z (N, D)."""
        return masked_softmax_pool(tokens, token_observed, self.scores(tokens), keep_log)
