"""Token maskers: SCAR's adversarial masker f_mask and the random-mask ablation.

Adversarial (SCAR: "Semantic Compensation via Adversarial Removal", Liu, Han, Zhou, Yao):
an MLP gives one logit ``l_i`` per token; a Gumbel–sigmoid (binary Concrete, Maddison et al. 2017;
Jang et al. 2017) gate

    g_i = sigmoid((l_i + eps_i) / tau_m),     eps_i ~ Logistic(0, 1) in training, 0 at eval,

removes token i softly: ``h_hat = (1 - g) h``. Both maskers return ``g`` (for the budget loss)
and ``keep_log = log(1 - g)``, computed stably as ``logsigmoid(-(l + eps) / tau_m)``, which the
encoder and the pooling use to down-weight removed tokens. Unobserved tokens get ``g = 0``
(they are already excluded by ``token_observed``).

Lead-level removal (``n_leads > 0``, an extension of the paper's token-level masker): the masker
still scores every token, but a lead's logit is the mean of its observed tokens' logits, the gate,
the budget and the noise are per lead, and each lead's gate is spread over its tokens. The adversary
then removes whole leads, the kind of missingness lead-reduced recordings have.

Score-function estimator (:meth:`AdversarialMasker.sample`): instead of the relaxed gate, draw ``K``
hard removals ``r ~ Bernoulli(p)``, ``p = sigmoid((l - b) / tau_m)`` with ``b`` the per-record budget
offset (mean p over observed units = rho), and let the masker minimise
``-mean_k (c_k - mean_{j != k} c_j) log P(r_k)`` (REINFORCE with the leave-one-out baseline; Williams
1992; Kool et al. 2019), where ``c_k`` is what the removal ``r_k`` costs the model. The gradient is an
unbiased estimate of the gradient of the expected cost of *hard* removals, so the masker is trained
for what removing a token or lead really costs, not for what scaling it by ``1 - g`` costs.

Random (ablation): each observed token is removed with probability ``rate`` (``g`` in {0, 1},
``keep_log`` in {0, -inf}); the last observed token of a record is never removed, so every record
keeps something to pool. It masks in training and at eval alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["MaskOutput", "RemovalSample", "AdversarialMasker", "RandomMasker", "logistic_noise", "expand_units",
           "leave_one_out_advantage"]


@dataclass
class MaskOutput:
    """Removal gates of a batch of tokens.

    Attributes
    ----------
    gate : Tensor of shape (N, M), in [0, 1]
        g: how much each token is removed (0 for unobserved tokens).
    keep_log : Tensor of shape (N, M)
        log(1 - g); ``-inf`` for a hard-removed token.
    logits : Tensor of shape (N, M) or None
        The masker's logits l (adversarial masker only).
    """

    gate: Tensor
    keep_log: Tensor
    logits: Tensor | None = None


@dataclass
class RemovalSample:
    """``K`` hard removals drawn by :meth:`AdversarialMasker.sample`.

    Attributes
    ----------
    removed : Tensor of shape (K, N, M), bool
        Which tokens each draw removes (never an unobserved token, never every observed token).
    log_prob : Tensor of shape (K, N)
        log P(draw) under the masker's Bernoulli distribution, differentiable in its parameters.
    prob : Tensor of shape (N, M)
        Removal probability of each token (its unit's p; 0 for unobserved tokens).
    """

    removed: Tensor
    log_prob: Tensor
    prob: Tensor


def expand_units(values: Tensor, token_observed: Tensor, n_leads: int) -> Tensor:
    """Spread per-unit values (..., N, U) over tokens (..., N, M).

    ``n_leads == 0``: units are tokens, ``values`` is returned masked. Otherwise units are leads and
    tokens are lead-major (token ``l * P + p`` is patch ``p`` of lead ``l``, as the tokenizer orders
    them); unobserved tokens get 0 (False for bool values).
    """
    if n_leads:
        m = token_observed.shape[-1]
        values = values.unsqueeze(-1).expand(*values.shape, m // n_leads).reshape(*values.shape[:-1], m)
    return torch.where(token_observed, values, torch.zeros_like(values))


def leave_one_out_advantage(costs: Tensor) -> Tensor:
    """``c_k - mean_{j != k} c_j`` over the first dimension (the K draws), K >= 2."""
    k = costs.shape[0]
    if k < 2:
        raise ValueError(f"the leave-one-out baseline needs at least 2 draws, got {k}")
    return costs - (costs.sum(0, keepdim=True) - costs) / (k - 1)


def logistic_noise(shape: tuple[int, ...], device: torch.device | str | None = None,
                   dtype: torch.dtype = torch.float32, generator: torch.Generator | None = None) -> Tensor:
    """Samples of the standard logistic distribution, ``log(u) - log(1 - u)``, u ~ U(0, 1)."""
    u = torch.rand(shape, device=device, dtype=dtype, generator=generator)
    tiny = torch.finfo(dtype).tiny
    u = u.clamp(tiny, 1.0 - torch.finfo(dtype).eps)
    return torch.log(u) - torch.log1p(-u)


class AdversarialMasker(nn.Module):
    """f_mask with a Gumbel–sigmoid gate (see module docstring).

    Parameters
    ----------
    dim : int
        Token width D.
    hidden : int
        Hidden width of the MLP.
    tau : float
        Gate temperature tau_m (> 0).
    budget : float
        rho in (0, 1): the output bias starts so the median gate is rho, and with ``cap`` a record's
        mean gate over its observed tokens is capped at rho (gates scaled by rho / mean g).
    cap : bool
        Enforce the budget per record by scaling (``budget_mode="cap"``, see
        :class:`~ecgfoundry.models.config.MaskerConfig`).
    shift : bool
        Enforce the budget per record by a per-record threshold (``budget_mode="shift"``): the gate is
        ``sigmoid((l + eps - b) / tau)`` with ``b`` the per-record offset that makes the mean gate over
        the observed tokens exactly ``budget``. ``b`` is found by bisection and enters the graph through
        one Newton step, so its gradient is the implicit one, ``db/da_i = w_i / sum_j w_j`` with
        ``w = sigmoid'``: the masker can only move removal *between* tokens, never add more.
    logit_bound : float
        When > 0, the logits are squashed to ``bound * tanh(l / bound)``. Unbounded logits grow
        until every gate is saturated at 0 or 1 (``sigmoid' ~ 0``): the masker then gets no gradient
        and the Gumbel noise no longer explores, so it freezes on whatever it chose early (on the
        synthetic known-answer data, a fixed preference for some leads). A bound keeps the gates
        within reach of the noise.
    centre_positions : int
        When > 0, the logits are centred per token position: ``l_i - mean_n l_{n,i}`` over the
        observed tokens at position ``i`` of the batch in training (the gradient flows through the
        mean, as in batch normalisation), and minus a running mean (momentum ``centre_momentum``) in
        eval mode. The masker then ranks a record's tokens by how much more than the same position
        of a typical record they are worth removing; a fixed preference for some leads or times,
        which the encoder learns to live with like random masking, cancels out. The value is the
        number of positions the running mean holds (leads x time patches of the longest input).
    """

    def __init__(self, dim: int, hidden: int = 128, tau: float = 0.5, budget: float = 0.3,
                 cap: bool = True, shift: bool = False, logit_bound: float = 0.0,
                 centre_positions: int = 0, centre_momentum: float = 0.01, n_leads: int = 0):
        super().__init__()
        if n_leads < 0:
            raise ValueError(f"n_leads must be >= 0, got {n_leads}")
        self.n_leads = int(n_leads)
        if tau <= 0:
            raise ValueError(f"tau must be positive, got {tau}")
        if not 0 < budget < 1:
            raise ValueError(f"budget must be in (0, 1), got {budget}")
        self.tau = float(tau)
        self.budget = float(budget)
        self.cap = bool(cap)
        self.shift = bool(shift)
        if logit_bound < 0:
            raise ValueError(f"logit_bound must be >= 0, got {logit_bound}")
        self.logit_bound = float(logit_bound)
        if self.cap and self.shift:
            raise ValueError("choose one of cap and shift")
        self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, 1))
        nn.init.zeros_(self.net[-1].weight)
        init = self.tau * math.log(budget / (1 - budget))
        if self.logit_bound:
            init = self.logit_bound * math.atanh(max(-0.999, min(0.999, init / self.logit_bound)))
        nn.init.constant_(self.net[-1].bias, init)
        if centre_positions < 0:
            raise ValueError(f"centre_positions must be >= 0, got {centre_positions}")
        if not 0 < centre_momentum <= 1:
            raise ValueError(f"centre_momentum must be in (0, 1], got {centre_momentum}")
        self.centre_positions = int(centre_positions)
        self.centre_momentum = float(centre_momentum)
        self.init_logit = init
        if self.centre_positions:
            self.register_buffer("position_mean", torch.full((self.centre_positions,), float(init)))

    def unit_logits(self, tokens: Tensor, token_observed: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Logits per removal unit (N, U), which units are observed (N, U), and the token logits (N, M).

        Units are tokens, or leads (``n_leads > 0``: the mean logit of a lead's observed tokens).
        """
        observed = token_observed.to(torch.bool)
        logits = self.net(tokens).squeeze(-1).float()
        if self.centre_positions:
            logits = self._centre(logits, observed)
        if self.logit_bound:
            logits = self.logit_bound * torch.tanh(logits / self.logit_bound)
        if not self.n_leads:
            return logits, observed, logits
        n, m = logits.shape
        if m % self.n_leads:
            raise ValueError(f"{m} tokens do not split into {self.n_leads} leads")
        obs = observed.reshape(n, self.n_leads, m // self.n_leads)
        w = obs.to(logits.dtype)
        per_lead = (logits.reshape(obs.shape) * w).sum(-1) / w.sum(-1).clamp(min=1)
        return per_lead, obs.any(-1), logits

    def forward(self, tokens: Tensor, token_observed: Tensor,
                generator: torch.Generator | None = None) -> MaskOutput:
        """Gates for ``tokens`` (N, M, D); stochastic in training, deterministic in eval mode."""
        logits, observed, token_logits = self.unit_logits(tokens, token_observed)
        a = logits
        if self.training:
            a = a + logistic_noise(tuple(logits.shape), logits.device, logits.dtype, generator)
        a = a / self.tau
        if self.shift:
            a = a - _budget_offset(a, observed, self.budget)
        gate = torch.where(observed, torch.sigmoid(a), torch.zeros_like(a))
        keep_log = torch.where(observed, F.logsigmoid(-a), torch.zeros_like(a))
        if self.cap:
            n_obs = observed.sum(-1, keepdim=True).clamp(min=1)
            mean = gate.sum(-1, keepdim=True) / n_obs
            scale = (self.budget / mean.clamp(min=1e-12)).clamp(max=1.0)
            over = (scale < 1.0).expand_as(gate)
            gate = gate * scale
            capped_keep = torch.log1p(-gate.clamp(max=1.0 - 1e-6))
            keep_log = torch.where(over & observed, capped_keep, keep_log)
        tobs = token_observed.to(torch.bool)
        if self.n_leads:
            gate, keep_log = expand_units(gate, tobs, self.n_leads), expand_units(keep_log, tobs, self.n_leads)
        return MaskOutput(gate, keep_log, token_logits)

    def sample(self, tokens: Tensor, token_observed: Tensor, n_samples: int,
               generator: torch.Generator | None = None) -> RemovalSample:
        """``n_samples`` hard removals for the score-function estimator (see the module docstring).

        Each observed unit is removed independently with probability ``p = sigmoid((l - b) / tau)``,
        ``b`` the per-record offset that makes the mean ``p`` over the record's observed units equal
        the budget (so a record loses ``budget`` of its units on average, whatever the masker prefers).
        A draw that would remove every observed unit of a record keeps the one with the largest
        uniform draw, as the random masker does; ``log_prob`` is that of the draw before this rescue
        (an event of probability about ``budget ** U``).
        """
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        logits, observed, _ = self.unit_logits(tokens, token_observed)
        a = logits / self.tau
        a = a - _budget_offset(a, observed, self.budget)
        p = torch.sigmoid(a)
        u = torch.rand((n_samples,) + tuple(a.shape), device=a.device, dtype=a.dtype, generator=generator)
        r = (u < p.detach()) & observed
        w = observed.to(a.dtype)
        log_prob = ((r.to(a.dtype) * F.logsigmoid(a) + (~r).to(a.dtype) * F.logsigmoid(-a)) * w).sum(-1)
        all_removed = observed.any(-1) & ~(observed & ~r).any(-1)
        keep = F.one_hot(u.masked_fill(~observed, -1.0).argmax(-1), a.shape[-1]).to(torch.bool)
        r = r & ~(keep & all_removed[..., None])
        tobs = token_observed.to(torch.bool)
        if self.n_leads:
            removed, prob = expand_units(r, tobs, self.n_leads), expand_units(p, tobs, self.n_leads)
        else:
            removed, prob = r & tobs, torch.where(tobs, p, torch.zeros_like(p))
        return RemovalSample(removed, log_prob, prob.detach())

    def _centre(self, logits: Tensor, observed: Tensor) -> Tensor:
        m = logits.shape[-1]
        if m > self.centre_positions:
            raise ValueError(f"the masker centres {self.centre_positions} token positions, the input has {m}")
        running = self.position_mean[:m]
        if self.training:
            obs = observed.to(logits.dtype)
            count = obs.sum(0)
            seen = count > 0
            batch_mean = (logits * obs).sum(0) / count.clamp(min=1)
            with torch.no_grad():
                upd = running + self.centre_momentum * (batch_mean.detach() - running)
                self.position_mean[:m] = torch.where(seen, upd, running)
            mean = torch.where(seen, batch_mean, running)
        else:
            mean = running
        return logits - mean + self.init_logit


def _budget_offset(a: Tensor, observed: Tensor, budget: float, iters: int = 40) -> Tensor:
    """Per-record offset ``c`` (N, 1) with ``mean_{observed} sigmoid(a - c) = budget``.

    Bisection without gradient, then one differentiable Newton step from the solution: its value is
    the solution, its gradient the implicit one, ``dc/da_i = w_i / sum_j w_j``, ``w = sigmoid'(a - c)``
    over the observed tokens. Records with no observed token get ``c = 0``.
    """
    obs = observed.to(a.dtype)
    n = obs.sum(-1, keepdim=True).clamp(min=1)
    with torch.no_grad():
        big = torch.finfo(a.dtype).max
        lo = a.masked_fill(~observed, big).amin(-1, keepdim=True) - 30.0
        hi = a.masked_fill(~observed, -big).amax(-1, keepdim=True) + 30.0
        empty = ~observed.any(-1, keepdim=True)
        lo = torch.where(empty, torch.zeros_like(lo), lo)
        hi = torch.where(empty, torch.zeros_like(hi), hi)
        for _ in range(iters):
            mid = (lo + hi) / 2
            too_much = (torch.sigmoid(a - mid) * obs).sum(-1, keepdim=True) / n > budget
            lo = torch.where(too_much, mid, lo)
            hi = torch.where(too_much, hi, mid)
        c0 = (lo + hi) / 2
    s = torch.sigmoid(a - c0)
    w = (s * (1 - s) * obs).detach()
    excess = (s * obs).sum(-1, keepdim=True) / n - budget
    slope = (w.sum(-1, keepdim=True) / n).clamp(min=1e-12)
    c = c0 + excess / slope
    return torch.where(~observed.any(-1, keepdim=True), torch.zeros_like(c), c)


class RandomMasker(nn.Module):
    """Removes each observed token with probability ``rate`` (ablation of the adversarial masker).

    Parameters
    ----------
    rate : float in (0, 1)
    """

    def __init__(self, rate: float = 0.3):
        super().__init__()
        if not 0 < rate < 1:
            raise ValueError(f"rate must be in (0, 1), got {rate}")
        self.rate = float(rate)

    def forward(self, tokens: Tensor, token_observed: Tensor,
                generator: torch.Generator | None = None) -> MaskOutput:
        observed = token_observed.to(torch.bool)
        r = torch.rand(observed.shape, device=observed.device, generator=generator)
        remove = (r < self.rate) & observed
        # Never remove the last observed token: keep the observed token with the largest draw.
        all_removed = observed.any(-1) & ~(observed & ~remove).any(-1)
        keep_idx = r.masked_fill(~observed, -1.0).argmax(-1)
        rescue = F.one_hot(keep_idx, observed.shape[-1]).to(torch.bool) & all_removed[:, None]
        remove = remove & ~rescue
        gate = remove.to(torch.float32)
        keep_log = torch.zeros_like(gate).masked_fill(remove, float("-inf"))
        return MaskOutput(gate, keep_log, None)
