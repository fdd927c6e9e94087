"""The condition catalogue of the synthetic generator: class names, incompatibilities, default
prevalences, diagnostic lead sets and sampling of compatible condition sets.

Criteria follow the AHA/ACCF/HRS recommendations for the standardisation and interpretation of
the ECG (Surawicz et al., *Circulation* 2009;119:e235 (intraventricular conduction); Hancock et al.,
*Circulation* 2009;119:e251 (hypertrophy, ST-T); Wagner et al., *Circulation* 2009;119:e262 (acute
ischaemia / infarction)) and the 4th universal definition of MI (Thygesen et al., *Circulation*
2018;138:e618) for ST elevation (>= 0.1 mV in two contiguous leads).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ecgfoundry.signals.leads import LEADS

SYNTH_CLASSES: tuple[str, ...] = (
    "NORM",    # normal ECG: sinus rhythm 60-100 bpm and no other finding
    "SBRAD",   # sinus bradycardia (< 60 bpm)
    "STACH",   # sinus tachycardia (> 100 bpm)
    "AF",      # atrial fibrillation: irregularly irregular RR, no P waves, f-waves 4-9 Hz
    "1AVB",    # first-degree AV block: PR > 200 ms
    "RBBB",    # complete right bundle branch block: QRS >= 120 ms, rSR' in V1, wide S in I / V6
    "LBBB",    # complete left bundle branch block: QRS >= 120 ms, broad notched R in I, aVL, V5-V6
    "LAFB",    # left anterior fascicular block: frontal QRS axis -45 to -90 deg
    "LVH",     # left ventricular hypertrophy by voltage (Sokolow-Lyon SV1 + RV5/6 > 3.5 mV)
    "ASTEMI",  # anterior ST elevation (V1-V4), reciprocal depression inferiorly
    "ISTEMI",  # inferior ST elevation (II, III, aVF), reciprocal depression in I / aVL
    "LSTEMI",  # lateral ST elevation (I, aVL, V5, V6), reciprocal depression in III / aVF
    "TINV",    # T-wave inversion (<= -0.1 mV) in leads where T is normally upright
    "PVC",     # premature ventricular complexes with a compensatory pause
    "LOWV",    # low QRS voltage: peak-to-peak QRS < 0.5 mV in every limb lead
    "LQT",     # prolonged QT: QTc (Fridericia) > 470 ms
)
"""Ordered class names of the synthetic dataset (the columns of ``labels``)."""

CLASS_INDEX: dict[str, int] = {c: i for i, c in enumerate(SYNTH_CLASSES)}

CLASS_DESCRIPTIONS: dict[str, str] = {
    "NORM": "normal ECG", "SBRAD": "sinus bradycardia", "STACH": "sinus tachycardia",
    "AF": "atrial fibrillation", "1AVB": "first-degree AV block",
    "RBBB": "right bundle branch block", "LBBB": "left bundle branch block",
    "LAFB": "left anterior fascicular block", "LVH": "left ventricular hypertrophy",
    "ASTEMI": "anterior ST-elevation myocardial infarction",
    "ISTEMI": "inferior ST-elevation myocardial infarction",
    "LSTEMI": "lateral ST-elevation myocardial infarction", "TINV": "T-wave inversion",
    "PVC": "premature ventricular complexes", "LOWV": "low QRS voltage", "LQT": "prolonged QT interval",
}

STEMI_CLASSES: tuple[str, ...] = ("ASTEMI", "ISTEMI", "LSTEMI")

INCOMPATIBLE: tuple[tuple[str, str, str], ...] = (
    ("SBRAD", "STACH", "one sinus rate per record"),
    ("AF", "SBRAD", "AF is not a sinus rhythm; its rate is part of the AF statement"),
    ("AF", "STACH", "AF is not a sinus rhythm; its rate is part of the AF statement"),
    ("AF", "1AVB", "no P waves in AF, so no PR interval"),
    ("RBBB", "LBBB", "complete block of both bundles would be complete heart block"),
    ("LBBB", "LAFB", "fascicular block is not diagnosed in the presence of LBBB"),
    ("LBBB", "LVH", "voltage criteria for LVH are not valid in LBBB"),
    ("LBBB", "ASTEMI", "ST elevation in LBBB needs Sgarbossa criteria; kept unambiguous"),
    ("LBBB", "ISTEMI", "ST elevation in LBBB needs Sgarbossa criteria; kept unambiguous"),
    ("LBBB", "LSTEMI", "ST elevation in LBBB needs Sgarbossa criteria; kept unambiguous"),
    ("LBBB", "TINV", "T inversion in LBBB is secondary (expected), not a separate finding"),
    ("LBBB", "LOWV", "kept unambiguous: LBBB complexes are large"),
    ("RBBB", "ASTEMI", "secondary ST-T changes of RBBB in V1-V3 confound anterior ST elevation"),
    ("LVH", "LOWV", "high and low voltage exclude each other"),
    ("ASTEMI", "ISTEMI", "one infarct territory per record"),
    ("ASTEMI", "LSTEMI", "one infarct territory per record"),
    ("ISTEMI", "LSTEMI", "one infarct territory per record"),
    ("TINV", "ASTEMI", "acute STEMI has upright (hyperacute) T waves in this generator"),
    ("TINV", "ISTEMI", "acute STEMI has upright (hyperacute) T waves in this generator"),
    ("TINV", "LSTEMI", "acute STEMI has upright (hyperacute) T waves in this generator"),
)
"""Pairs of conditions never drawn together, with the reason. NORM excludes every other class."""


def incompatibility_matrix() -> np.ndarray:
    """Symmetric (K, K) bool matrix; True where two classes are never drawn together."""
    k = len(SYNTH_CLASSES)
    out = np.zeros((k, k), dtype=bool)
    for a, b, _ in INCOMPATIBLE:
        out[CLASS_INDEX[a], CLASS_INDEX[b]] = out[CLASS_INDEX[b], CLASS_INDEX[a]] = True
    out[CLASS_INDEX["NORM"], :] = out[:, CLASS_INDEX["NORM"]] = True
    np.fill_diagonal(out, False)
    return out


DEFAULT_PREVALENCE: dict[str, float] = {
    "SBRAD": 0.07, "STACH": 0.07, "AF": 0.08, "1AVB": 0.06, "RBBB": 0.06, "LBBB": 0.05,
    "LAFB": 0.05, "LVH": 0.07, "ASTEMI": 0.04, "ISTEMI": 0.04, "LSTEMI": 0.03, "TINV": 0.05,
    "PVC": 0.06, "LOWV": 0.04, "LQT": 0.04,
}
"""Default proposal probability of each abnormal class (NORM = none drawn; about 40 % of records)."""

# Diagnostic lead sets (evidence leads) per class; None = all 12 leads.
_L = {name: i for i, name in enumerate(LEADS)}
LIMB_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF")
EVIDENCE_LEADS: dict[str, tuple[str, ...] | None] = {
    "NORM": None, "SBRAD": None, "STACH": None, "AF": None, "1AVB": None,
    "RBBB": ("I", "V1", "V2", "V6"),
    "LBBB": ("I", "aVL", "V1", "V2", "V5", "V6"),
    "LAFB": ("I", "II", "III", "aVL", "aVF"),
    "LVH": ("aVL", "V1", "V2", "V5", "V6"),
    "ASTEMI": ("V1", "V2", "V3", "V4"),
    "ISTEMI": ("II", "III", "aVF"),
    "LSTEMI": ("I", "aVL", "V5", "V6"),
    "TINV": None,  # computed per record: the leads where T is inverted
    "PVC": None, "LOWV": LIMB_LEADS, "LQT": None,
}
RECIPROCAL_LEADS: dict[str, tuple[str, ...]] = {
    "ASTEMI": ("II", "III", "aVF"), "ISTEMI": ("I", "aVL"), "LSTEMI": ("III", "aVF"),
}
TINV_LEADS: tuple[str, ...] = ("I", "II", "aVF", "V3", "V4", "V5", "V6")
"""Leads where an inverted T wave is abnormal (T in III, aVR, aVL, V1, V2 may be negative normally)."""


def lead_mask(names: tuple[str, ...] | None) -> np.ndarray:
    """Bool mask (12,) of lead names (None = all leads)."""
    mask = np.zeros(len(LEADS), dtype=bool)
    if names is None:
        mask[:] = True
    else:
        mask[[_L[n] for n in names]] = True
    return mask


def check_prevalence(conditions: Mapping[str, float]) -> dict[str, float]:
    """Validate a class -> probability mapping; unknown classes and bad values raise ValueError."""
    out: dict[str, float] = {}
    for name, p in conditions.items():
        if name not in CLASS_INDEX:
            raise ValueError(f"unknown synthetic condition {name!r}; known: {', '.join(SYNTH_CLASSES)}")
        if name == "NORM":
            raise ValueError("NORM is implied (records with no other condition); give only abnormal classes")
        p = float(p)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"probability of {name} must be in [0, 1], got {p}")
        out[name] = p
    return out


def sample_conditions(rng: np.random.Generator, m: int, prevalence: Mapping[str, float]) -> np.ndarray:
    """Draw compatible condition sets, shape (m, K) bool.

    Every record visits the abnormal classes in its own random order and accepts class ``c`` with
    probability ``prevalence[c]`` unless it conflicts with one already accepted (see
    :data:`INCOMPATIBLE`); so realised prevalences are somewhat below the proposals for classes with
    many conflicts. NORM is set where nothing else was drawn.
    """
    k = len(SYNTH_CLASSES)
    p = np.zeros(k)
    for name, v in prevalence.items():
        p[CLASS_INDEX[name]] = v
    inc = incompatibility_matrix()
    u = rng.random((m, k))
    order = np.argsort(rng.random((m, k)), axis=1)
    chosen = np.zeros((m, k), dtype=bool)
    rows = np.arange(m)
    for j in range(k):
        c = order[:, j]
        conflict = np.any(chosen & inc[c], axis=1)
        accept = (u[rows, c] < p[c]) & ~conflict & (c != CLASS_INDEX["NORM"])
        chosen[rows[accept], c[accept]] = True
    chosen[:, CLASS_INDEX["NORM"]] = ~chosen.any(axis=1)
    return chosen
