"""The selector's token importance over leads x time, before and after adversarial removal.

For an :class:`~ecgfoundry.models.ecg_text.ECGTextModel` with a lead x time transformer encoder,
the pooling weights of one record are (SCAR, :mod:`ecgfoundry.models.selector`)::

    alpha_i = softmax_{i in Omega}(s_i + log(1 - g_i))

*Before* removal: ``g = 0`` and Omega = the observed tokens of the full view, ``h = Enc(x)``.
*After* removal: the adversarial masker reads ``h`` (eval mode, deterministic gate g), the ``rho``
fraction of observed tokens with the largest gate is removed outright (``keep_log = -inf``), the
encoder runs again without them and the selector re-weights the remaining tokens, as in the SCAR
paper's Figure 4. ``rho`` defaults to the masker's budget.

Only public pieces of the model are used (``encoder.embed_tokens``, ``encoder.encode_tokens``,
``selector.weights``, ``masker(tokens, token_observed)``, ``ecg_proj``). A model without a selector
gets the weights of its own pooling when that is a masked mean (uniform over Omega); a model
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
    """Bool mask (N, M): the ``round(rho * n_observed)`` observed tokens with the largest score
    per record (at least one kept when a record has more than one observed token)."""
    import torch

    scores = torch.as_tensor(scores, dtype=torch.float32)
    obs = torch.as_tensor(token_observed, dtype=torch.bool)
    if not 0 <= rho < 1:
        raise ValueError(f"rho must be in [0, 1), got {rho}")
    out = torch.zeros_like(obs)
    ranked = scores.masked_fill(~obs, float("-inf")).argsort(dim=-1, descending=True)
    for n in range(obs.shape[0]):
        n_obs = int(obs[n].sum())
        k = min(int(round(rho * n_obs)), max(n_obs - 1, 0))
        out[n, ranked[n, :k]] = True
    return out


def _pool_weights(model, h, tobs, keep_log=None):
    """alpha (N, M) of the model's pooling; raises for poolings that are not softmax weights."""
    from ecgfoundry.models.selector import masked_softmax_weights

    if getattr(model, "selector", None) is not None:
        return model.selector.weights(h, tobs, keep_log), "selector"
    if getattr(model.encoder.cfg, "kind", None) == "transformer":  # masked mean pooling
        return masked_softmax_weights(tobs, None, keep_log), "mean"
    raise ValueError("token importance needs a selector or a masked-mean pooling encoder")


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
    import torch.nn.functional as F

    from ecgfoundry.models.masker import AdversarialMasker

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
    adversarial = isinstance(masker, AdversarialMasker)
    if rho is None:
        rho = float(masker.budget) if masker is not None and hasattr(masker, "budget") else 0.3
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            tokens, tobs = enc.embed_tokens(x, m)
            h = enc.encode_tokens(tokens, tobs)
            alpha, pooling = _pool_weights(model, h, tobs)
            z = F.normalize(model.ecg_proj(torch.einsum("nm,nmd->nd", alpha, h)), dim=-1)
            gate = after = None
            removed = torch.zeros_like(tobs)
            cosine = math.nan
            if adversarial:
                out = masker(h, tobs)
                gate = out.gate
                removed = top_fraction(gate, tobs, rho)
                keep_log = torch.zeros_like(gate).masked_fill(removed, float("-inf"))
                h_hat = enc.encode_tokens(tokens, tobs, keep_log)
                after, _ = _pool_weights(model, h_hat, tobs, keep_log)
                z_hat = F.normalize(model.ecg_proj(torch.einsum("nm,nmd->nd", after, h_hat)), dim=-1)
                cosine = float((z * z_hat).sum())
    finally:
        model.train(was_training)
    n_leads = int(enc.cfg.n_leads)

    def grid(t):
        return None if t is None else t[0].reshape(n_leads, -1).cpu().numpy()

    return TokenImportance(before=grid(alpha).astype(np.float64), after=None if after is None else grid(after).astype(np.float64),
                           removed=grid(removed).astype(bool), gate=grid(gate), token_observed=grid(tobs).astype(bool),
                           patch_seconds=float(enc.cfg.patch_size) / float(enc.cfg.fs), rho=float(rho),
                           cosine=cosine, pooling=pooling)
