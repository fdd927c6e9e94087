"""The selector's token importance over leads x time, before and after adversarial removal.

For an :class:`~ecgfoundry.models.ecg_text.ECGTextModel` with a lead x time transformer encoder,
the pooling weights of one record are (SCAR, :mod:`ecgfoundry.models.selector`)::

    alpha_i = softmax_{i in Omega}(s_i + log(1 - g_i))

*Before* removal: ``g = 0`` and Omega = the observed tokens of the full view, ``h = Enc(x)``.
*After* removal: the adversarial masker reads ``h`` (eval mode, deterministic gate g), the ``rho``
fraction of observed tokens with the largest gate is removed outright (``keep_log = -inf``), the
encoder runs again without them and the selector re-weights the remaining tokens, as in the SCAR
paper's Figure 4. ``rho`` defaults to the masker's budget.

The weights and gates come from the model's own public methods, ``token_weights(signal, observed,
removed)`` and ``removal_gates(signal, observed)``; the cosine between the embeddings before and
after removal uses ``encode_ecg`` and the encoder / pooling / projection pieces. A model without a
selector gets the weights of its masked-mean pooling (uniform over the visible tokens); a model
without an adversarial masker has no "after" map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["TokenImportance", "token_importance", "top_fraction"]


@dataclass
class TokenImportance:
    """Token weights of one record on the lead x time grid.

    Attributes
    ----------
    before : ndarray of shape (L, P)
        alpha over the full view (rows: leads, columns: time patches); sums to 1 over the grid.
    after : ndarray of shape (L, P) or None
        alpha after the top-``rho`` tokens by gate were removed (None without an adversarial masker).
    removed : ndarray of shape (L, P), bool
        Tokens removed for ``after``.
    gate : ndarray of shape (L, P) or None
        The masker's inference gate g.
    token_observed : ndarray of shape (L, P), bool
    patch_seconds : float
        Duration of one time patch, seconds.
    rho : float
        Fraction of observed tokens removed.
    cosine : float
        Cosine similarity of the projected embeddings before and after removal (nan without ``after``).
    pooling : str
        ``"selector"`` or ``"mean"`` (a masked mean: uniform weights).
    """

    before: np.ndarray
    after: np.ndarray | None
    removed: np.ndarray
    gate: np.ndarray | None
    token_observed: np.ndarray
    patch_seconds: float
    rho: float
    cosine: float
    pooling: str


def top_fraction(scores, token_observed, rho: float):
    """Bool mask (N, M): the top ``rho`` of each record's observed tokens by score, chosen exactly as
    the evaluation's masker attack chooses them (:func:`ecgfoundry.eval.masker_attack.top_fraction`)."""
    import torch

    from ecgfoundry.eval.masker_attack import top_fraction as _top

    scores = torch.as_tensor(scores, dtype=torch.float32)
    obs = torch.as_tensor(token_observed, dtype=torch.bool)
    return torch.from_numpy(_top(scores.numpy(), obs.numpy(), rho))


def _removed_embedding(model, x, m, removed):
    """L2-normalised embedding of the record with the ``removed`` tokens taken out (N, E)."""
    import torch
    import torch.nn.functional as F

    tokens, tobs = model.encoder.embed_tokens(x, m)
    keep_log = torch.zeros(tobs.shape, dtype=tokens.dtype).masked_fill(removed & tobs, float("-inf"))
    h = model.encoder.encode_tokens(tokens, tobs, keep_log)
    return F.normalize(model.ecg_proj(model.pool(h, tobs, keep_log)), dim=-1)


def token_importance(model, signal, observed, rho: float | None = None) -> TokenImportance:
    """Selector weights of one record before and after adversarial removal (see module docstring).

    Parameters
    ----------
    model : ECGTextModel
        With a lead x time transformer encoder (``encoder.cfg.kind == "transformer"``).
    signal : array of shape (12, T) or (1, 12, T), float, mV
    observed : array of the same shape, bool
    rho : float in [0, 1), optional
        Fraction of observed tokens to remove; default the masker's budget (0.3 without a masker).

    Returns
    -------
    TokenImportance

    Examples
    --------
    >>> from ecgfoundry.models.config import TextConfig
    >>> from ecgfoundry.models.registry import create_model
    >>> m = create_model("scar", encoder="transformer-tiny", text=TextConfig(kind="hashing"))
    >>> ti = token_importance(m, np.zeros((12, 1000), np.float32), np.ones((12, 1000), bool))
    >>> ti.before.shape, round(float(ti.before.sum()), 4), int(ti.removed.sum())
    ((12, 20), 1.0, 72)
    """
    import torch

    enc = model.encoder
    if getattr(enc.cfg, "kind", None) != "transformer":
        raise ValueError(f"token importance needs lead x time tokens (a transformer encoder), "
                         f"got a {getattr(enc.cfg, 'kind', type(enc).__name__)} encoder")
    x = torch.as_tensor(np.asarray(signal, dtype=np.float32))
    m = torch.as_tensor(np.asarray(observed, dtype=bool))
    if x.ndim == 2:
        x, m = x[None], m[None]
    if x.ndim != 3 or x.shape[0] != 1 or tuple(m.shape) != tuple(x.shape):
        raise ValueError(f"one record of shape (12, T) expected, got signal {tuple(x.shape)}, "
                         f"observed {tuple(m.shape)}")
    masker = getattr(model, "masker", None)
    adversarial = bool(getattr(model, "has_adversary", False))
    if rho is None:
        rho = float(masker.budget) if masker is not None and hasattr(masker, "budget") else 0.3
    pooling = "selector" if getattr(model, "selector", None) is not None else "mean"
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            alpha = model.token_weights(x, m)
            tobs = enc.embed_tokens(x, m)[1]
            gate = after = None
            removed = torch.zeros_like(tobs)
            cosine = math.nan
            if adversarial:
                gate, tobs = model.removal_gates(x, m)
                removed = top_fraction(gate, tobs, rho)
                after = model.token_weights(x, m, removed)
                cosine = float((model.encode_ecg(x, m) * _removed_embedding(model, x, m, removed)).sum())
    finally:
        model.train(was_training)
    n_leads = int(enc.cfg.n_leads)

    def grid(t):
        return None if t is None else t[0].reshape(n_leads, -1).cpu().numpy()

    return TokenImportance(before=grid(alpha).astype(np.float64),
                           after=None if after is None else grid(after).astype(np.float64),
                           removed=grid(removed).astype(bool), gate=grid(gate),
                           token_observed=grid(tobs).astype(bool),
                           patch_seconds=float(enc.cfg.patch_size) / float(enc.cfg.fs), rho=float(rho),
                           cosine=cosine, pooling=pooling)
