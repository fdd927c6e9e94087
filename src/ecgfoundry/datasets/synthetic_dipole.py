"""Physics of the synthetic ECG: a cardiac dipole, a torso lead model, electrode noise, 12 leads.

The heart is one time-varying current dipole ``d(t)`` (a vectorcardiogram, in Frank-like
coordinates: x to the patient's left, y inferior (feet), z posterior (back)). The potential of an
electrode ``e`` is ``phi_e(t) = c_e . d(t)`` with a fixed lead vector ``c_e`` (lead-field theory,
Burger & van Milaan 1946; Frank 1954). The 12 standard leads are formed from the nine electrode
potentials (RA, LA, LL, V1..V6) exactly as an electrocardiograph forms them:

* ``I = LA - RA``, ``II = LL - RA``, ``III = LL - LA`` (Einthoven),
* ``aVR = RA - (LA + LL)/2`` and cyclic (Goldberger),
* ``Vi = phi_Vi - WCT`` with the Wilson central terminal ``WCT = (RA + LA + LL)/3``.

Because noise is added to the *electrode potentials* and leads are formed afterwards, Einthoven's
and Goldberger's relations hold exactly for noisy signals too.

Torso model (documented choice): the limb electrodes sit on Einthoven's equilateral triangle in the
frontal plane (so the hexaxial reference system holds exactly and the frontal QRS axis of the dipole
is the axis a reader measures from leads I and aVF); the precordial electrodes use the rows of
Dower's transform from the Frank vectorcardiogram to V1..V6 (Dower et al., *J Electrocardiol*
1980;13:189; Edenbrandt & Pahlm, *J Electrocardiol* 1988;21:361). All limb electrodes share a
small common vector, so the Wilson central terminal is not identically zero (as in a real torso);
it cancels in every standard lead.

Waves are Gaussian in time (McSharry et al., *IEEE TBME* 2003;50:289, "ECGSYN", used one Gaussian
per wave per lead; here each wave is a 3-D direction times one Gaussian, so all 12 leads share one
set of timings). To sample natively at any ``fs`` without aliasing, each Gaussian is convolved
analytically with a Gaussian anti-alias kernel of standard deviation ``0.5 / fs`` (area preserved).
"""

from __future__ import annotations

import numpy as np

ELECTRODES: tuple[str, ...] = ("RA", "LA", "LL", "V1", "V2", "V3", "V4", "V5", "V6")
"""Electrode order of the potentials array ``(..., 9, T)``."""

# Dower et al. 1980: rows V1..V6 over Frank (X, Y, Z) with Z posterior.
_DOWER_PRECORDIAL = np.array([
    [-0.515, 0.157, -0.917],
    [0.044, 0.164, -1.387],
    [0.882, 0.098, -1.277],
    [1.213, 0.127, -0.601],
    [1.125, 0.127, -0.086],
    [0.831, 0.076, 0.230],
])
# Common limb-electrode vector = the Wilson central terminal's own lead vector (small, non-zero).
_WCT_VECTOR = np.array([-0.05, 0.10, 0.15])


def electrode_lead_vectors() -> np.ndarray:
    """Lead vectors of the nine electrodes, shape (9, 3), potential per unit dipole (mV per mV).

    Limb electrodes lie on Einthoven's triangle at -150 deg (RA), -30 deg (LA) and +90 deg (LL)
    with magnitude ``1/sqrt(3)`` so that leads I, II and III are unit vectors at 0, 60 and 120 deg;
    precordial electrodes are Dower's rows plus the Wilson-terminal vector.
    """
    a = 1.0 / np.sqrt(3.0)
    ang = np.deg2rad([-150.0, -30.0, 90.0])
    limbs = np.stack([a * np.cos(ang), a * np.sin(ang), np.zeros(3)], axis=1) + _WCT_VECTOR
    return np.concatenate([limbs, _DOWER_PRECORDIAL + _WCT_VECTOR], axis=0)


def lead_from_electrode_matrix() -> np.ndarray:
    """Matrix M of shape (12, 9) with ``leads = M @ potentials`` (canonical lead order)."""
    m = np.zeros((12, 9))
    ra, la, ll = 0, 1, 2
    m[0, [la, ra]] = [1, -1]                      # I
    m[1, [ll, ra]] = [1, -1]                      # II
    m[2, [ll, la]] = [1, -1]                      # III
    m[3, [ra, la, ll]] = [1, -0.5, -0.5]          # aVR
    m[4, [la, ra, ll]] = [1, -0.5, -0.5]          # aVL
    m[5, [ll, ra, la]] = [1, -0.5, -0.5]          # aVF
    for i in range(6):                            # V1..V6 minus WCT
        m[6 + i, 3 + i] = 1.0
        m[6 + i, [ra, la, ll]] = -1.0 / 3.0
    return m


LEAD_MATRIX: np.ndarray = lead_from_electrode_matrix()
"""(12, 9): standard leads from electrode potentials."""

LEAD_VECTORS: np.ndarray = LEAD_MATRIX @ electrode_lead_vectors()
"""(12, 3): lead vectors of the 12 standard leads in dipole coordinates (for analytic templates)."""


def leads_from_potentials(potentials: np.ndarray) -> np.ndarray:
    """Form the 12 standard leads from electrode potentials.

    Parameters
    ----------
    potentials : ndarray of shape (..., 9, T), mV
        Electrode potentials in :data:`ELECTRODES` order.

    Returns
    -------
    ndarray of shape (..., 12, T), same dtype
    """
    return np.matmul(LEAD_MATRIX.astype(potentials.dtype), potentials)


def antialias_sigma(fs: float) -> float:
    """Standard deviation (s) of the Gaussian anti-alias kernel used at sampling rate ``fs``."""
    return 0.5 / float(fs)


_TRUNC = 4.5  # Gaussians are cut at +-4.5 standard deviations (relative value 4e-5)


def add_gaussian_waves(dipole: np.ndarray, fs: float, center: np.ndarray, sigma: np.ndarray,
                       vector: np.ndarray) -> None:
    """Add Gaussian dipole waves, one per (record, beat), in place.

    Parameters
    ----------
    dipole : ndarray of shape (m, 3, T), float64
        Accumulator; time ``t = n / fs`` for sample ``n``.
    fs : float, Hz
    center : ndarray of shape (m, B), s
        Wave centre per record and beat slot.
    sigma : ndarray broadcastable to (m, B), s
        Wave width before anti-aliasing.
    vector : ndarray of shape (m, B, 3), mV
        Peak dipole (direction x amplitude); all-zero rows mark absent waves and are skipped.
    """
    m, _, n_t = dipole.shape
    center = np.asarray(center, dtype=float)
    sigma = np.broadcast_to(np.asarray(sigma, dtype=float), center.shape)
    active = np.any(vector != 0, axis=-1) & (center > -1.0) & (center < n_t / fs + 1.0)
    if not active.any():
        return
    rec = np.nonzero(active)[0]
    c, s, v = center[active], sigma[active], vector[active]
    s_eff = np.sqrt(s ** 2 + antialias_sigma(fs) ** 2)
    amp = s / s_eff
    half = int(np.ceil(_TRUNC * s_eff.max() * fs)) + 1
    offsets = np.arange(-half, half + 1)
    idx = np.rint(c * fs).astype(np.int64)[:, None] + offsets[None, :]
    z = (idx / fs - c[:, None]) / s_eff[:, None]
    # each wave is cut at +-_TRUNC of its own width, so a record never depends on its chunk-mates
    g = np.where(np.abs(z) <= _TRUNC, amp[:, None] * np.exp(-0.5 * z ** 2), 0.0)
    _scatter(dipole, rec, idx, g, v)


def add_plateau_waves(dipole: np.ndarray, fs: float, start: np.ndarray, end: np.ndarray,
                      rise: float, fall: np.ndarray, vector: np.ndarray) -> None:
    """Add smooth box ("plateau") dipole waves, e.g. an injury current during the ST segment.

    The shape is ``1/(1+exp(-(t-start)/rise)) * 1/(1+exp((t-end)/fall))``.

    Parameters
    ----------
    dipole : ndarray (m, 3, T), float64, accumulator
    fs : float, Hz
    start, end : ndarray of shape (m, B), s
    rise : float, s
    fall : ndarray broadcastable to (m, B), s
    vector : ndarray of shape (m, B, 3), mV; zero rows are skipped.
    """
    m, _, n_t = dipole.shape
    fall = np.broadcast_to(np.asarray(fall, dtype=float), start.shape)
    active = np.any(vector != 0, axis=-1) & (end > -0.5) & (start < n_t / fs + 0.5)
    if not active.any():
        return
    rec = np.nonzero(active)[0]
    a, b, fl, v = start[active], end[active], fall[active], vector[active]
    lo = np.floor((a - 8 * rise) * fs).astype(np.int64)
    length = int(np.ceil(((b + 8 * fl) - (a - 8 * rise)).max() * fs)) + 2
    idx = lo[:, None] + np.arange(length)[None, :]
    t = idx / fs
    inside = (t >= (a - 8 * rise)[:, None]) & (t <= (b + 8 * fl)[:, None])
    with np.errstate(over="ignore"):
        g = 1.0 / (1.0 + np.exp(-(t - a[:, None]) / rise)) / (1.0 + np.exp((t - b[:, None]) / fl[:, None]))
    g = np.where(inside, g, 0.0)
    _scatter(dipole, rec, idx, g, v)


def _scatter(dipole: np.ndarray, rec: np.ndarray, idx: np.ndarray, g: np.ndarray, v: np.ndarray) -> None:
    """``dipole[rec, :, idx] += g * v`` with out-of-range samples dropped (bincount, no loop)."""
    m, _, n_t = dipole.shape
    ok = (idx >= 0) & (idx < n_t)
    flat = (rec[:, None] * n_t + idx)[ok]
    gg = np.where(ok, g, 0.0)
    for d in range(3):
        w = (gg * v[:, d, None])[ok]
        dipole[:, d, :] += np.bincount(flat, weights=w, minlength=m * n_t).reshape(m, n_t)


def fibrillatory_waves(rng: np.random.Generator, m: int, n_t: int, fs: float,
                       amplitude: np.ndarray) -> np.ndarray:
    """Atrial fibrillatory (f-) waves as a scalar time course per record, shape (m, T).

    Dominant atrial frequency 4-9 Hz (Bollmann et al., *Europace* 2006;8:911) with slow frequency
    and amplitude drift and a second harmonic (saw-tooth-like); ``amplitude`` (m,) in mV.
    """
    t = np.arange(n_t) / fs
    f0 = rng.uniform(4.5, 8.5, m)[:, None]
    drift = rng.uniform(0.2, 0.8, m)[:, None] * np.sin(2 * np.pi * rng.uniform(0.05, 0.2, m)[:, None] * t
                                                        + rng.uniform(0, 2 * np.pi, m)[:, None])
    freq = np.minimum(f0 + drift, 0.45 * fs)
    phase = 2 * np.pi * np.cumsum(freq, axis=1) / fs + rng.uniform(0, 2 * np.pi, m)[:, None]
    envelope = 0.75 + 0.25 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4, m)[:, None] * t
                                    + rng.uniform(0, 2 * np.pi, m)[:, None])
    wave = np.sin(phase) + 0.3 * np.sin(2 * phase + 0.7)
    return amplitude[:, None] * envelope * wave / 1.15


def electrode_noise(rng: np.random.Generator, m: int, n_t: int, fs: float, *, baseline_mv: np.ndarray,
                    powerline_mv: np.ndarray, emg_mv: np.ndarray, motion_mv: np.ndarray,
                    motion_rate_per_min: float, mains_hz: np.ndarray, resp_hz: np.ndarray,
                    white: np.ndarray | None = None, max_events: int = 8) -> np.ndarray:
    """Recording noise at the nine electrodes, shape (m, 9, T), mV (float64).

    Each electrode gets its own realisation, so noise reaches the leads through the same
    differences a real recorder forms (Friesen et al., *IEEE TBME* 1990;37:85 list these sources):

    * baseline wander: a respiratory sinusoid plus three slow drifts (0.03-0.4 Hz) per electrode,
      amplitude ``baseline_mv`` (m,);
    * powerline: ``mains_hz`` (m,) sinusoid with one phase per record and an electrode-specific
      amplitude up to ``powerline_mv``; omitted when ``mains_hz >= 0.45 fs`` (the recorder's
      anti-alias filter removes it);
    * muscle (EMG): white Gaussian noise of RMS ``emg_mv`` with slow bursts in its envelope;
    * electrode motion: Poisson events (``motion_rate_per_min``) on a random electrode, each a
      smooth transient of 0.1-0.5 s and amplitude up to ``motion_mv`` (at most ``max_events``).

    ``rng`` needs ``uniform``, ``choice``, ``integers`` and ``poisson`` with ``size`` leading with
    ``m``; ``white`` (m, 9, T) is the unit white noise for EMG (drawn here when None). The number of
    draws does not depend on the data, only on which sources are switched on.
    """
    t = np.arange(n_t) / fs
    out = np.zeros((m, 9, n_t))
    if np.any(baseline_mv > 0):
        # four slow sources per record (respiration + three drifts), mixed into the electrodes
        f = np.concatenate([resp_hz[:, None], rng.uniform(0.03, 0.4, (m, 3))], axis=1)
        src = np.sin(2 * np.pi * f[:, :, None] * t + rng.uniform(0, 2 * np.pi, (m, 4))[:, :, None])
        mix = rng.uniform(-1.0, 1.0, (m, 9, 4)) * np.array([1.0, 0.6, 0.6, 0.6])
        out += baseline_mv[:, None, None] * np.matmul(mix, src)
    if np.any(powerline_mv > 0):
        ok = (mains_hz < 0.45 * fs)[:, None, None]
        amp = powerline_mv[:, None, None] * rng.uniform(0.2, 1.0, (m, 9, 1))
        phase = rng.uniform(0, 2 * np.pi, (m, 1, 1))
        out += np.where(ok, amp * np.sin(2 * np.pi * mains_hz[:, None, None] * t + phase), 0.0)
    if np.any(emg_mv > 0):
        env = 1.0 + 1.5 * np.maximum(0.0, np.sin(2 * np.pi * rng.uniform(0.05, 0.3, (m, 1, 1)) * t
                                                 + rng.uniform(0, 2 * np.pi, (m, 1, 1)))) ** 4
        gain = rng.uniform(0.5, 1.0, (m, 9, 1))
        if white is None:
            white = rng.standard_normal((m, 9, n_t), dtype=np.float32)
        out += (emg_mv[:, None, None] / 1.3) * gain * env * white
    if motion_rate_per_min > 0 and np.any(motion_mv > 0):
        dur = n_t / fs
        n_ev = np.minimum(rng.poisson(motion_rate_per_min * dur / 60.0, m), max_events)
        for e in range(max_events):
            has = n_ev > e
            t0 = rng.uniform(0, dur, m)
            w = rng.uniform(0.1, 0.5, m)
            a = motion_mv * rng.uniform(0.3, 1.0, m) * rng.choice([-1.0, 1.0], m)
            elec = rng.integers(0, 9, m)
            x = (t[None, :] - t0[:, None]) / w[:, None]
            shape = np.where(x > 0, x * np.exp(1.0 - x), 0.0) * (1.0 + 0.3 * np.sin(2 * np.pi * 2.0 * x))
            rows = np.nonzero(has)[0]
            if len(rows) == 0:
                continue
            out[rows, elec[rows], :] += a[rows, None] * shape[rows]
    return out
