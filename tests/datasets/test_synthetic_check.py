"""The synthetic-data validation's own delineator (datasets/synthetic_check.py) on hand-built
12-lead waveforms whose intervals, rate, axis and amplitudes are known by construction (nothing
from the generator): a QRS of raised-cosine segments, half-sine P and T waves, frontal-plane leads projected
from one dipole direction (Einthoven / Goldberger relations), flat ST segments."""

import numpy as np
import pytest

from ecgfoundry.datasets.synthetic_check import measure_record
from ecgfoundry.signals.leads import LEAD_INDEX

FS = 500.0
PR_S, QRS_S, T_START_S, T_DUR_S = 0.160, 0.100, 0.100, 0.160   # T starts 100 ms after J
P_DUR_S, P_MV, T_MV = 0.100, 0.12, 0.30
AXIS_DEG = 40.0
PRECORDIAL = (-0.6, -0.3, 0.2, 0.6, 0.9, 0.8)


def _gains(axis_deg: float) -> np.ndarray:
    """Per-lead gain of the QRS / P / T shapes for a frontal dipole of unit size at ``axis_deg``."""
    hx, hy = np.cos(np.deg2rad(axis_deg)), np.sin(np.deg2rad(axis_deg))
    i, ii = hx, hx / 2 + np.sqrt(3) / 2 * hy
    iii = ii - i
    limb = [i, ii, iii, -(i + ii) / 2, (i - iii) / 2, (ii + iii) / 2]      # I, II, III, aVR, aVL, aVF
    return np.array(limb + list(PRECORDIAL))


def _qrs_shape(t: np.ndarray) -> np.ndarray:
    """Q -0.1 at 20 ms, R +1.0 at 50 ms, S -0.25 at 80 ms, back to 0 at QRS_S; raised-cosine segments
    between these knots (flat at each knot, so the extremes are exact and the steepest slope, R to S,
    has a single maximum)."""
    knots_t, knots_v = [0, 0.02, 0.05, 0.08, QRS_S], [0, -0.1, 1.0, -0.25, 0]
    out = np.zeros_like(t)
    for (t0, t1), (v0, v1) in zip(zip(knots_t, knots_t[1:]), zip(knots_v, knots_v[1:])):
        inside = (t >= t0) & (t < t1)
        tau = (t[inside] - t0) / (t1 - t0)
        out[inside] = v0 + (v1 - v0) * (1 - np.cos(np.pi * tau)) / 2
    return out


def _half_sine(t: np.ndarray, dur: float) -> np.ndarray:
    return np.where((t >= 0) & (t <= dur), np.sin(np.pi * np.clip(t, 0, dur) / dur), 0.0)


def make_record(rr_s, seconds: float = 10.0, axis_deg: float = AXIS_DEG, p_wave: bool = True) -> np.ndarray:
    """(12, T) mV: one beat per entry of ``rr_s`` (QRS onsets at the cumulative sums, from 0.5 s), placed
    on whole samples so that every beat is the same array."""
    n = np.arange(int(seconds * FS))
    g = _gains(axis_deg)
    x = np.zeros((12, len(n)))
    onset = int(0.5 * FS)
    for rr in rr_s:
        t = (n - onset) / FS                                   # time from this beat's QRS onset
        beat = _qrs_shape(t) + T_MV * _half_sine(t - (QRS_S + T_START_S), T_DUR_S)
        if p_wave:
            beat = beat + P_MV * _half_sine(t + PR_S, P_DUR_S)
        x += g[:, None] * beat[None, :]
        onset += int(round(rr * FS))
    return x


def test_regular_rhythm_known_intervals_axis_and_amplitudes():
    x = make_record([0.8] * 11)                 # 75 bpm, last QRS at 8.5 s
    m = measure_record(x, FS)
    assert m["n_beats"] == 11 and m["hr_bpm"] == pytest.approx(75.0) and m["rr_cv"] == pytest.approx(0, abs=1e-9)
    assert m["qrs_ms"] == pytest.approx(QRS_S * 1000, abs=6)        # 100 ms (measured 100.0)
    # P onset where the half-sine is 15 % of its peak: 100 ms * asin(0.15) / pi = 4.8 ms into the P wave
    assert m["pr_ms"] == pytest.approx(PR_S * 1000 - 4.8, abs=6)     # measured 158.0
    assert m["axis_deg"] == pytest.approx(AXIS_DEG, abs=1)
    g = _gains(AXIS_DEG)
    np.testing.assert_allclose(m["st_mv"], 0.0, atol=0.01)          # flat ST segment
    np.testing.assert_allclose(m["t_mv"], T_MV * g, atol=0.01)      # T peak, sign included, per lead
    # QRS peak-to-peak: R - S = 1.25 times the lead's gain (or S - R for negative gains: same magnitude)
    np.testing.assert_allclose(m["qrs_p2p"], 1.25 * np.abs(g), atol=0.02)


@pytest.mark.parametrize("axis_deg", [-30.0, 75.0, 110.0])
def test_axis_follows_the_dipole(axis_deg):
    m = measure_record(make_record([0.8] * 11, axis_deg=axis_deg), FS)
    assert m["axis_deg"] == pytest.approx(axis_deg, abs=3)


def test_irregular_rhythm_known_rr_statistics_and_no_p_wave():
    rr = [0.7, 0.9] * 5 + [0.7]        # 11 beats, 10 intervals: mean 0.8 s, population SD 0.1 s, CV 0.125
    m = measure_record(make_record(rr), FS)
    assert m["n_beats"] == 11
    assert m["rr_cv"] == pytest.approx(0.125, abs=0.005) and m["hr_bpm"] == pytest.approx(75.0, abs=0.5)
    assert m["rr_min_ratio"] == pytest.approx(0.7 / 0.8, abs=0.01) and m["rr_max_ratio"] == pytest.approx(0.9 / 0.8, abs=0.01)
    assert np.isnan(measure_record(make_record([0.8] * 11, p_wave=False), FS)["pr_ms"])
