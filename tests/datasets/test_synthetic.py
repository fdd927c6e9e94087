"""Tests of the synthetic generator: physics (lead identities), determinism, shapes, label honesty,
evidence maps, reports, and validation with independent measurements."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ecgfoundry.batch import EcgBatch
from ecgfoundry.datasets import synthetic_dipole as dp
from ecgfoundry.datasets.synthetic import (SYNTH_CLASSES, EvidenceItem, NoiseConfig, SyntheticConfig,
                                           evidence_mask, generate)
from ecgfoundry.datasets.synthetic_check import features, measure_record
from ecgfoundry.datasets.synthetic_conditions import (EVIDENCE_LEADS, INCOMPATIBLE, STEMI_CLASSES,
                                                      incompatibility_matrix, lead_mask)
from ecgfoundry.signals.leads import LEAD_INDEX, LEADS

LIMB = [LEAD_INDEX[x] for x in ("I", "II", "III", "aVR", "aVL", "aVF")]


@pytest.fixture(scope="module")
def mixed():
    """A default-prevalence dataset with strong noise (identities must hold with noise on)."""
    return generate(300, fs=100, seconds=10, seed=11, noise="high")


@pytest.fixture(scope="module")
def per_condition():
    """50 low-noise records at 500 Hz per condition (and NORM), measured independently."""
    out = {}
    for c in ("NORM", "1AVB", "RBBB", "LBBB", "AF", "LAFB", "ASTEMI", "ISTEMI", "LSTEMI"):
        ds = generate(50, fs=500, seconds=10, seed=5, conditions={} if c == "NORM" else {c: 1.0}, noise="low")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[c] = (ds, [measure_record(x, 500) for x in ds.signal])
    return out


# ---------------------------------------------------------------------------------- physics
def test_lead_identities_hold_with_noise(mixed):
    x = mixed.signal.astype(np.float64)
    I, II, III, aVR, aVL, aVF = (x[:, i] for i in range(6))
    atol = 1e-5
    np.testing.assert_allclose(III, II - I, atol=atol)
    np.testing.assert_allclose(aVR, -(I + II) / 2, atol=atol)
    np.testing.assert_allclose(aVL, I - II / 2, atol=atol)
    np.testing.assert_allclose(aVF, II - I / 2, atol=atol)
    np.testing.assert_allclose(aVR + aVL + aVF, 0.0, atol=atol)
    assert np.abs(x).max() > 0.5 and np.std(x[:, :, :50]) > 0.01   # noise really is on


def test_lead_matrix_is_the_standard_definition():
    rng = np.random.default_rng(0)
    pot = rng.normal(size=(9, 7))
    ra, la, ll = pot[:3]
    leads = dp.leads_from_potentials(pot)
    wct = (ra + la + ll) / 3
    np.testing.assert_allclose(leads[0], la - ra)
    np.testing.assert_allclose(leads[3], ra - (la + ll) / 2)
    np.testing.assert_allclose(leads[6:], pot[3:] - wct)
    # limb lead vectors follow the hexaxial system: I at 0 deg, II at 60 deg, aVF at 90 deg
    ang = np.rad2deg(np.arctan2(dp.LEAD_VECTORS[:6, 1], dp.LEAD_VECTORS[:6, 0]))
    np.testing.assert_allclose(ang[[0, 1, 2, 5]], [0, 60, 120, 90], atol=1e-9)


# ---------------------------------------------------------------------------------- API
@pytest.mark.parametrize("fs", [100, 250, 500])
def test_shapes_and_types(fs):
    ds = generate(5, fs=fs, seconds=4, seed=1)
    assert ds.signal.shape == (5, 12, 4 * fs) and ds.signal.dtype == np.float32
    assert ds.observed.shape == ds.signal.shape and ds.observed.dtype == bool and ds.observed.all()
    assert ds.labels.shape == (5, len(SYNTH_CLASSES)) and ds.classes == SYNTH_CLASSES
    assert len(ds.reports) == len(ds.evidence) == len(ds.params) == 5
    assert np.isfinite(ds.signal).all()
    batch = ds.to_batch()
    assert isinstance(batch, EcgBatch) and batch.ids[0] == "synthetic/00001" and batch.texts == ds.reports


def test_determinism_and_seeds():
    a = generate(20, seed=3, noise="medium")
    b = generate(20, seed=3, noise="medium")
    c = generate(20, seed=4, noise="medium")
    np.testing.assert_array_equal(a.signal, b.signal)
    assert a.reports == b.reports and np.array_equal(a.labels, b.labels)
    assert not np.allclose(a.signal, c.signal) and a.reports != c.reports


def test_records_do_not_depend_on_n():
    small = generate(7, seed=2, noise="medium")
    large = generate(300, seed=2, noise="medium")
    np.testing.assert_array_equal(small.signal, large.signal[:7])
    assert small.reports == large.reports[:7]


def test_config_validation():
    with pytest.raises(ValueError, match="unknown synthetic condition"):
        SyntheticConfig(conditions={"XYZ": 0.5})
    with pytest.raises(ValueError, match="fs"):
        SyntheticConfig(fs=10)
    with pytest.raises(ValueError, match="noise preset"):
        SyntheticConfig(noise="loud")
    with pytest.raises(ValueError):
        NoiseConfig(emg_mv=-1)
    cfg = SyntheticConfig(n=3, conditions={"AF": 0.5}, noise=NoiseConfig(emg_mv=0.01))
    assert SyntheticConfig.from_dict(cfg.to_dict()) == cfg


def test_noise_none_is_clean_and_noise_levels_grow():
    clean = generate(10, seed=1, noise="none", conditions={})
    noisy = generate(10, seed=1, noise="high", conditions={})
    diff = noisy.signal - clean.signal
    assert np.std(diff) > 0.05
    # noise-free signal is flat between beats in the PR segment region: tiny high-frequency content
    assert np.abs(np.diff(clean.signal, 2)).mean() < np.abs(np.diff(noisy.signal, 2)).mean() / 3


# ---------------------------------------------------------------------------------- labels
def test_incompatible_conditions_never_together(mixed):
    big = generate(2000, seed=9, conditions={c: 0.5 for c in SYNTH_CLASSES if c != "NORM"}, noise="none")
    lab = big.labels.astype(bool)
    inc = incompatibility_matrix()
    together = lab.T.astype(int) @ lab.astype(int)
    assert not (together[inc] > 0).any()
    assert (lab[:, 0] == ~lab[:, 1:].any(axis=1)).all()   # NORM exactly when nothing else
    assert len(INCOMPATIBLE) >= 10


def test_label_criteria_hold_on_the_generator_values():
    ds = generate(1500, seed=21, noise="none")
    p, lab = ds.params, ds.labels.astype(bool)
    col = {c: lab[:, i] for i, c in enumerate(ds.classes)}
    assert (p.sokolow_mv[col["LVH"]] > 3.5).all() and (p.sokolow_mv[~col["LVH"]] < 3.5).all()
    assert (p.limb_qrs_mv[col["LOWV"]] < 0.5).all() and (p.limb_qrs_mv[~col["LOWV"]] >= 0.5).all()
    assert (p.axis_deg[col["LAFB"]] <= -45).all() and (p.axis_deg[~col["LAFB"]] > -30).all()
    assert (p.hr_bpm[col["SBRAD"]] < 60).all() and (p.hr_bpm[col["STACH"]] > 100).all()
    assert (p.pr_ms[col["1AVB"]] > 200).all() and (p.pr_ms[~col["1AVB"] & ~col["AF"]] <= 200).all()
    assert (p.qrs_ms[col["RBBB"] | col["LBBB"]] >= 120).all()
    assert (p.qtc_ms[col["LQT"]] > 470).all() and (p.qtc_ms[~col["LQT"]] < 450).all()
    assert (p.n_pvc[col["PVC"]] >= 1).all() and (p.n_pvc[~col["PVC"]] == 0).all()
    assert p.pr_ms[col["AF"]].isna().all()


# ---------------------------------------------------------------------------------- evidence
def test_evidence_covers_present_classes_only(mixed):
    for i in range(len(mixed)):
        present = {c for c, on in zip(mixed.classes, mixed.labels[i]) if on}
        primary = {e.label for e in mixed.evidence[i] if e.role == "primary"}
        assert primary == present
        for e in mixed.evidence[i]:
            assert len(e.spans) >= 1 and (e.spans[:, 1] > e.spans[:, 0]).all()
            assert e.spans.min() >= 0 and e.spans.max() <= mixed.signal.shape[-1]
            if EVIDENCE_LEADS[e.label] is not None and e.role == "primary":
                assert set(e.leads) == set(EVIDENCE_LEADS[e.label])


def test_evidence_mask_expands_items():
    item = EvidenceItem("RBBB", ("V1", "I"), np.array([[2, 5], [8, 10]], dtype=np.int32))
    other = EvidenceItem("ISTEMI", ("I",), np.array([[0, 3]], dtype=np.int32), role="reciprocal")
    m = evidence_mask([item, other], 12)
    assert m.shape == (len(SYNTH_CLASSES), 12, 12)
    k = SYNTH_CLASSES.index("RBBB")
    assert m[k, LEAD_INDEX["V1"]].tolist() == [t in (2, 3, 4, 8, 9) for t in range(12)]
    assert m[k].sum() == 2 * 5 and m[SYNTH_CLASSES.index("ISTEMI")].sum() == 3
    assert evidence_mask([item, other], 12, roles=("primary",))[SYNTH_CLASSES.index("ISTEMI")].sum() == 0
    assert EvidenceItem.from_json(item.to_json()).leads == item.leads


def test_evidence_spans_sit_on_the_waves():
    """STEMI spans cover the ST segment: the signal there is elevated in territory leads."""
    ds = generate(20, fs=500, seconds=10, seed=4, conditions={"ISTEMI": 1.0}, noise="none")
    for i in range(len(ds)):
        item = next(e for e in ds.evidence[i] if e.role == "primary")
        mask = ds.evidence_mask(i)[SYNTH_CLASSES.index("ISTEMI")]
        inside = ds.signal[i][mask].mean()
        assert inside > 0.1 and set(item.leads) == {"II", "III", "aVF"}


# ---------------------------------------------------------------------------------- reports
def test_reports_vary_and_name_their_findings():
    ds = generate(400, seed=8, noise="low")
    lab = ds.labels.astype(bool)
    for cls, words in {"AF": ("atrial fibrillation", "af"), "LBBB": ("left bundle", "lbbb"),
                       "1AVB": ("av block", "atrioventricular"), "LVH": ("hypertrophy", "lvh")}.items():
        rows = np.nonzero(lab[:, SYNTH_CLASSES.index(cls)])[0]
        texts = [ds.reports[i] for i in rows]
        assert all(any(w in t.lower() for w in words) for t in texts), cls
        assert len(set(texts)) > 0.7 * len(texts)
    norm = [ds.reports[i] for i in np.nonzero(lab[:, 0])[0]]
    assert len(set(norm)) > 20
    assert not any("bundle branch" in t.lower() for t in norm)


# ---------------------------------------------------------------------------------- validation
def _median(measures, key):
    return float(np.nanmedian([m[key] for m in measures]))


def test_independent_pr_interval(per_condition):
    assert _median(per_condition["1AVB"][1], "pr_ms") > 200
    assert 120 <= _median(per_condition["NORM"][1], "pr_ms") <= 200


def test_independent_qrs_duration(per_condition):
    assert _median(per_condition["RBBB"][1], "qrs_ms") >= 120
    assert _median(per_condition["LBBB"][1], "qrs_ms") >= 120
    assert _median(per_condition["NORM"][1], "qrs_ms") < 110


def test_independent_rr_irregularity(per_condition):
    af = _median(per_condition["AF"][1], "rr_cv")
    sinus = _median(per_condition["NORM"][1], "rr_cv")
    assert af > 0.1 and af > 4 * sinus


def test_independent_axis_of_lafb(per_condition):
    assert _median(per_condition["LAFB"][1], "axis_deg") <= -45
    assert -30 < _median(per_condition["NORM"][1], "axis_deg") < 90


@pytest.mark.parametrize("cls", STEMI_CLASSES)
def test_st_elevation_in_exactly_the_evidence_leads(per_condition, cls):
    ds, measures = per_condition[cls]
    st = np.array([m["st_mv"] for m in measures])                 # (50, 12), J+60 ms vs PR level
    ev = lead_mask(EVIDENCE_LEADS[cls])
    assert np.mean(st[:, ev].min(axis=1) > 0.1) >= 0.95          # every territory lead elevated
    assert np.mean(st[:, ~ev].max(axis=1) < 0.1) >= 0.95          # and no other lead
    for i, items in enumerate(ds.evidence):
        for item in items:
            if item.role == "reciprocal":
                assert all(st[i, LEAD_INDEX[x]] < 0 for x in item.leads)


def test_handcrafted_features_separate_every_condition():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cond = {c: 0.12 for c in SYNTH_CLASSES if c != "NORM"}
    ds = generate(1500, fs=100, seconds=10, seed=31, conditions=cond, noise="low")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = np.stack([features(s, 100) for s in ds.signal])
    x = np.nan_to_num(x)
    y = ds.labels.astype(int)
    train, test = slice(0, 1000), slice(1000, None)
    aucs = {}
    for k, c in enumerate(ds.classes):
        if y[train, k].sum() < 10 or y[test, k].sum() < 5:
            continue
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))
        clf.fit(x[train], y[train, k])
        aucs[c] = roc_auc_score(y[test, k], clf.predict_proba(x[test])[:, 1])
    assert len(aucs) >= 14
    bad = {c: round(a, 3) for c, a in aucs.items() if a < 0.9}
    assert not bad, bad
