"""Composable ECG augmentations for self-supervised pretraining, and the two-view transform.

Every transform is a callable ``t(signal, observed, generator) -> (signal, observed)`` on torch
tensors ``signal (N, 12, T)`` float (mV) and ``observed (N, 12, T)`` bool, drawing its randomness
from the given ``torch.Generator`` (which must live on the tensors' device) and each record's draws
independently. Rules every transform keeps: unobserved samples are exactly 0; a sample that was
unobserved never becomes observed (interpolation only marks a sample observed when both of its
neighbours were); the input tensors are not modified. Each transform applies to a record with
probability ``p`` (all draws are made for every record, so the random stream does not depend on
which records were transformed).

Transforms: :class:`RandomCrop` (crop resized back to T, or zero-padded), :class:`AmplitudeScale`,
:class:`GaussianNoise`, :class:`BaselineWander`, :class:`TimeMask`, :class:`LeadMask`;
:class:`Compose` chains them and :class:`TwoViewTransform` draws two independent views, as in
SimCLR (Chen et al. 2020) and lightly's ``MultiViewTransform``. Time-series augmentations for ECG
SSL follow Mehari & Strodthoff, "Self-supervised representation learning from 12-lead ECG data",
Comput. Biol. Med. 141 (2022).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["RandomCrop", "AmplitudeScale", "GaussianNoise", "BaselineWander", "TimeMask", "LeadMask",
           "Compose", "TwoViewTransform", "ssl_augmentation"]

Transform = Callable[[Tensor, Tensor, "torch.Generator | None"], "tuple[Tensor, Tensor]"]


def _check(signal: Tensor, observed: Tensor) -> Tensor:
    if signal.ndim != 3 or tuple(observed.shape) != tuple(signal.shape):
        raise ValueError(f"signal and observed must both be (N, L, T), got {tuple(signal.shape)} and "
                         f"{tuple(observed.shape)}")
    return observed.to(torch.bool)


def _rand(shape, ref: Tensor, generator) -> Tensor:
    return torch.rand(shape, generator=generator, device=ref.device, dtype=torch.float32)


def _check_p(p: float) -> float:
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    return float(p)


def _select(apply: Tensor, new: tuple[Tensor, Tensor], old: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """Per record: the transformed pair where ``apply`` (N,) else the original."""
    a = apply[:, None, None]
    return torch.where(a, new[0], old[0]), torch.where(a, new[1], old[1])


def _zero_unobserved(signal: Tensor, observed: Tensor) -> Tensor:
    return torch.where(observed, signal, torch.zeros((), dtype=signal.dtype, device=signal.device))


class RandomCrop:
    """A random window of ``scale x T`` samples, ``scale ~ U(min_scale, 1)`` per record.

    ``mode="resize"``: linearly interpolated back to T samples (time is stretched; a sample is
    observed only when both interpolation neighbours were). ``mode="pad"``: the window is placed at
    the start and the rest is zero and unobserved (time keeps its scale).
    """

    def __init__(self, min_scale: float = 0.5, mode: str = "resize", p: float = 1.0):
        if not 0 < min_scale <= 1:
            raise ValueError(f"min_scale must be in (0, 1], got {min_scale}")
        if mode not in ("resize", "pad"):
            raise ValueError(f"mode must be 'resize' or 'pad', got {mode!r}")
        self.min_scale, self.mode, self.p = float(min_scale), mode, _check_p(p)

    def __call__(self, signal: Tensor, observed: Tensor, generator=None) -> tuple[Tensor, Tensor]:
        observed = _check(signal, observed)
        n, n_leads, t = signal.shape
        u = _rand((3, n), signal, generator)
        length = (self.min_scale + (1 - self.min_scale) * u[0]) * t
        length = length.round().clamp(min=min(2, t), max=t)
        start = (u[1] * (t - length + 1)).floor().clamp(min=0)
        grid = torch.arange(t, device=signal.device, dtype=torch.float32)
        if self.mode == "resize":
            pos = start[:, None] + grid[None, :] * ((length - 1) / max(t - 1, 1))[:, None]
            lo = pos.floor().long().clamp(0, t - 1)
            hi = (lo + 1).clamp(max=t - 1)
            w = (pos - lo.float()).to(signal.dtype)[:, None, :]
            idx_lo, idx_hi = lo[:, None, :].expand(n, n_leads, t), hi[:, None, :].expand(n, n_leads, t)
            x = signal.gather(2, idx_lo) * (1 - w) + signal.gather(2, idx_hi) * w
            m = observed.gather(2, idx_lo) & (observed.gather(2, idx_hi) | (w == 0))
        else:
            src = (start[:, None] + grid[None, :]).long()
            inside = grid[None, :] < length[:, None]
            idx = src.clamp(max=t - 1)[:, None, :].expand(n, n_leads, t)
            m = observed.gather(2, idx) & inside[:, None, :]
            x = signal.gather(2, idx)
        new = (_zero_unobserved(x, m), m)
        return _select(u[2] < self.p, new, (signal, observed))


class AmplitudeScale:
    """Multiply by a factor ``~ U(1 - r, 1 + r)``, drawn per lead (``per_lead``) or per record."""

    def __init__(self, r: float = 0.2, per_lead: bool = True, p: float = 0.8):
        if not 0 <= r < 1:
            raise ValueError(f"r must be in [0, 1), got {r}")
        self.r, self.per_lead, self.p = float(r), bool(per_lead), _check_p(p)

    def __call__(self, signal: Tensor, observed: Tensor, generator=None) -> tuple[Tensor, Tensor]:
        observed = _check(signal, observed)
        n, n_leads, _ = signal.shape
        u = _rand((n, n_leads if self.per_lead else 1), signal, generator)
        apply = _rand((n,), signal, generator) < self.p
        factor = (1 - self.r + 2 * self.r * u).to(signal.dtype)[:, :, None]
        return _select(apply, (signal * factor, observed), (signal, observed))


class GaussianNoise:
    """Add white noise of standard deviation ``std`` mV to the observed samples."""

    def __init__(self, std: float = 0.05, p: float = 0.8):
        if std < 0:
            raise ValueError(f"std must be >= 0, got {std}")
        self.std, self.p = float(std), _check_p(p)

    def __call__(self, signal: Tensor, observed: Tensor, generator=None) -> tuple[Tensor, Tensor]:
        observed = _check(signal, observed)
        noise = torch.randn(signal.shape, generator=generator, device=signal.device, dtype=torch.float32)
        apply = _rand((signal.shape[0],), signal, generator) < self.p
        x = _zero_unobserved(signal + self.std * noise.to(signal.dtype), observed)
        return _select(apply, (x, observed), (signal, observed))


class BaselineWander:
    """Add a slow sinusoid per lead: amplitude ``~ U(0, amplitude)`` mV, frequency ``~ U(f_low, f_high)``
    Hz and a random phase (respiration-like drift). Needs the sampling rate ``fs`` (Hz)."""

    def __init__(self, fs: float, amplitude: float = 0.1, f_low: float = 0.05, f_high: float = 0.5, p: float = 0.8):
        if not fs > 0:
            raise ValueError(f"fs must be > 0, got {fs}")
        if amplitude < 0 or not 0 <= f_low <= f_high:
            raise ValueError(f"need amplitude >= 0 and 0 <= f_low <= f_high, got {amplitude}, {f_low}, {f_high}")
        self.fs, self.amplitude, self.f_low, self.f_high, self.p = float(fs), float(amplitude), float(f_low), \
            float(f_high), _check_p(p)

    def __call__(self, signal: Tensor, observed: Tensor, generator=None) -> tuple[Tensor, Tensor]:
        observed = _check(signal, observed)
        n, n_leads, t = signal.shape
        u = _rand((3, n, n_leads), signal, generator)
        apply = _rand((n,), signal, generator) < self.p
        amp = self.amplitude * u[0]
        freq = self.f_low + (self.f_high - self.f_low) * u[1]
        phase = 2 * math.pi * u[2]
        time = torch.arange(t, device=signal.device, dtype=torch.float32) / self.fs
        wander = amp[..., None] * torch.sin(2 * math.pi * freq[..., None] * time + phase[..., None])
        x = _zero_unobserved(signal + wander.to(signal.dtype), observed)
        return _select(apply, (x, observed), (signal, observed))


class TimeMask:
    """Zero one span (the same on all leads) of ``~ U(0, max_fraction) x T`` samples, marked unobserved."""

    def __init__(self, max_fraction: float = 0.1, p: float = 0.8):
        if not 0 <= max_fraction <= 1:
            raise ValueError(f"max_fraction must be in [0, 1], got {max_fraction}")
        self.max_fraction, self.p = float(max_fraction), _check_p(p)

    def __call__(self, signal: Tensor, observed: Tensor, generator=None) -> tuple[Tensor, Tensor]:
        observed = _check(signal, observed)
        n, _, t = signal.shape
        u = _rand((3, n), signal, generator)
        length = (u[0] * self.max_fraction * t).round()
        start = (u[1] * (t - length + 1)).floor()
        pos = torch.arange(t, device=signal.device, dtype=torch.float32)
        span = (pos[None, :] >= start[:, None]) & (pos[None, :] < (start + length)[:, None])
        m = observed & ~span[:, None, :]
        return _select(u[2] < self.p, (_zero_unobserved(signal, m), m), (signal, observed))


class LeadMask:
    """Mask each observed lead with probability ``p_lead`` (zero, unobserved); when every observed
    lead of a record would go, one of them (chosen at random) is kept."""

    def __init__(self, p_lead: float = 0.2, p: float = 0.8):
        if not 0 <= p_lead < 1:
            raise ValueError(f"p_lead must be in [0, 1), got {p_lead}")
        self.p_lead, self.p = float(p_lead), _check_p(p)

    def __call__(self, signal: Tensor, observed: Tensor, generator=None) -> tuple[Tensor, Tensor]:
        observed = _check(signal, observed)
        n, n_leads, _ = signal.shape
        r = _rand((n, n_leads), signal, generator)
        apply = _rand((n,), signal, generator) < self.p
        lead_obs = observed.any(-1)
        drop = (r < self.p_lead) & lead_obs
        lost_all = lead_obs.any(-1) & ~(lead_obs & ~drop).any(-1)
        rescue = F.one_hot(r.masked_fill(~lead_obs, -1.0).argmax(-1), n_leads).to(torch.bool) & lost_all[:, None]
        m = observed & ~(drop & ~rescue)[:, :, None]
        return _select(apply, (_zero_unobserved(signal, m), m), (signal, observed))


class Compose:
    """Apply ``transforms`` in order."""

    def __init__(self, transforms: Sequence[Transform]):
        self.transforms = list(transforms)

    def __call__(self, signal: Tensor, observed: Tensor, generator=None) -> tuple[Tensor, Tensor]:
        observed = _check(signal, observed)
        for t in self.transforms:
            signal, observed = t(signal, observed, generator)
        return signal, observed


class TwoViewTransform:
    """Two independently augmented views of a batch (``second`` defaults to the same transform).

    Returns ``((signal_1, observed_1), (signal_2, observed_2))``.

    Examples
    --------
    >>> two = TwoViewTransform(ssl_augmentation(100.0))
    >>> x = torch.randn(2, 12, 1000); m = torch.ones_like(x, dtype=torch.bool)
    >>> (x1, m1), (x2, m2) = two(x, m, torch.Generator().manual_seed(0))
    >>> x1.shape == x.shape and not torch.equal(x1, x2)
    True
    """

    def __init__(self, first: Transform, second: Transform | None = None):
        self.first, self.second = first, second if second is not None else first

    def __call__(self, signal: Tensor, observed: Tensor, generator=None):
        return self.first(signal, observed, generator), self.second(signal, observed, generator)


def ssl_augmentation(fs: float, cfg=None) -> Compose:
    """The default SSL augmentation of :class:`~ecgfoundry.models.config.SSLConfig` ``cfg`` (defaults
    when None): crop, then amplitude scaling, Gaussian noise, baseline wander, a time mask and lead
    masking, each with probability ``cfg.aug_p``."""
    if cfg is None:
        from ecgfoundry.models.config import SSLConfig

        cfg = SSLConfig()
    p = cfg.aug_p
    return Compose([
        RandomCrop(cfg.crop_min, cfg.crop_mode),
        AmplitudeScale(cfg.scale_range, per_lead=True, p=p),
        GaussianNoise(cfg.noise_std, p=p),
        BaselineWander(fs, cfg.wander_mv, p=p),
        TimeMask(cfg.time_mask, p=p),
        LeadMask(cfg.lead_mask_p, p=p),
    ])
