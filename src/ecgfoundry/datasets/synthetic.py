"""Synthetic 12-lead ECGs with labelled conditions, evidence locations and reports.

The embedded default dataset of ecgfoundry: every user has it, and its ground truth is known,
including which leads and which time spans carry each diagnosis's evidence.

How a record is made (see :mod:`ecgfoundry.datasets.synthetic_dipole` for the physics):

1. a compatible set of conditions is drawn (:mod:`ecgfoundry.datasets.synthetic_conditions`);
2. a beat-to-beat RR series: sinus rhythm with low-frequency (0.04-0.15 Hz) and respiratory
   (0.15-0.4 Hz) heart-rate variability (the two spectral peaks of ECGSYN, McSharry et al., *IEEE
   TBME* 2003;50:289), or AF with independent log-normal RR (coefficient of variation 0.15-0.30);
   PVCs replace a sinus beat early (coupling 50-68 % of RR) and keep the sinus schedule afterwards
   (full compensatory pause);
3. per beat, Gaussian dipole waves P, Q, R, S, T (plus R' in RBBB, two broad notched components in
   LBBB and PVCs) with shared timings, per-record electrical axis, amplitudes and intervals, QT
   adapted to RR by Fridericia's formula, respiratory amplitude modulation;
4. condition criteria are enforced on the noise-free (band-limited) signal, so labels are never
   silently wrong: LVH records have Sokolow-Lyon >= 3.8 mV and others <= 3.2 mV; LOWV records have
   limb-lead QRS <= 0.42 mV peak-to-peak and others >= 0.62 mV; STEMI records have an injury
   current during the ST segment scaled so that the ST deviation is >= 0.15 mV in every territory
   lead and <= 0.05 mV in every other lead; LAFB records have a frontal axis of -48 to -80 deg and
   others of -25 to +88 deg;
5. the dipole is projected onto the nine electrodes, recording noise is added there, and the 12
   leads are formed (so Einthoven's and Goldberger's relations hold exactly).

Randomness: records are made in chunks of :data:`CHUNK` records; chunk ``c`` draws from
``SeedSequence(seed, spawn_key=(c,))`` with arrays sized for a full chunk, and each record's white
muscle noise from its own stream. So a record depends only on the configuration (not on ``n``):
``generate(n=10)`` equals the first 10 records of ``generate(n=1000)`` with the same settings.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from ecgfoundry.batch import EcgBatch
from ecgfoundry.datasets import synthetic_dipole as dp
from ecgfoundry.datasets.synthetic_conditions import (
    CLASS_INDEX, DEFAULT_PREVALENCE, EVIDENCE_LEADS, LIMB_LEADS, RECIPROCAL_LEADS, STEMI_CLASSES,
    SYNTH_CLASSES, TINV_LEADS, check_prevalence, lead_mask, sample_conditions)
from ecgfoundry.datasets.synthetic_reports import build_report
from ecgfoundry.signals.leads import LEAD_INDEX, LEADS

__all__ = ["SYNTH_CLASSES", "NoiseConfig", "SyntheticConfig", "EvidenceItem", "SyntheticDataset",
           "generate", "generate_config", "iter_chunks", "evidence_mask", "NOISE_PRESETS"]

CHUNK = 256
"""Records per generation chunk (part of the seeding scheme; changing it changes the data)."""

ROLES = ("primary", "reciprocal")


# ----------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NoiseConfig:
    """Recording-noise amplitudes at the electrodes, in mV (0 switches a source off).

    Each record scales the whole set by a factor drawn from U(0.5, 1.5).
    """

    baseline_mv: float = 0.05          # baseline wander amplitude
    powerline_mv: float = 0.005        # mains interference amplitude (50/60 Hz)
    emg_mv: float = 0.005              # muscle-noise RMS
    motion_mv: float = 0.0             # electrode-motion transient amplitude
    motion_rate_per_min: float = 0.0   # electrode-motion events per minute

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"NoiseConfig.{name} must be a non-negative number, got {value}")

    @classmethod
    def preset(cls, name: str) -> "NoiseConfig":
        """``"none"``, ``"low"``, ``"medium"`` or ``"high"``."""
        try:
            return cls(**NOISE_PRESETS[name])
        except KeyError:
            raise ValueError(f"unknown noise preset {name!r}; choose one of {', '.join(NOISE_PRESETS)}") from None

    @property
    def is_silent(self) -> bool:
        return not any(asdict(self).values())


NOISE_PRESETS: dict[str, dict[str, float]] = {
    "none": dict(baseline_mv=0.0, powerline_mv=0.0, emg_mv=0.0, motion_mv=0.0, motion_rate_per_min=0.0),
    "low": dict(baseline_mv=0.05, powerline_mv=0.005, emg_mv=0.005, motion_mv=0.0, motion_rate_per_min=0.0),
    "medium": dict(baseline_mv=0.15, powerline_mv=0.02, emg_mv=0.02, motion_mv=0.2, motion_rate_per_min=1.0),
    "high": dict(baseline_mv=0.4, powerline_mv=0.05, emg_mv=0.05, motion_mv=0.6, motion_rate_per_min=4.0),
}


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that determines a synthetic dataset (saved as ``synthetic.json``).

    Attributes
    ----------
    n : int
        Number of records.
    fs : float, Hz
        Sampling rate; signals are generated natively at it (>= 50 Hz).
    seconds : float
        Record length (>= 2 s).
    seed : int
        Seed of all randomness.
    conditions : mapping of str -> float or None
        Proposal probability of each abnormal class (see :data:`SYNTH_CLASSES`); classes not named
        get 0. None uses :data:`DEFAULT_PREVALENCE`. NORM is implied.
    noise : str or NoiseConfig
        A preset name (``none``, ``low``, ``medium``, ``high``) or explicit amplitudes.
    mains_hz : float or None
        Powerline frequency; None draws 50 or 60 Hz per record.
    """

    n: int = 1000
    fs: float = 100.0
    seconds: float = 10.0
    seed: int = 0
    conditions: Mapping[str, float] | None = None
    noise: str | NoiseConfig = "low"
    mains_hz: float | None = None

    def __post_init__(self) -> None:
        if int(self.n) != self.n or self.n < 1:
            raise ValueError(f"n must be a positive integer, got {self.n}")
        if not (np.isfinite(self.fs) and self.fs >= 50):
            raise ValueError(f"fs must be at least 50 Hz, got {self.fs}")
        if not (np.isfinite(self.seconds) and 2.0 <= self.seconds <= 3600):
            raise ValueError(f"seconds must be between 2 and 3600, got {self.seconds}")
        if int(self.seed) != self.seed or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed}")
        if self.mains_hz is not None and self.mains_hz <= 0:
            raise ValueError(f"mains_hz must be positive, got {self.mains_hz}")
        prevalence = DEFAULT_PREVALENCE if self.conditions is None else self.conditions
        object.__setattr__(self, "conditions", check_prevalence(prevalence))
        if isinstance(self.noise, str):
            NoiseConfig.preset(self.noise)  # validates the name
        elif not isinstance(self.noise, NoiseConfig):
            raise ValueError(f"noise must be a preset name or a NoiseConfig, got {type(self.noise).__name__}")
        object.__setattr__(self, "n", int(self.n))
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "fs", float(self.fs))
        object.__setattr__(self, "seconds", float(self.seconds))

    @property
    def noise_config(self) -> NoiseConfig:
        return NoiseConfig.preset(self.noise) if isinstance(self.noise, str) else self.noise

    @property
    def n_samples(self) -> int:
        return int(round(self.seconds * self.fs))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``noise`` as the preset name or its amplitudes)."""
        d = asdict(self)
        d["conditions"] = dict(self.conditions)
        if isinstance(self.noise, NoiseConfig):
            d["noise"] = asdict(self.noise)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SyntheticConfig":
        d = dict(d)
        if isinstance(d.get("noise"), Mapping):
            d["noise"] = NoiseConfig(**d["noise"])
        return cls(**d)


# ----------------------------------------------------------------------------------------------
# evidence
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvidenceItem:
    """Where one condition's diagnostic evidence lies in one record.

    Attributes
    ----------
    label : str
        Class name.
    leads : tuple of str
        Leads carrying the evidence (canonical names).
    spans : ndarray of shape (M, 2), int32
        ``[start, end)`` sample spans (clipped to the record).
    role : str
        ``"primary"`` (the finding itself, e.g. ST elevation) or ``"reciprocal"`` (its mirror,
        e.g. reciprocal ST depression).
    """

    label: str
    leads: tuple[str, ...]
    spans: np.ndarray
    role: str = "primary"

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "role": self.role, "leads": list(self.leads),
                "spans": self.spans.tolist()}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "EvidenceItem":
        spans = np.asarray(d["spans"], dtype=np.int32).reshape(-1, 2)
        return cls(d["label"], tuple(d["leads"]), spans, d.get("role", "primary"))


def evidence_mask(record_evidence: Sequence[EvidenceItem], n_samples: int,
                  classes: Sequence[str] = SYNTH_CLASSES, roles: Sequence[str] = ROLES) -> np.ndarray:
    """Expand one record's evidence into a boolean mask.

    Parameters
    ----------
    record_evidence : sequence of EvidenceItem
    n_samples : int
        T, the record length in samples.
    classes : sequence of str
        Row order of the output (items of other classes are ignored).
    roles : sequence of str
        Which roles to include (``"primary"``, ``"reciprocal"``).

    Returns
    -------
    ndarray of shape (K, 12, T), bool
        True where class ``k``'s evidence lies in lead ``l`` at sample ``t``.

    Examples
    --------
    >>> item = EvidenceItem("AF", ("II", "V1"), np.array([[0, 5]], dtype=np.int32))
    >>> m = evidence_mask([item], 10, classes=("AF",))
    >>> m.shape, int(m.sum())
    ((1, 12, 10), 10)
    """
    col = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(classes), len(LEADS), n_samples), dtype=bool)
    for item in record_evidence:
        if item.label not in col or item.role not in roles:
            continue
        time = np.zeros(n_samples, dtype=bool)
        for a, b in np.asarray(item.spans).reshape(-1, 2):
            time[max(int(a), 0):min(int(b), n_samples)] = True
        rows = [LEAD_INDEX[name] for name in item.leads]
        out[col[item.label], rows] |= time
    return out


# ----------------------------------------------------------------------------------------------
# dataset
# ----------------------------------------------------------------------------------------------
@dataclass
class SyntheticDataset:
    """Synthetic records in canonical form plus their ground truth.

    Attributes
    ----------
    signal : ndarray of shape (N, 12, T), float32, mV
    fs : float, Hz
    labels : ndarray of shape (N, K), float32
        Multi-hot over ``classes``.
    classes : tuple of str
    reports : list of str
        Free-text report per record.
    evidence : list of list of EvidenceItem
        Per record, where each present condition's evidence lies.
    params : DataFrame
        One row per record: ``record_id``, ``patient_id``, ``age``, ``sex``, ``hr_bpm``,
        ``rr_cv``, ``pr_ms``, ``qrs_ms``, ``qt_ms``, ``qtc_ms``, ``axis_deg``, ``sokolow_mv``,
        ``limb_qrs_mv``, ``st_mv``, ``n_pvc``, ``resp_per_min``, ``mains_hz``, ...
    config : SyntheticConfig
    """

    signal: np.ndarray
    fs: float
    labels: np.ndarray
    classes: tuple[str, ...]
    reports: list[str]
    evidence: list[list[EvidenceItem]]
    params: pd.DataFrame
    config: SyntheticConfig
    _observed: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.signal)

    @property
    def observed(self) -> np.ndarray:
        """All-True bool mask shaped like ``signal`` (synthetic records are fully observed)."""
        if self._observed is None or self._observed.shape != self.signal.shape:
            self._observed = np.ones(self.signal.shape, dtype=bool)
        return self._observed

    @property
    def ids(self) -> list[str]:
        return self.params["record_id"].tolist()

    def evidence_mask(self, i: int, roles: Sequence[str] = ROLES) -> np.ndarray:
        """(K, 12, T) bool evidence mask of record ``i``."""
        return evidence_mask(self.evidence[i], self.signal.shape[-1], self.classes, roles)

    def to_batch(self) -> EcgBatch:
        """An :class:`~ecgfoundry.batch.EcgBatch` (ids ``"synthetic/<record_id>"``)."""
        meta = {k: self.params[k].to_numpy() for k in ("patient_id", "age", "sex")}
        return EcgBatch(signal=self.signal, observed=self.observed, fs=self.fs, labels=self.labels,
                        classes=self.classes, texts=list(self.reports),
                        ids=[f"synthetic/{r}" for r in self.ids], meta=meta)

    def label_counts(self) -> dict[str, int]:
        return {c: int(v) for c, v in zip(self.classes, self.labels.sum(axis=0))}

    @classmethod
    def concat(cls, parts: Sequence["SyntheticDataset"]) -> "SyntheticDataset":
        if not parts:
            raise ValueError("nothing to concatenate")
        if len(parts) == 1:
            return parts[0]
        return cls(signal=np.concatenate([p.signal for p in parts]), fs=parts[0].fs,
                   labels=np.concatenate([p.labels for p in parts]), classes=parts[0].classes,
                   reports=[r for p in parts for r in p.reports],
                   evidence=[e for p in parts for e in p.evidence],
                   params=pd.concat([p.params for p in parts], ignore_index=True), config=parts[0].config)


def generate(n: int = 1000, fs: float = 100.0, seconds: float = 10.0, seed: int = 0,
             conditions: Mapping[str, float] | None = None, noise: str | NoiseConfig = "low",
             mains_hz: float | None = None) -> SyntheticDataset:
    """Generate synthetic 12-lead ECGs with labels, evidence maps and reports.

    Parameters
    ----------
    n : int
        Number of records.
    fs : float, Hz
        Sampling rate (generated natively; >= 50 Hz).
    seconds : float
        Record length in seconds.
    seed : int
        Same seed and settings give identical arrays and reports.
    conditions : mapping of str -> float, optional
        Proposal probability per abnormal class; unnamed classes get 0 (``{"AF": 1.0}`` makes every
        record AF). None uses :data:`~ecgfoundry.datasets.synthetic_conditions.DEFAULT_PREVALENCE`.
    noise : str or NoiseConfig
        ``"none"``, ``"low"`` (default), ``"medium"``, ``"high"`` or explicit amplitudes in mV.
    mains_hz : float, optional
        Powerline frequency; None draws 50 or 60 Hz per record.

    Returns
    -------
    SyntheticDataset
        ``signal`` (N, 12, T) float32 mV, ``labels`` (N, K), ``classes``, ``reports``,
        ``evidence``, ``params``; ``to_batch()`` gives an :class:`~ecgfoundry.batch.EcgBatch`.

    Examples
    --------
    >>> ds = generate(4, fs=100, seconds=10, seed=1)
    >>> ds.signal.shape, ds.signal.dtype.name, len(ds.classes) == ds.labels.shape[1]
    ((4, 12, 1000), 'float32', True)
    """
    return generate_config(SyntheticConfig(n=n, fs=fs, seconds=seconds, seed=seed, conditions=conditions,
                                           noise=noise, mains_hz=mains_hz))


def generate_config(config: SyntheticConfig) -> SyntheticDataset:
    """:func:`generate` from a :class:`SyntheticConfig`."""
    return SyntheticDataset.concat(list(iter_chunks(config)))


def iter_chunks(config: SyntheticConfig) -> Iterator[SyntheticDataset]:
    """Yield the dataset in chunks of up to :data:`CHUNK` records (bounded memory for writing)."""
    n_chunks = (config.n + CHUNK - 1) // CHUNK
    for c in range(n_chunks):
        yield _synthesize_chunk(config, c)


# ----------------------------------------------------------------------------------------------
# the generator
# ----------------------------------------------------------------------------------------------
class _Draws:
    """Random draws sized for a full chunk and cut to the records actually made (prefix-stable)."""

    def __init__(self, rng: np.random.Generator, full: int, m: int):
        self.rng, self.full, self.m = rng, full, m

    def _size(self, size) -> tuple[int, ...]:
        size = (size,) if np.isscalar(size) else tuple(size)
        if size[0] != self.m:
            raise ValueError("first dimension must be the number of records")
        return (self.full,) + size[1:]

    def uniform(self, low=0.0, high=1.0, size=None):
        return self.rng.uniform(low, high, self._size(size))[: self.m]

    def normal(self, loc=0.0, scale=1.0, size=None):
        return self.rng.normal(loc, scale, self._size(size))[: self.m]

    def integers(self, low, high, size=None):
        return self.rng.integers(low, high, self._size(size))[: self.m]

    def choice(self, a, size=None):
        return self.rng.choice(a, self._size(size))[: self.m]

    def poisson(self, lam, size=None):
        return self.rng.poisson(lam, self._size(size))[: self.m]

    def random(self, size=None):
        return self.rng.random(self._size(size))[: self.m]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


# Reference directions (x left, y inferior, z posterior).
_Q_DIR = np.array([-0.55, 0.25, -0.8])
_Q_DIR_LAFB = np.array([-0.2, 0.95, -0.2])
_S_DIR = np.array([-0.45, -0.55, 0.7])
_RPRIME_DIR = np.array([-0.45, 0.05, -0.9])
_P1_DIR = np.array([0.3, 0.85, -0.4])
_P2_DIR = np.array([0.9, 0.3, 0.35])
_FWAVE_DIR = np.array([-0.2, 0.7, -0.7])
_INJURY_DIR = {"ASTEMI": np.array([0.0, -0.3, -1.0]), "ISTEMI": np.array([-0.2, 1.0, 0.25]),
               "LSTEMI": np.array([1.0, -0.5, 2.0])}
_TINV_GROUPS = (("I", "V5", "V6"), ("II", "aVF"), ("V3", "V4"))
_TINV_DIRS = (_INJURY_DIR["LSTEMI"], _INJURY_DIR["ISTEMI"], _INJURY_DIR["ASTEMI"])
_SQRT2PI = np.sqrt(2 * np.pi)


def _gauss_template(t: np.ndarray, c: np.ndarray, s: np.ndarray, v: np.ndarray, fs: float) -> np.ndarray:
    """Anti-aliased Gaussian wave on a fine grid: (m, G, 3) from c, s (m,), v (m, 3)."""
    s_eff = np.sqrt(s ** 2 + dp.antialias_sigma(fs) ** 2)
    g = (s / s_eff)[:, None] * np.exp(-0.5 * ((t[None, :] - c[:, None]) / s_eff[:, None]) ** 2)
    return g[:, :, None] * v[:, None, :]


def _synthesize_chunk(cfg: SyntheticConfig, chunk: int) -> SyntheticDataset:
    start = chunk * CHUNK
    m = min(CHUNK, cfg.n - start)
    fs, dur, n_t = cfg.fs, cfg.seconds, cfg.n_samples
    raw = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(chunk,)))
    r = _Draws(raw, CHUNK, m)

    has = sample_conditions(raw, CHUNK, cfg.conditions)[:m]
    lab = {c: has[:, CLASS_INDEX[c]] for c in SYNTH_CLASSES}
    stemi = lab["ASTEMI"] | lab["ISTEMI"] | lab["LSTEMI"]

    # demographics -------------------------------------------------------------------------
    age = r.integers(18, 91, m)
    sex = np.where(r.random(m) < 0.5, "M", "F")

    # rhythm: RR series -------------------------------------------------------------------
    hr_target = np.select([lab["SBRAD"], lab["STACH"], lab["AF"]],
                          [r.uniform(40, 56, m), r.uniform(104, 150, m), r.uniform(62, 140, m)],
                          r.uniform(62, 96, m))
    rr0 = 60.0 / hr_target
    resp_hz = r.uniform(0.15, 0.4, m)
    a_hf = r.uniform(0.01, 0.05, m) * np.clip(1.3 - age / 100, 0.4, 1.2)
    a_lf, f_lf = r.uniform(0.01, 0.04, m), r.uniform(0.06, 0.13, m)
    ph_lf, ph_hf = r.uniform(0, 2 * np.pi, m), r.uniform(0, 2 * np.pi, m)
    n_beats = int(np.ceil(dur / 0.3)) + 4
    k = np.arange(n_beats)
    tn = k[None, :] * rr0[:, None]
    eps = r.normal(0, 1, (m, n_beats))
    rr_sinus = rr0[:, None] * (1 + a_lf[:, None] * np.sin(2 * np.pi * f_lf[:, None] * tn + ph_lf[:, None])
                               + a_hf[:, None] * np.sin(2 * np.pi * resp_hz[:, None] * tn + ph_hf[:, None])
                               + r.uniform(0.004, 0.012, m)[:, None] * eps)
    cv_af = r.uniform(0.15, 0.30, m)
    eps_af = r.normal(0, 1, (m, n_beats))
    rr_af = rr0[:, None] * np.exp(cv_af[:, None] * eps_af - cv_af[:, None] ** 2 / 2)
    rr = np.maximum(np.where(lab["AF"][:, None], rr_af, rr_sinus), 0.3)
    t0 = -r.uniform(0.0, 1.0, m) * rr0 - 0.1
    onset = t0[:, None] + np.concatenate([np.zeros((m, 1)), np.cumsum(rr[:, :-1], axis=1)], axis=1)

    # PVCs: early beat in slot k, sinus schedule kept (compensatory pause) ------------------
    p_pvc = r.uniform(0.06, 0.18, m)
    u_pvc = r.random((m, n_beats))
    coupling = r.uniform(0.5, 0.68, m)
    cand = (k[None, :] >= 1) & (k[None, :] <= n_beats - 2) & (onset > 0.4) & (onset < dur - 0.6)
    pvc = lab["PVC"][:, None] & cand & (u_pvc < p_pvc[:, None])
    for j in range(1, n_beats):
        pvc[:, j] &= ~pvc[:, j - 1]
    need = lab["PVC"] & ~pvc.any(axis=1) & cand.any(axis=1)
    if need.any():
        pick = np.argmax(np.where(cand, u_pvc, -1.0), axis=1)
        pvc[np.nonzero(need)[0], pick[need]] = True
    lab["PVC"] = lab["PVC"] & pvc.any(axis=1)          # a record too short for a PVC loses the label
    has[:, CLASS_INDEX["PVC"]] = lab["PVC"]
    prev = np.concatenate([onset[:, :1] - rr0[:, None], onset[:, :-1]], axis=1)
    onset = np.where(pvc, prev + coupling[:, None] * (onset - prev), onset)
    sinus = ~pvc
    rr_prev = np.diff(np.concatenate([onset[:, :1] - rr0[:, None], onset], axis=1), axis=1)

    # intervals -----------------------------------------------------------------------------
    qrs = np.select([lab["LBBB"], lab["RBBB"], lab["LAFB"] | lab["LVH"]],
                    [r.uniform(130, 170, m), r.uniform(126, 160, m), r.uniform(92, 110, m)],
                    r.uniform(78, 100, m)) / 1000.0
    qrs_base = np.where(lab["RBBB"], r.uniform(80, 94, m) / 1000.0, qrs)
    pr = np.where(lab["1AVB"], r.uniform(222, 330, m), r.uniform(128, 190, m)) / 1000.0
    qtc = np.where(lab["LQT"], r.uniform(485, 560, m), r.uniform(370, 435, m)) / 1000.0
    qt_beat = qtc[:, None] * np.cbrt(rr_prev)            # Fridericia
    qt_beat = np.maximum(qt_beat, qrs[:, None] + 0.12)
    t_frac = r.uniform(0.11, 0.14, m)
    sig_t = t_frac[:, None] * (qt_beat - qrs[:, None])
    c_t = qt_beat - 2.5 * sig_t                           # T end = QRS onset + QT

    # axis and QRS vectors ------------------------------------------------------------------
    axis = np.select([lab["LAFB"], lab["LBBB"]], [r.uniform(-80, -48, m), r.uniform(-20, 60, m)],
                     np.clip(r.normal(50, 25, m), -25, 88))
    alpha = np.deg2rad(axis)
    body = r.uniform(0.8, 1.25, m)
    m_r = r.uniform(0.9, 1.7, m) * body * np.where(lab["LVH"], 1.6, 1.0)
    z_r = m_r * np.where(lab["LVH"], r.uniform(0.3, 0.6, m), r.uniform(-0.05, 0.4, m))
    f = qrs_base / 0.0885
    jit = r.normal(0, 0.12, (m, 6, 3))
    q_dir = _unit(np.where(lab["LAFB"][:, None], _Q_DIR_LAFB, _Q_DIR) + jit[:, 0])
    q_vec = q_dir * r.uniform(0.05, 0.2, m)[:, None] * body[:, None]
    s_vec = _unit(_S_DIR + jit[:, 1]) * r.uniform(0.25, 0.6, m)[:, None] * body[:, None]
    s_vec = np.where(lab["LBBB"][:, None], 0.0, s_vec)
    q_vec = np.where(lab["LBBB"][:, None], 0.0, q_vec)
    sig_q, sig_r, sig_s = 0.008 * f, 0.010 * f, 0.009 * f
    c_q, c_r, c_s = 0.020 * f, 0.042 * f, 0.066 * f
    sig_rp = r.uniform(0.016, 0.022, m)
    c_rp = qrs - 2.5 * sig_rp
    rp_vec = np.where(lab["RBBB"][:, None],
                      _unit(_RPRIME_DIR + jit[:, 2]) * r.uniform(0.4, 0.8, m)[:, None] * body[:, None], 0.0)
    gap = r.uniform(0.3, 0.4, m) * qrs
    sig_l = (qrs - gap) / 5.0
    c_l1, c_l2 = 2.5 * sig_l, 2.5 * sig_l + gap
    a_l1 = r.uniform(0.9, 1.4, m) * body
    a_l2 = a_l1 * r.uniform(0.9, 1.2, m)
    z_l1, z_l2 = r.uniform(0.5, 0.9, m), r.uniform(0.3, 0.7, m)
    # main component(s): R (or L1 + L2 in LBBB); frontal direction beta solved so that the net
    # QRS area vector has frontal angle alpha exactly (in RBBB: of the initial forces, without R')
    other_area = q_vec * (sig_q * _SQRT2PI)[:, None] + s_vec * (sig_s * _SQRT2PI)[:, None]
    main_area = np.where(lab["LBBB"], (a_l1 + a_l2) * sig_l * _SQRT2PI, m_r * sig_r * _SQRT2PI)
    ox, oy = other_area[:, 0], other_area[:, 1]
    beta = alpha - np.arcsin(np.clip((oy * np.cos(alpha) - ox * np.sin(alpha)) / main_area, -0.95, 0.95))
    frontal = np.stack([np.cos(beta), np.sin(beta), np.zeros(m)], axis=1)
    r_vec = np.where(lab["LBBB"][:, None], 0.0, m_r[:, None] * frontal + z_r[:, None] * [0, 0, 1])
    l1_vec = np.where(lab["LBBB"][:, None], a_l1[:, None] * (frontal + z_l1[:, None] * [0, 0, 1]), 0.0)
    l2_vec = np.where(lab["LBBB"][:, None], a_l2[:, None] * (frontal + z_l2[:, None] * [0, 0, 1]), 0.0)

    # calibrate QRS amplitude on the noise-free band-limited template (LVH / LOWV criteria) ---
    tg = np.arange(-0.01, 0.22, 0.0005)
    qrs_parts = [(c_q, sig_q, q_vec), (c_r, sig_r, r_vec), (c_s, sig_s, s_vec), (c_rp, sig_rp, rp_vec),
                 (c_l1, sig_l, l1_vec), (c_l2, sig_l, l2_vec)]
    tmpl = sum(_gauss_template(tg, c, s, v, fs) for c, s, v in qrs_parts)          # (m, G, 3)
    tl = np.einsum("ld,mgd->mlg", dp.LEAD_VECTORS, tmpl)                           # (m, 12, G)
    limb = [LEAD_INDEX[x] for x in LIMB_LEADS]
    limb_p2p = (tl[:, limb].max(axis=2) - tl[:, limb].min(axis=2)).max(axis=1)
    sok = -tl[:, LEAD_INDEX["V1"]].min(axis=1) + np.maximum(tl[:, LEAD_INDEX["V5"]].max(axis=1),
                                                            tl[:, LEAD_INDEX["V6"]].max(axis=1))
    scale = np.maximum(1.0, 0.62 / limb_p2p)
    scale = np.where(lab["LOWV"], r.uniform(0.25, 0.42, m) / limb_p2p, scale)
    scale = np.where(lab["LVH"], r.uniform(3.8, 5.0, m) / sok, np.minimum(scale, 3.2 / sok))
    for _, _, v in qrs_parts:
        v *= scale[:, None]
    limb_p2p, sok = limb_p2p * scale, sok * scale

    # P waves -------------------------------------------------------------------------------
    sig_p = r.uniform(0.013, 0.017, m)
    p_amp = r.uniform(0.08, 0.16, m)
    p1_vec = _unit(_P1_DIR + jit[:, 3]) * p_amp[:, None]
    p2_vec = _unit(_P2_DIR + jit[:, 4]) * (p_amp * r.uniform(0.6, 0.9, m))[:, None]
    p_gap = r.uniform(0.015, 0.025, m)
    c_p1 = -pr + 2.5 * sig_p
    c_p2 = c_p1 + p_gap

    # T waves -------------------------------------------------------------------------------
    theta_t = np.deg2rad(np.clip(np.where(lab["LAFB"], 30.0, axis) + r.normal(0, 15, m), 10, 70))
    a_t = r.uniform(0.25, 0.55, m) * body
    t_vec = a_t[:, None] * np.stack([np.cos(theta_t), np.sin(theta_t), r.uniform(-0.45, -0.1, m)], axis=1)
    t_vec = t_vec + np.where(lab["RBBB"][:, None], (a_t * r.uniform(0.4, 0.8, m))[:, None] * [1.0, 0.0, 0.2], 0.0)
    l_dir = _unit(l1_vec + l2_vec + 1e-12)
    t_vec = np.where(lab["LBBB"][:, None], -l_dir * r.uniform(0.3, 0.6, m)[:, None] * body[:, None], t_vec)
    # STEMI: injury current during ST (calibrated on the lead vectors) + hyperacute T
    inj_vec = np.zeros((m, 3))
    st_target = r.uniform(0.15, 0.25, m)
    inj_jit = r.normal(0, 0.04, (m, 3))
    hyper = r.uniform(0.1, 0.3, m)
    for cls in STEMI_CLASSES:
        rows = lab[cls]
        if not rows.any():
            continue
        u = _INJURY_DIR[cls] + inj_jit[rows]
        proj = u @ dp.LEAD_VECTORS.T                                    # (mr, 12)
        terr = lead_mask(EVIDENCE_LEADS[cls])
        s = st_target[rows] / proj[:, terr].min(axis=1)
        s = np.minimum(s, 0.05 / np.maximum(proj[:, ~terr].max(axis=1), 1e-6))
        inj_vec[rows] = u * s[:, None]
        t_vec[rows] += _unit(u) * hyper[rows, None]
    st_level = inj_vec @ dp.LEAD_VECTORS.T
    # TINV: push T away from a lead group until T <= -depth there
    t_group = r.integers(0, len(_TINV_GROUPS), m)
    t_depth = r.uniform(0.15, 0.4, m)
    for g, (names, u) in enumerate(zip(_TINV_GROUPS, _TINV_DIRS)):
        rows = lab["TINV"] & (t_group == g)
        if not rows.any():
            continue
        u = _unit(u)
        idx = [LEAD_INDEX[x] for x in names]
        lt = t_vec[rows] @ dp.LEAD_VECTORS[idx].T
        lu = dp.LEAD_VECTORS[idx] @ u
        shift = ((lt + t_depth[rows, None]) / lu).max(axis=1)
        t_vec[rows] -= shift[:, None] * u
    t_lead = t_vec @ dp.LEAD_VECTORS.T                                  # T peak per lead (m, 12)
    lbbb_st = np.where(lab["LBBB"][:, None], -l_dir * r.uniform(0.05, 0.12, m)[:, None], 0.0)

    # PVC morphology (unifocal per record) -------------------------------------------------
    u_foc = _unit(r.normal(0, 1, (m, 3)) + [0.0, 0.6, 0.0])
    qrs_v = r.uniform(0.13, 0.17, m)
    gap_v = 0.35 * qrs_v
    sig_v = (qrs_v - gap_v) / 5.0
    a_v = r.uniform(1.0, 1.8, m) * body * np.minimum(scale, 1.0)
    v1_vec = u_foc * a_v[:, None]
    v2_vec = _unit(u_foc + r.normal(0, 0.25, (m, 3))) * (a_v * r.uniform(0.7, 1.0, m))[:, None]
    tv_vec = -u_foc * (r.uniform(0.3, 0.6, m) * body)[:, None]
    qt_v = qtc * np.cbrt(rr0) + 0.04
    sig_tv = 0.15 * (qt_v - qrs_v)

    # AF f-waves and respiratory modulation -------------------------------------------------
    f_amp = np.where(lab["AF"], r.uniform(0.05, 0.15, m), 0.0)
    f_dir = _unit(_FWAVE_DIR + jit[:, 5])
    am = 1 + r.uniform(0.0, 0.04, m)[:, None] * np.sin(2 * np.pi * resp_hz[:, None] * onset
                                                         + r.uniform(0, 2 * np.pi, m)[:, None])

    # noise parameters (drawn for every record so the stream never depends on the settings) -
    nc = cfg.noise_config
    noise_scale = r.uniform(0.5, 1.5, m)
    mains = r.choice(np.array([50.0, 60.0]), m) if cfg.mains_hz is None else np.full(m, float(cfg.mains_hz))
    report_u = r.random((m, 40))

    # synthesis -----------------------------------------------------------------------------
    dip = np.zeros((m, 3, n_t))
    conducted = sinus
    with_p = conducted & ~lab["AF"][:, None]

    def beat_vec(vec: np.ndarray, gate: np.ndarray) -> np.ndarray:
        return vec[:, None, :] * (gate * am)[:, :, None]

    def add(c_rel, sig, vec, gate):
        c_rel = np.broadcast_to(np.asarray(c_rel)[:, None] if np.ndim(c_rel) == 1 else c_rel, onset.shape)
        sig = np.broadcast_to(np.asarray(sig)[:, None] if np.ndim(sig) == 1 else sig, onset.shape)
        dp.add_gaussian_waves(dip, fs, onset + c_rel, sig, beat_vec(vec, gate))

    add(c_p1, sig_p, p1_vec, with_p)
    add(c_p2, sig_p, p2_vec, with_p)
    for c, s, v in qrs_parts:
        add(c, s, v, conducted)
    add(c_t - 0.8 * sig_t, 1.1 * sig_t, 0.25 * t_vec, conducted)
    add(c_t, sig_t, t_vec, conducted)
    add(2.5 * sig_v, sig_v, v1_vec, pvc)
    add(2.5 * sig_v + gap_v, sig_v, v2_vec, pvc)
    add(np.broadcast_to((qt_v - 2.5 * sig_tv)[:, None], onset.shape), sig_tv, tv_vec, pvc)
    rise = max(0.004, dp.antialias_sigma(fs))
    for vec in (inj_vec, lbbb_st):
        dp.add_plateau_waves(dip, fs, onset + qrs[:, None], onset + c_t, rise, 0.8 * sig_t,
                             beat_vec(vec, conducted))
    fw = dp.fibrillatory_waves(r, m, n_t, fs, f_amp)     # always drawn: keeps the stream data-independent
    dip += f_dir[:, :, None] * fw[:, None, :]

    pot = np.matmul(dp.electrode_lead_vectors(), dip)
    if not nc.is_silent:
        white = None
        if nc.emg_mv > 0:  # own stream, filled record by record: prefix-stable in m
            white = (np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(chunk, 1)))
                     .standard_normal((m, 9, n_t), dtype=np.float32))
        pot += dp.electrode_noise(r, m, n_t, fs, baseline_mv=nc.baseline_mv * noise_scale,
                                  powerline_mv=nc.powerline_mv * noise_scale, emg_mv=nc.emg_mv * noise_scale,
                                  motion_mv=nc.motion_mv * noise_scale,
                                  motion_rate_per_min=nc.motion_rate_per_min, mains_hz=mains,
                                  resp_hz=resp_hz, white=white)
    signal = dp.leads_from_potentials(pot).astype(np.float32)

    # ground truth: params, evidence, reports ----------------------------------------------
    inside = (onset >= 0) & (onset < dur)
    ids = [f"{start + i + 1:05d}" for i in range(m)]
    both = inside[:, 1:] & inside[:, :-1]
    d = np.where(both, np.diff(onset, axis=1), 0.0)
    n_d = both.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_d = d.sum(axis=1) / n_d
        sd_d = np.sqrt(np.where(both, (d - mean_d[:, None]) ** 2, 0.0).sum(axis=1) / n_d)
        hr_meas = 60.0 / mean_d
        rr_cv = np.where(n_d > 1, sd_d / mean_d, np.nan)
    st_terr = np.zeros(m)
    for cls in STEMI_CLASSES:
        rows = lab[cls]
        st_terr[rows] = st_level[rows][:, lead_mask(EVIDENCE_LEADS[cls])].min(axis=1)
    params = pd.DataFrame({
        "record_id": ids, "patient_id": [f"S{start + i + 1:06d}" for i in range(m)],
        "age": age, "sex": sex,
        "hr_bpm": np.round(hr_meas, 1), "rr_cv": np.round(rr_cv, 4),
        "pr_ms": np.where(lab["AF"], np.nan, np.round(pr * 1000, 1)),
        "qrs_ms": np.round(qrs * 1000, 1), "qt_ms": np.round(qtc * np.cbrt(rr0) * 1000, 1),
        "qtc_ms": np.round(qtc * 1000, 1), "axis_deg": np.round(_net_axis([p for p in qrs_parts if p[2] is not rp_vec]), 1),
        "sokolow_mv": np.round(sok, 3), "limb_qrs_mv": np.round(limb_p2p, 3),
        "st_mv": np.round(st_terr, 3), "n_pvc": (pvc & inside).sum(axis=1),
        "resp_per_min": np.round(resp_hz * 60, 1), "f_wave_mv": np.round(f_amp, 3),
        "mains_hz": mains, "noise_scale": np.round(noise_scale, 3),
        "fold": (start + np.arange(m)) % 10 + 1,
    })
    evidence = []
    reports = []
    noisy = not nc.is_silent and nc.baseline_mv >= 0.15
    span_sets = {  # (m, B, 2) sample spans and (m, B) which beats have them
        "qrs": _span_array(onset, onset + qrs[:, None], conducted, fs, n_t),
        "st": _span_array(onset + qrs[:, None], onset + qt_beat, conducted, fs, n_t),
        "t": _span_array(onset + c_t - 2.5 * sig_t, onset + qt_beat, conducted, fs, n_t),
        "pr": _span_array(onset - pr[:, None], onset, conducted, fs, n_t),
        "pvc": _span_array(onset, onset + qt_v[:, None], pvc, fs, n_t),
        "qt": _span_array(onset, onset + qt_beat, conducted, fs, n_t),
    }
    span_of = {"1AVB": "pr", "RBBB": "qrs", "LBBB": "qrs", "LAFB": "qrs", "LVH": "qrs", "LOWV": "qrs",
                "ASTEMI": "st", "ISTEMI": "st", "LSTEMI": "st", "TINV": "t", "PVC": "pvc", "LQT": "qt"}
    whole = np.array([[0, n_t]], dtype=np.int32)
    tinv_ok = t_lead[:, [LEAD_INDEX[x] for x in TINV_LEADS]] <= -0.1
    recip_ok = st_level <= -0.08   # reciprocal: injury-current ST depression of at least 0.08 mV
    for i in range(m):
        items: list[EvidenceItem] = []
        present = [c for c in SYNTH_CLASSES if has[i, CLASS_INDEX[c]]]
        tinv_leads = tuple(x for x, ok in zip(TINV_LEADS, tinv_ok[i]) if ok)
        for c in present:
            if c in span_of:
                arr, keep = span_sets[span_of[c]]
                spans = arr[i][keep[i]]
            else:
                spans = whole
            leads = tinv_leads if c == "TINV" else (LEADS if EVIDENCE_LEADS[c] is None else EVIDENCE_LEADS[c])
            items.append(EvidenceItem(c, tuple(leads), spans))
            if c in RECIPROCAL_LEADS:
                recip = tuple(x for x in RECIPROCAL_LEADS[c] if recip_ok[i, LEAD_INDEX[x]])
                if recip:
                    items.append(EvidenceItem(c, recip, spans, "reciprocal"))
        evidence.append(items)
        values = {"hr": int(round(hr_meas[i])), "pr": int(round(pr[i] * 1000)), "qrs": int(round(qrs[i] * 1000)),
                  "qt": int(round(params.at[i, "qt_ms"])), "qtc": int(round(qtc[i] * 1000)),
                  "axis": int(round(params.at[i, "axis_deg"])), "sok": f"{sok[i]:.1f}",
                  "st": f"{st_terr[i]:.2f}", "tleads": ", ".join(tinv_leads) or "-",
                  "npvc": int(params.at[i, "n_pvc"])}
        reports.append(build_report(present, values, report_u[i], noisy=noisy))
    return SyntheticDataset(signal=signal, fs=fs, labels=has.astype(np.float32), classes=SYNTH_CLASSES,
                            reports=reports, evidence=evidence, params=params, config=cfg)


def _span_array(a: np.ndarray, b: np.ndarray, gate: np.ndarray, fs: float, n_t: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Sample spans ``[floor(a fs), ceil(b fs))`` clipped to the record: (m, B, 2) int32 and a
    (m, B) mask of the gated, non-empty ones."""
    lo = np.clip(np.floor(a * fs), 0, n_t).astype(np.int32)
    hi = np.clip(np.ceil(b * fs), 0, n_t).astype(np.int32)
    return np.stack([lo, hi], axis=-1), gate & (hi > lo)


def _net_axis(parts) -> np.ndarray:
    """Frontal QRS axis (deg) of the net QRS area vector: atan2(y, x) (hexaxial, Einthoven)."""
    area = sum(v * (np.broadcast_to(s, v.shape[:1]) * _SQRT2PI)[:, None] for _, s, v in parts)
    return np.rad2deg(np.arctan2(area[:, 1], area[:, 0]))


def evidence_to_json(evidence: Sequence[Sequence[EvidenceItem]], ids: Sequence[str]) -> Iterator[str]:
    """One JSON line per record: ``{"record": id, "evidence": [items]}``."""
    for rid, items in zip(ids, evidence):
        yield json.dumps({"record": rid, "evidence": [it.to_json() for it in items]}, separators=(",", ":"))
