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


def test_calibrated_cell_equals_a_record_by_record_recomputation(split, tiny_reference):
    """The stress test's CMRS of a rand. cell, recomputed from the module docstring's definitions with
    plain loops: the cell's own masks (its seeded generator), the reference on the full and masked
    views, G's scores Platt-scaled by a scaler fitted on *validation* full-view scores."""
    from ecgfoundry.eval.cmrs import PlattScaler
    from ecgfoundry.eval.missingness import sample_masks

    test, val, prevalence = split
    ref_fn = tiny_reference.probability_fn()

    def g(s, o):  # raw scores on another scale
        return 5 * np.log(ref_fn(s, o))
    report = _run(split, tiny_reference, g, kinds=("lead",), modes=("rand",))
    cell = report.cell("lead", "rand")
    n, _, t = test.signal.shape
    masks = sample_masks("lead", n, t, mask_rng(3, "lead", "rand"))
    x, o = test.signal.copy(), test.observed.copy()
    x[masks], o[masks] = 0.0, False
    p0, po = ref_fn(test.signal, test.observed), ref_fn(x, o)
    pg = PlattScaler().fit(g(val.signal, val.observed), val.labels).transform(g(x, o))
    assert cell.cmrs.score == pytest.approx(naive_cmrs(p0, po, pg, prevalence, masks), rel=1e-6)
    assert cell.severity == pytest.approx(masks.mean())


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
