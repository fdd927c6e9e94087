import numpy as np
import pytest

from ecgfoundry.eval.missingness import KINDS
from ecgfoundry.eval.stress import MODES, mask_rng, stress_test

from .naive import naive_cmrs


@pytest.fixture(scope="module")
def split(eval_store):
    test = eval_store.batch(eval_store.split_indices("test"), "synthetic")
    val = eval_store.batch(eval_store.split_indices("val"), "synthetic")
    y, _ = eval_store.labels("synthetic")
    prevalence = y[eval_store.split_indices("train")].mean(axis=0)
    return test, val, prevalence


def oracle(ref_fn, *batches):
    """G(x^m) := F(x): finds each masked record's full view (it agrees on every observed sample) and
    returns the reference's full-view probabilities, whatever was removed."""
    sig = np.concatenate([b.signal for b in batches])
    p0 = ref_fn(sig, np.concatenate([b.observed for b in batches]))

    def g(signal, observed):
        d = np.stack([np.abs((sig - x) * o).sum(axis=(1, 2)) for x, o in zip(signal, observed)])
        assert np.all(np.sort(d, axis=1)[:, 0] == 0)
        return p0[d.argmin(axis=1)]
    return g


def _run(split, ref, model, **kw):
    test, val, prevalence = split
    return stress_test(model, test.signal, test.observed, test.labels, val.signal, val.observed, val.labels,
                       test.classes, ref.probability_fn(), prevalence, seed=3, n_boot=0, progress=False, **kw)


def test_full_view_reference_as_model_gives_cmrs_100(split, tiny_reference):
    test, val, _ = split
    ref_fn = tiny_reference.probability_fn()
    report = _run(split, tiny_reference, oracle(ref_fn, test, val), calibrate=False, n_candidates=3)
    assert [(c.kind, c.mode) for c in report.cells] == [(k, m) for k in KINDS for m in MODES]
    for c in report.cells:
        assert c.cmrs.score == pytest.approx(100.0), (c.kind, c.mode)
        assert c.severity > 0 and (c.cmrs.components["weight"] > 0).any()


def test_base_rate_model_gives_cmrs_0(split, tiny_reference):
    prevalence = split[2]
    report = _run(split, tiny_reference, lambda s, o: np.tile(prevalence, (len(s), 1)), calibrate=False,
                  kinds=("joint",), modes=("rand",))
    assert report.cell("joint", "rand").cmrs.score == pytest.approx(0.0)


def test_masks_reproducible_and_calibrated_scores(split, tiny_reference):
    ref_fn = tiny_reference.probability_fn()

    def g(s, o):  # raw scores on another scale: Platt scaling maps them to probabilities
        return 5 * np.log(ref_fn(s, o))
    a = _run(split, tiny_reference, g, kinds=("lead", "temporal"), n_candidates=2)
    b = _run(split, tiny_reference, g, kinds=("temporal",), n_candidates=2)
    for mode in MODES:  # a cell's masks depend on (seed, kind, mode) only
        ca, cb = a.cell("temporal", mode), b.cell("temporal", mode)
        assert ca.cmrs.score == cb.cmrs.score and ca.evaluation.macro == cb.evaluation.macro
    assert mask_rng(3, "lead", "rand").random() != mask_rng(3, "lead", "hard").random()


def _placements(kind, n, t, seed, n_candidates):
    """A kind's budget (drawn once per (seed, kind)), its Rand. placement and the other C - 1 Hard
    candidates, from the generators the stress test documents."""
    from ecgfoundry.eval.missingness import realise_masks, sample_budgets
    from ecgfoundry.eval.stress import budget_rng

    budget = sample_budgets(kind, n, t, budget_rng(seed, kind))
    rand = realise_masks(budget, mask_rng(seed, kind, "rand"))
    others = realise_masks(budget, mask_rng(seed, kind, "hard"), n_candidates - 1)
    return budget, rand, others


def test_calibrated_cell_equals_a_record_by_record_recomputation(split, tiny_reference):
    """The stress test's CMRS (and its clean / self / robust parts, and F's AUROC) of a rand. and a
    hard cell, recomputed from the module docstrings' definitions with plain loops: the cells' own
    masks (Hard: the highest-impact of the Rand. placement and C - 1 others of the same budget,
    scored one record at a time), the reference on the full and masked views, G's scores
    Platt-scaled by a scaler fitted on *validation* full-view scores."""
    from ecgfoundry.eval.cmrs import PlattScaler

    from .naive import naive_cmrs_parts, naive_macro_auroc

    test, val, prevalence = split
    ref_fn = tiny_reference.probability_fn()

    def g(s, o):  # raw scores on another scale, and not F: G's clean view differs from F's
        return 5 * np.log(ref_fn(s, o)) + np.sin(np.arange(s.shape[0] * len(test.classes))).reshape(s.shape[0], -1)
    report = _run(split, tiny_reference, g, kinds=("joint",), n_candidates=3)
    n, _, t = test.signal.shape
    _, rand, others = _placements("joint", n, t, 3, 3)
    p0 = ref_fn(test.signal, test.observed)
    hard = np.zeros_like(rand)
    for i in range(n):
        cands = [rand[i]] + list(others[i])
        imps = []
        for m in cands:
            x, o = test.signal[i:i + 1].copy(), test.observed[i:i + 1].copy()
            x[:, m], o[:, m] = 0.0, False
            imps.append(np.mean(np.abs(ref_fn(x, o) - p0[i])))
        hard[i] = cands[int(np.argmax(imps))]
    platt = PlattScaler().fit(g(val.signal, val.observed), val.labels)
    q0 = platt.transform(g(test.signal, test.observed))
    for mode, masks in (("rand", rand), ("hard", hard)):
        cell = report.cell("joint", mode)
        x, o = test.signal.copy(), test.observed.copy()
        x[masks], o[masks] = 0.0, False
        po = ref_fn(x, o)
        pg = platt.transform(g(x, o))
        assert cell.cmrs.score == pytest.approx(naive_cmrs(p0, po, pg, prevalence, masks), rel=1e-6)
        sev = masks.reshape(n, -1).mean(axis=1)[:, None]
        want = naive_cmrs_parts(p0, po[:, None], pg[:, None], q0, prevalence, sev)
        for key, value in want.items():
            assert cell.cmrs.scores()[key] == pytest.approx(value, rel=1e-6, abs=1e-6), (mode, key)
        assert cell.severity == pytest.approx(masks.mean())
        assert cell.reference_auroc == pytest.approx(naive_macro_auroc(test.labels, po), abs=1e-12)
    assert report.reference_auroc == pytest.approx(naive_macro_auroc(test.labels, p0), abs=1e-12)
    assert not np.array_equal(rand, hard)


def test_rand_and_hard_remove_the_same_budget(split, tiny_reference):
    """Every record loses exactly as much under Hard as under Rand. (one budget per kind and seed),
    so the cells' mean severities are equal, not merely close."""
    from ecgfoundry.eval.stress import cell_masks

    test, _, _ = split
    ref_fn = tiny_reference.probability_fn()
    report = _run(split, tiny_reference, lambda s, o: np.log(ref_fn(s, o)), n_candidates=4)
    for kind in KINDS:
        assert report.cell(kind, "rand").severity == report.cell(kind, "hard").severity, kind
        assert report.cell(kind, "rand").severity > 0
        rand = cell_masks(kind, "rand", test.signal, test.observed, 3)
        hard = cell_masks(kind, "hard", test.signal, test.observed, 3, ref_fn, n_candidates=4)
        np.testing.assert_array_equal(rand.sum(axis=(1, 2)), hard.sum(axis=(1, 2)))
        np.testing.assert_array_equal(rand.all(axis=2).sum(axis=1), hard.all(axis=2).sum(axis=1))
        # Hard never moves F less than Rand., record by record (the Rand. placement is a candidate)
        p0 = ref_fn(test.signal, test.observed)
        imp = [np.abs(ref_fn(*apply(test, m)) - p0).mean(axis=1) for m in (rand, hard)]
        assert np.all(imp[1] >= imp[0] - 1e-12), kind


def apply(batch, masks):
    from ecgfoundry.eval.missingness import apply_mask

    return apply_mask(batch.signal, batch.observed, masks)


def _evidence_records(n, seed, t=50):
    """Records whose class k shows as a bump on one lead (class 0: V1, class 1: II) in samples
    10-19, over noise; the reference reads the observed bump on those leads."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, 2)) < 0.5).astype(np.float32)
    sig = rng.normal(0, 0.3, (n, 12, t)).astype(np.float32)
    sig[:, 6, 10:20] += y[:, :1]
    sig[:, 1, 10:20] += y[:, 1:]
    return sig, np.ones_like(sig, dtype=bool), y


def _evidence_reference(signal, observed):
    bump = (np.where(observed, signal, 0)[:, [6, 1], 10:20]).mean(axis=2)
    return 1 / (1 + np.exp(-6 * (bump - 0.5)))


@pytest.mark.parametrize("kind", KINDS)
def test_hard_masks_are_harder_for_the_reference(kind):
    """On records whose evidence sits in known leads and samples, Hard (same budget as Rand.) puts
    the removal on the evidence, so F's own AUROC falls further than under Rand. and F moves more."""
    sig, obs, y = _evidence_records(240, 0)
    vsig, vobs, vy = _evidence_records(60, 1)
    prevalence = y.mean(axis=0)
    report = stress_test(_evidence_reference, sig, obs, y, vsig, vobs, vy, ["a", "b"], _evidence_reference,
                         prevalence, kinds=(kind,), seed=0, n_boot=0, calibrate=False, progress=False)
    rand, hard = report.cell(kind, "rand"), report.cell(kind, "hard")
    assert rand.severity == hard.severity
    assert report.reference_auroc > 0.95  # F reads the evidence on the full view
    assert hard.reference_auroc < rand.reference_auroc - 0.01, (hard.reference_auroc, rand.reference_auroc)
    assert hard.cmrs.components["impact"].mean() > rand.cmrs.components["impact"].mean()
    # G = F: its clean view is F's, so cmrs_clean is 100 and the whole loss is the robust part
    for c in (rand, hard):
        assert c.cmrs.score_clean == pytest.approx(100) and c.cmrs.score_robust == pytest.approx(c.cmrs.score - 100)
    assert hard.cmrs.score < rand.cmrs.score


def test_model_that_ignores_the_mask_has_no_robust_part(split, tiny_reference):
    """G(x^m) = G(x) (found by the full view, whatever was removed): in every cell CMRS is all clean
    agreement, cmrs = cmrs_clean, the robust part is 0 and cmrs_self is 100."""
    test, val, _ = split
    sig = np.concatenate([test.signal, val.signal])
    fixed = np.random.default_rng(0).normal(size=(len(sig), len(test.classes)))  # G's own (poor) scores

    def g(signal, observed):
        d = np.stack([np.abs((sig - x) * o).sum(axis=(1, 2)) for x, o in zip(signal, observed)])
        return fixed[d.argmin(axis=1)]
    report = _run(split, tiny_reference, g, n_candidates=2)
    for c in report.cells:
        scores = c.cmrs.scores()
        assert scores["cmrs"] == scores["cmrs_clean"], (c.kind, c.mode)
        assert scores["cmrs_robust"] == pytest.approx(0.0, abs=1e-9)
        assert scores["cmrs_self"] == pytest.approx(100.0)
        assert 0 < scores["cmrs"] < 100


def test_argument_errors(split, tiny_reference):
    test, val, prevalence = split
    args = (lambda s, o: np.zeros((len(s), len(test.classes))), test.signal, test.observed, test.labels,
            val.signal, val.observed, val.labels)
    with pytest.raises(ValueError, match="hard masks need a reference"):
        stress_test(*args, progress=False)
    with pytest.raises(ValueError, match="unknown missingness"):
        stress_test(*args, kinds=("leads",), modes=("rand",), progress=False)
    report = stress_test(*args, modes=("rand",), n_boot=0, progress=False)  # no reference: metrics, no CMRS
    assert all(c.cmrs is None for c in report.cells) and len(report.cells) == 3


def test_hard_masks_are_cached_per_data_reference_and_settings(tmp_path, monkeypatch):
    """A second evaluation against the same F reads the Hard masks from disk (F runs only its clean
    pass); another F (other clean outputs), seed or C computes its own."""
    import ecgfoundry.cache
    from ecgfoundry.eval.stress import cell_masks

    monkeypatch.setattr(ecgfoundry.cache, "hard_masks_dir", lambda: tmp_path / "hm")
    signal, observed, _ = _evidence_records(12, seed=0)
    calls = []

    def ref(s, o):
        calls.append(len(s))
        return _evidence_reference(s, o)

    first = cell_masks("lead", "hard", signal, observed, seed=3, reference=ref, n_candidates=4)
    n_first = sum(calls)
    assert n_first == 12 * (1 + 4) and len(list((tmp_path / "hm").glob("*.npz"))) == 1
    calls.clear()
    again = cell_masks("lead", "hard", signal, observed, seed=3, reference=ref, n_candidates=4)
    np.testing.assert_array_equal(again, first)
    assert sum(calls) == 12  # the clean pass only
    uncached = cell_masks("lead", "hard", signal, observed, seed=3, reference=ref, n_candidates=4, cache=False)
    np.testing.assert_array_equal(uncached, first)
    for other in (dict(seed=4, reference=ref, n_candidates=4), dict(seed=3, reference=ref, n_candidates=5),
                  dict(seed=3, reference=lambda s, o: 1 - _evidence_reference(s, o), n_candidates=4)):
        cell_masks("lead", "hard", signal, observed, **other)
    assert len(list((tmp_path / "hm").glob("*.npz"))) == 4
