"""SCAR's adversarial masker used as a test-time attack, at its budget rho.

The trained masker scores every lead x time token of the full view; the attack removes, in each
record, the ``floor(rho x n_observed_tokens + 1/2)`` tokens with the largest gate, and the removal is written
back onto the signal grid (the token's samples are zeroed and marked unobserved), so the attacked
records can be fed to *any* model: the SCAR model the masker came from (a white-box attack on its own
blind spots) or another model with the same input format (a transfer attack). The control is the
same number of tokens removed uniformly at random per record.

Token geometry is that of :func:`ecgfoundry.models.tokenizer.patchify`: token ``i`` is lead
``i // n_time``, time patch ``i % n_time``, samples ``[t * patch_size, (t + 1) * patch_size)``.
"""

from __future__ import annotations

import numpy as np
import torch

from ecgfoundry.models.tokenizer import n_time_patches

__all__ = ["token_removal_to_signal", "removal_count", "top_fraction", "masker_removal", "random_token_removal",
           "masker_attack_unsupported"]


def token_removal_to_signal(remove_tokens: np.ndarray, n_leads: int, n_samples: int, patch_size: int) -> np.ndarray:
    """Token removal (N, n_leads * n_time) bool -> sample removal (N, n_leads, n_samples) bool."""
    remove_tokens = np.asarray(remove_tokens, dtype=bool)
    n_time = n_time_patches(n_samples, patch_size)
    if remove_tokens.shape[1] != n_leads * n_time:
        raise ValueError(f"{remove_tokens.shape[1]} tokens, expected {n_leads} leads x {n_time} time patches")
    grid = remove_tokens.reshape(len(remove_tokens), n_leads, n_time)
    return np.repeat(grid, patch_size, axis=2)[:, :, :n_samples]


def removal_count(n_observed, rho: float):
    """How many of ``n_observed`` tokens "the top ``rho``" removes: ``floor(rho x n_observed + 1/2)``
    (halves round up, so n = 5, rho = 0.5 removes 3), never all of them (at most ``n_observed - 1``).

    The one rule for every top-rho removal in the toolkit (the masker attack, the report's importance
    map, the known-answer benchmark's removals and its greedy maximiser). Takes an int or an integer
    array; returns the same kind.
    """
    if not 0 <= rho < 1:
        raise ValueError(f"rho must be in [0, 1), got {rho}")
    n = np.asarray(n_observed)
    k = np.minimum(np.floor(rho * n + 0.5).astype(int), np.maximum(n - 1, 0))
    return int(k) if k.ndim == 0 else k


def top_fraction(scores: np.ndarray, token_observed: np.ndarray, budget: float) -> np.ndarray:
    """Per record, the :func:`removal_count` ``(n_observed, budget)`` observed tokens with the largest
    score (ties in token order). Shared by the attack, the report's token-importance map and the
    known-answer benchmark, so all remove the same tokens."""
    scores = np.asarray(scores, dtype=np.float64)
    token_observed = np.asarray(token_observed, dtype=bool)
    k = removal_count(token_observed.sum(1), budget)
    order = np.argsort(-np.where(token_observed, scores, -np.inf), axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(scores.shape[1])[None, :].repeat(len(scores), 0), axis=1)
    return (ranks < np.asarray(k)[:, None]) & token_observed


def masker_attack_unsupported(model) -> str | None:
    """Why ``model``'s masker cannot attack (no adversarial masker; tokens that are not lead x time
    patches, e.g. a conv encoder's time steps, which have no place on the signal grid), or None."""
    if not getattr(model, "has_adversary", False):
        return "the model has no adversarial masker (a SCAR checkpoint has one)"
    kind = model.cfg.encoder.kind
    if kind != "transformer":
        return (f"the masker attack needs a lead x time token encoder (transformer); this masker gates the "
                f"time steps of a {kind!r} encoder, which do not map onto the signal grid")
    return None


def _patch_size(model) -> int:
    why = masker_attack_unsupported(model)
    if why is not None:
        raise ValueError(why)
    return int(model.cfg.encoder.patch_size)


def _removal(model, signal, observed, budget: float, token_scores, batch_size: int) -> np.ndarray:
    """Samples (N, 12, T) removed when the top ``budget`` of each record's observed tokens by
    ``token_scores(x, o) -> (scores (n, M), token_observed (n, M))`` are taken out."""
    patch = _patch_size(model)
    out = []
    with torch.no_grad():
        for a in range(0, len(signal), batch_size):
            x = torch.as_tensor(np.asarray(signal[a:a + batch_size], dtype=np.float32))
            o = torch.as_tensor(np.asarray(observed[a:a + batch_size], dtype=bool))
            scores, tobs = token_scores(x, o)
            out.append(top_fraction(scores, tobs, budget))
    tokens = np.concatenate(out)
    return token_removal_to_signal(tokens, signal.shape[1], signal.shape[2], patch) & np.asarray(observed, bool)


def masker_removal(model, signal, observed, budget: float | None = None, batch_size: int = 128) -> np.ndarray:
    """Samples (N, 12, T) bool that ``model``'s adversarial masker removes at ``budget`` (default: its rho)."""
    rho = float(model.cfg.masker.budget if budget is None else budget)
    if not 0 < rho < 1:
        raise ValueError(f"budget must be in (0, 1), got {rho}")
    model.eval()

    def gates(x, o):
        gate, tobs = model.removal_gates(x, o)
        return gate.float().numpy(), tobs.numpy()

    return _removal(model, signal, observed, rho, gates, batch_size)


def random_token_removal(model, signal, observed, budget: float, seed: int = 0, batch_size: int = 128) -> np.ndarray:
    """The control: as many observed tokens per record as :func:`masker_removal`, chosen at random."""
    rng = np.random.default_rng(seed)

    def draws(x, o):
        tobs = model.encoder.embed_tokens(x, o)[1].numpy()
        return rng.random(tobs.shape), tobs

    return _removal(model, signal, observed, budget, draws, batch_size)
