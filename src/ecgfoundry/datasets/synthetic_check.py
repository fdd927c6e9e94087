"""Independent measurements used to validate the synthetic generator (tests and
``benchmarks/validate_synth.py``). Nothing here reads the generator's parameters.

Methods
-------
* Beat detection: peaks of the multi-lead spatial acceleration (norm of the 12-lead second
  derivative), at least 250 ms apart, moved to the spatial-velocity maximum.
* Median beat: the sample-wise median of all beats aligned on those peaks (robust to PVCs).
* QRS onset / offset: walking out from the spatial-velocity maximum of the median beat, the first
  point where the spatial velocity stays below 5 % of that maximum for 20 ms (spatial-velocity
  delineation, as in the multi-lead QRS boundary detectors reviewed by Kors & van Herpen,
  *J Electrocardiol* 2001;34 Suppl:131).
* P onset: walking back from QRS onset over the spatial magnitude of the median beat, across the
  P wave to where it falls below 15 % of its maximum; PR = QRS onset - P onset.
* ST deviation per lead: median beat at J + 60 ms minus the PR-segment level (mean of the 25 ms
  before QRS onset), with J the measured QRS offset.
* T amplitude per lead: the largest deviation from the PR level between J + 60 ms and 55 % of RR.
* RR irregularity: coefficient of variation of the RR intervals between detected beats.
* neurokit2 (Makowski et al., *Behav Res Methods* 2021;53:1689): :func:`neurokit_intervals`
  runs ``nk.ecg_peaks`` + ``nk.ecg_delineate`` (DWT) on lead II for comparison.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import find_peaks

from ecgfoundry.signals.leads import LEAD_INDEX

PRE_S, POST_S = 0.45, 0.65


def spatial_velocity(x: np.ndarray, fs: float, smooth_s: float = 0.01) -> np.ndarray:
    """Norm of the lead-wise derivative of ``x`` (12, T), in mV/s, lightly smoothed."""
    xs = uniform_filter1d(x.astype(np.float64), max(1, int(round(smooth_s * fs))), axis=-1)
    d = np.gradient(xs, axis=-1) * fs
    return np.sqrt((d ** 2).sum(axis=0))


def detect_beats(x: np.ndarray, fs: float) -> np.ndarray:
    """QRS positions (sample indices) of a (12, T) record.

    Candidates are peaks of the spatial *acceleration* (norm of the 12-lead second derivative after
    20 ms smoothing), which favours the steep QRS over broad T waves (also discordant ones in LBBB);
    each is then moved to the spatial-velocity maximum within +-60 ms.
    """
    xs = uniform_filter1d(x.astype(np.float64), max(1, int(round(0.02 * fs))), axis=-1)
    acc = np.sqrt((np.gradient(np.gradient(xs, axis=-1), axis=-1) ** 2).sum(axis=0)) * fs * fs
    acc = uniform_filter1d(acc, max(1, int(0.04 * fs)))
    cand, _ = find_peaks(acc, height=0.35 * np.percentile(acc, 99.5), distance=max(1, int(0.25 * fs)))
    sv = spatial_velocity(x, fs)
    half = int(0.06 * fs)
    return np.array([max(0, c - half) + int(np.argmax(sv[max(0, c - half):c + half])) for c in cand], dtype=int)


def median_beat(x: np.ndarray, fs: float, peaks: np.ndarray) -> np.ndarray | None:
    """Median of the beats around ``peaks``: (12, W) with the QRS at ``PRE_S`` s; None if no full beat."""
    pre, post = int(PRE_S * fs), int(POST_S * fs)
    ok = peaks[(peaks >= pre) & (peaks + post <= x.shape[1])]
    if len(ok) == 0:
        return None
    beats = np.stack([x[:, p - pre:p + post] for p in ok])
    return np.median(beats, axis=0)


def _run_end(below: np.ndarray, run: int) -> int:
    """Index of the first sample starting ``run`` consecutive True values (len(below) if none)."""
    count = 0
    for i, b in enumerate(below):
        count = count + 1 if b else 0
        if count >= run:
            return i - run + 1
    return len(below)


def qrs_bounds(beat: np.ndarray, fs: float, frac: float = 0.05, quiet_s: float = 0.02) -> tuple[int, int]:
    """QRS onset and offset (samples into ``beat``): walking out from the spatial-velocity maximum,
    the first point where the spatial velocity stays below ``frac`` of that maximum for ``quiet_s``."""
    sv = spatial_velocity(beat, fs)
    c = int(PRE_S * fs)
    lo, hi = c - int(0.2 * fs), c + int(0.25 * fs)
    peak = lo + int(np.argmax(sv[lo:hi]))
    below = sv < frac * sv[peak]
    run = max(2, int(round(quiet_s * fs)))
    off = peak + _run_end(below[peak:hi], run)
    on = peak - _run_end(below[lo:peak + 1][::-1], run)
    return on, off


def p_onset(beat: np.ndarray, fs: float, qrs_on: int, frac: float = 0.15) -> int | None:
    """P-wave onset (sample into ``beat``) or None when no P wave precedes the QRS.

    Walking back from QRS onset over the spatial magnitude (relative to the PR-segment level):
    enter the P wave where it exceeds 0.03 mV, follow it to its maximum, and take the onset where it
    falls below ``frac`` of that maximum.
    """
    base = beat[:, max(0, qrs_on - int(0.025 * fs)):max(1, qrs_on - int(0.005 * fs))].mean(axis=1)
    mag = np.sqrt(((beat - base[:, None]) ** 2).sum(axis=0))
    mag = uniform_filter1d(mag, max(1, int(0.01 * fs)))
    start = qrs_on - int(0.02 * fs)
    stop = max(0, qrs_on - int(0.42 * fs))
    i = start
    while i > stop and mag[i] < 0.03:
        i -= 1
    if i <= stop:
        return None
    peak = i
    while i > stop and mag[i - 1] >= mag[i] * 0.98:
        i -= 1
        if mag[i] > mag[peak]:
            peak = i
    while i > stop and mag[i] > frac * mag[peak]:
        i -= 1
    return i if i > stop else None


def measure_record(x: np.ndarray, fs: float) -> dict[str, object]:
    """Intervals, RR statistics and per-lead ST deviation / amplitudes of one (12, T) record."""
    peaks = detect_beats(x, fs)
    out: dict[str, object] = {"n_beats": len(peaks)}
    rr = np.diff(peaks) / fs
    out["hr_bpm"] = 60.0 / rr.mean() if len(rr) else np.nan
    out["rr_cv"] = rr.std() / rr.mean() if len(rr) > 1 else np.nan
    out["rr_min_ratio"] = rr.min() / np.median(rr) if len(rr) > 1 else np.nan
    out["rr_max_ratio"] = rr.max() / np.median(rr) if len(rr) > 1 else np.nan
    beat = median_beat(x, fs, peaks)
    if beat is None:
        return out
    on, off = qrs_bounds(beat, fs)
    p_on = p_onset(beat, fs, on)
    base = beat[:, max(0, on - int(0.025 * fs)):max(1, on - int(0.005 * fs))].mean(axis=1)
    j60 = min(beat.shape[1] - 1, off + int(round(0.06 * fs)))
    qrs_seg = beat[:, on:off + 1]
    out.update(
        qrs_ms=(off - on) / fs * 1000, pr_ms=np.nan if p_on is None else (on - p_on) / fs * 1000,
        st_mv=beat[:, j60] - base, qrs_p2p=qrs_seg.max(axis=1) - qrs_seg.min(axis=1),
        qrs_area=(qrs_seg - base[:, None]).sum(axis=1) / fs, beat=beat, qrs_on=on, qrs_off=off)
    rr_med = float(np.median(rr)) if len(rr) else 0.8
    t_lo, t_hi = off + int(0.06 * fs), min(beat.shape[1], off + int(max(0.2, 0.55 * rr_med) * fs))
    t_seg = beat[:, t_lo:t_hi] - base[:, None]
    t_idx = np.abs(t_seg).argmax(axis=1)
    out["t_mv"] = t_seg[np.arange(12), t_idx]
    lead = int(np.abs(out["t_mv"]).argmax())
    out["t_peak_ms"] = (t_lo + t_idx[lead] - on) / fs * 1000          # QRS onset to the largest T peak
    out["t_peak_c_ms"] = out["t_peak_ms"] / np.cbrt(rr_med)            # rate-corrected (Fridericia)
    area = out["qrs_area"]
    out["axis_deg"] = float(np.rad2deg(np.arctan2(area[LEAD_INDEX["aVF"]] * 2 / np.sqrt(3),
                                                  area[LEAD_INDEX["I"]])))
    return out


def features(x: np.ndarray, fs: float, step_s: float = 0.04) -> np.ndarray:
    """Handcrafted feature vector of one record: RR statistics, measured intervals, axis, per-lead
    ST deviation, T amplitude and QRS amplitude, the median beat sampled every ``step_s`` s, and the residual
    (beat-to-beat variability) power after subtracting the median beat, per lead."""
    m = measure_record(x, fs)
    w = int(round((PRE_S + POST_S) / step_s))
    if "beat" not in m:
        return np.full(11 + 12 * 4 + 12 * w, np.nan)
    beat = m["beat"]
    idx = np.linspace(0, beat.shape[1] - 1, w).round().astype(int)
    peaks = detect_beats(x, fs)
    pre, post = int(PRE_S * fs), int(POST_S * fs)
    ok = peaks[(peaks >= pre) & (peaks + post <= x.shape[1])]
    resid = np.median([np.std(x[:, p - pre:p + post] - beat, axis=1) for p in ok], axis=0)
    head = [m["hr_bpm"], m["rr_cv"], m["rr_min_ratio"], m["rr_max_ratio"], m["qrs_ms"],
            m["pr_ms"] if np.isfinite(m["pr_ms"]) else 0.0, float(np.isfinite(m["pr_ms"])), m["axis_deg"],
            m["t_peak_ms"], m["t_peak_c_ms"],
            min(m["t_mv"][LEAD_INDEX[x]] for x in ("I", "II", "aVF", "V3", "V4", "V5", "V6"))]
    return np.concatenate([head, m["st_mv"], m["t_mv"], m["qrs_p2p"], resid, beat[:, idx].ravel()])


def neurokit_intervals(lead_ii: np.ndarray, fs: float) -> dict[str, float]:
    """Median PR and QRS (ms) and RR CV from neurokit2 on lead II (DWT delineation)."""
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, info = nk.ecg_peaks(np.asarray(lead_ii, dtype=float), sampling_rate=int(fs))
        r = np.asarray(info["ECG_R_Peaks"])
        out = {"rr_cv": float(np.std(np.diff(r)) / np.mean(np.diff(r))) if len(r) > 2 else np.nan,
               "pr_ms": np.nan, "qrs_ms": np.nan}
        try:
            _, w = nk.ecg_delineate(np.asarray(lead_ii, dtype=float), r, sampling_rate=int(fs), method="dwt")
        except Exception:  # neurokit raises on records it cannot delineate
            return out
    po, ro, rf = (np.asarray(w[k], dtype=float) for k in ("ECG_P_Onsets", "ECG_R_Onsets", "ECG_R_Offsets"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["pr_ms"] = float(np.nanmedian(ro - po) / fs * 1000)
        out["qrs_ms"] = float(np.nanmedian(rf - ro) / fs * 1000)
    return out
