"""CLEF: clinically guided contrastive learning (negatives weighted by clinical dissimilarity).

Shu, Charlton, Kawsar, Hernesniemi & Malekzadeh, "CLEF: Clinically-Guided Contrastive Learning for
Electrocardiogram Foundation Models", Nokia Bell Labs, arXiv:2512.02180 (2025). The paper weights
negative pairs by the difference of a clinical risk score (SCORE2 from age, sex, blood pressure,
cholesterol, smoking, ...) and aligns embedding similarities with clinical differences, falling
back explicitly when metadata is missing. What is implemented here is our own form of that idea,
stated exactly below; it works from whichever metadata columns the data has (age and sex in
PTB-XL and the synthetic data; any numeric risk score a dataset provides can be added).

Clinical similarity
-------------------
Each record i has F features ``x_i^f``: numeric (age in years, a risk score) or categorical (sex,
encoded as numbers), NaN when missing. For a pair (i, j) and feature f::

    a_ij^f = 1 if x_i^f and x_j^f are both present, else 0
    s_ij^f = exp(-|x_i^f - x_j^f| / sigma_f)      numeric f (sigma_f: its scale, e.g. 20 years)
    s_ij^f = 1[x_i^f == x_j^f]                    categorical f
    W_ij   = sum_f a_ij^f s_ij^f / sum_f a_ij^f   when sum_f a_ij^f > 0   (the pair is "known")
    W_ij   undefined (pair unknown)               when no feature is present for both records

so W_ij is in [0, 1] (1: clinically identical) and uses exactly the features both records have.

Loss
----
With the two views' projections z = [z0; z1] (2N x E, L2-normalised), ``s_ab = z_a . z_b``,
``r(a) = a mod N`` the record of embedding a, and ``p(a)`` the other view of the same record::

    w_ab = 1 - W_r(a)r(b)   for a known pair,    w_ab = 1   for an unknown pair
    L_con = mean_a -log( exp(s_a,p(a)/tau) / (exp(s_a,p(a)/tau) + sum_{b != a, p(a)} w_ab exp(s_ab/tau)) )
    L_sim = mean over a != b with r(a) != r(b) and (r(a), r(b)) known of ((1 + s_ab)/2 - W_r(a)r(b))^2
    L     = L_con + lambda * L_sim                  (L_sim = 0 when no pair is known)

Positives are unweighted. A negative is pushed away in proportion to its clinical dissimilarity
``1 - W`` (a clinically identical record, W = 1, is not a negative at all), and the second term
pulls the embedding similarity mapped to [0, 1], ``(1 + cos)/2``, towards W. Missing metadata is
handled explicitly: a pair without a shared feature is an ordinary (weight 1) negative and is left
out of L_sim, so with no metadata at all CLEF is exactly NT-Xent (:func:`~.ntxent.nt_xent`).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from ecgfoundry.losses.clip import _dist_info, gather_features
from ecgfoundry.losses.ssl.ntxent import nt_xent

__all__ = ["CLEFLoss", "clinical_similarity"]


def clinical_similarity(features: Tensor, categorical: Tensor | list[bool], scales: Tensor | list[float]
                        ) -> tuple[Tensor, Tensor]:
    """Clinical similarity ``W`` (N, N) and the ``known`` mask (N, N) of records' metadata.

    Parameters
    ----------
    features : Tensor of shape (N, F), float, NaN where missing
    categorical : bool per feature
        True: similarity is equality of the values; False: ``exp(-|difference| / scale)``.
    scales : float per feature (> 0; unused for categorical features)

    Returns
    -------
    W : Tensor (N, N) in [0, 1], 0 where unknown
    known : Tensor (N, N) bool, True where at least one feature is present for both records

    Examples
    --------
    >>> x = torch.tensor([[60.0, 0.0], [80.0, 0.0], [float("nan"), float("nan")]])
    >>> W, known = clinical_similarity(x, [False, True], [20.0, 1.0])
    >>> round(float(W[0, 1]), 4), bool(known[0, 2])
    (0.6839, False)
    """
    if features.ndim != 2:
        raise ValueError(f"features must be (N, F), got {tuple(features.shape)}")
    n, nf = features.shape
    categorical = torch.as_tensor(categorical, dtype=torch.bool, device=features.device).reshape(-1)
    scales = torch.as_tensor(scales, dtype=torch.float64, device=features.device).reshape(-1)
    if categorical.numel() != nf or scales.numel() != nf:
        raise ValueError(f"need one categorical flag and one scale per feature ({nf})")
    if nf and not bool((scales > 0).all()):
        raise ValueError("scales must be > 0")
    x = features.to(torch.float64)
    present = ~torch.isnan(x)                                   # (N, F)
    both = present[:, None, :] & present[None, :, :]            # (N, N, F)
    diff = (x[:, None, :] - x[None, :, :]).abs()
    sim = torch.where(categorical, (diff == 0).to(torch.float64), torch.exp(-diff / scales))
    sim = torch.where(both, sim, torch.zeros((), dtype=torch.float64, device=x.device))
    count = both.sum(-1)
    known = count > 0
    W = torch.where(known, sim.sum(-1) / count.clamp_min(1), torch.zeros((), dtype=torch.float64, device=x.device))
    return W, known


class CLEFLoss(nn.Module):
    """Clinically weighted NT-Xent plus similarity alignment (see the module docstring for the formula).

    Parameters
    ----------
    temperature : float
    lam : float
        lambda, the weight of the alignment term L_sim.
    categorical : bool per feature, scales : float per feature
        Passed to :func:`clinical_similarity`.
    gather_with_grad : bool
        Under DDP the views (with gradient) and the features of every rank are gathered and every
        rank computes the global loss (as :class:`~.ntxent.NTXentLoss`).
    rank, world_size : int or None

    Returns (``forward``)
    ---------------------
    dict with ``"contrastive"`` (L_con), ``"clinical"`` (L_sim), ``"known_pairs"`` (detached
    fraction of record pairs with a known W) and ``"clef"`` (L).
    """

    def __init__(self, temperature: float = 0.1, lam: float = 1.0, categorical=(False, True),
                 scales=(20.0, 1.0), gather_with_grad: bool = True, rank: int | None = None,
                 world_size: int | None = None):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if lam < 0:
            raise ValueError(f"lam must be >= 0, got {lam}")
        if len(categorical) != len(scales):
            raise ValueError("need one scale per feature")
        self.temperature, self.lam = float(temperature), float(lam)
        self.categorical, self.scales = [bool(c) for c in categorical], [float(s) for s in scales]
        self.gather_with_grad = bool(gather_with_grad)
        self.rank, self.world_size = rank, world_size

    def _gather(self, z0: Tensor, z1: Tensor, features: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        rank, world_size = _dist_info(self.rank, self.world_size)
        if world_size <= 1:
            return z0, z1, features
        a, b = gather_features(z0, z1, rank, world_size, self.gather_with_grad)
        parts = [torch.empty_like(features) for _ in range(world_size)]
        dist.all_gather(parts, features.contiguous())
        return a, b, torch.cat(parts, dim=0)

    def forward(self, z0: Tensor, z1: Tensor, features: Tensor) -> dict[str, Tensor]:
        """``z0``, ``z1`` (N, E) the two views' projections; ``features`` (N, F) metadata (NaN = missing)."""
        if z0.ndim != 2 or z0.shape != z1.shape:
            raise ValueError(f"z0 and z1 must both be (N, E), got {tuple(z0.shape)} and {tuple(z1.shape)}")
        if features.ndim != 2 or features.shape[0] != z0.shape[0] or features.shape[1] != len(self.scales):
            raise ValueError(f"features must be (N={z0.shape[0]}, F={len(self.scales)}), got {tuple(features.shape)}")
        if z0.shape[0] < 2:
            raise ValueError("CLEF needs at least 2 records per batch (negatives)")
        a, b, feats = self._gather(z0, z1, features)
        n = a.shape[0]
        W, known = clinical_similarity(feats, self.categorical, self.scales)
        eye = torch.eye(n, dtype=torch.bool, device=W.device)
        known = known & ~eye
        weight = torch.where(known, 1.0 - W, torch.ones_like(W)).repeat(2, 2)       # (2N, 2N)
        log_w = torch.log(weight.clamp_min(0.0))                                     # log 0 = -inf: dropped
        contrastive = nt_xent(a, b, self.temperature, log_w)
        z = F.normalize(torch.cat([a, b], dim=0), dim=-1)
        dtype = torch.promote_types(z.dtype, torch.float32)
        pair = known.repeat(2, 2)                                                    # r(a) != r(b), known
        if bool(pair.any()):
            sim01 = (1 + (z @ z.T).to(dtype)) / 2
            clinical = ((sim01 - W.to(dtype).repeat(2, 2))[pair] ** 2).mean()
        else:
            clinical = z.sum().to(dtype) * 0.0
        frac = known.sum() / max(n * (n - 1), 1)
        return {"contrastive": contrastive, "clinical": clinical, "known_pairs": frac.detach().to(dtype),
                "clef": contrastive + self.lam * clinical}
