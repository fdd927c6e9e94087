import numpy as np
import pytest


def test_token_removal_maps_onto_the_lead_time_grid():
    from ecgfoundry.eval.masker_attack import token_removal_to_signal

    tokens = np.zeros((1, 12 * 3), dtype=bool)
    tokens[0, 0] = True          # lead 0, patch 0
    tokens[0, 2 * 3 + 2] = True  # lead 2, last (partial) patch
    rem = token_removal_to_signal(tokens, 12, 125, 50)
    assert rem.shape == (1, 12, 125)
    assert rem[0, 0, :50].all() and not rem[0, 0, 50:].any()
    assert rem[0, 2, 100:].all() and not rem[0, 2, :100].any()
    assert rem.sum() == 50 + 25
    with pytest.raises(ValueError, match="time patches"):
        token_removal_to_signal(tokens[:, :30], 12, 125, 50)


def test_top_fraction_removes_the_budget_of_observed_tokens_with_the_largest_scores():
    from ecgfoundry.eval.masker_attack import top_fraction

    scores = np.array([[0.9, 0.1, 0.8, 0.7, 0.2], [0.5, 0.4, 0.3, 0.2, 0.1]])
    obs = np.array([[True, True, False, True, True], [True] * 5])
    sel = top_fraction(scores, obs, 0.5)
    # 4 observed -> 2 removed; 5 observed -> 2.5 rounds half up to 3
    assert sel.tolist() == [[True, False, False, True, False], [True, True, True, False, False]]


def test_removal_count_rounds_halves_up_and_never_takes_every_token():
    from fractions import Fraction

    from ecgfoundry.eval.masker_attack import removal_count

    assert removal_count(5, 0.5) == 3          # the case where round() (half to even) gives 2
    assert removal_count(240, 0.3) == 72 and removal_count(0, 0.3) == 0
    assert removal_count(1, 0.6) == 0 and removal_count(2, 0.9) == 1   # never all of them
    for n in range(0, 60):                      # exact rational arithmetic as the oracle
        for rho in ("0.1", "0.25", "0.3", "0.5", "0.75"):
            exact = Fraction(rho) * n
            want = min(int(exact + Fraction(1, 2)), max(n - 1, 0))
            assert removal_count(n, float(rho)) == want, (n, rho)
    assert removal_count(np.array([5, 4, 0]), 0.5).tolist() == [3, 2, 0]
    with pytest.raises(ValueError, match="rho"):
        removal_count(5, 1.0)


def test_top_fraction_equals_a_record_by_record_loop():
    from ecgfoundry.eval.masker_attack import removal_count, top_fraction

    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(40, 24)).astype(float)   # many ties: token order breaks them
    obs = rng.random((40, 24)) < 0.7
    for rho in (0.0, 0.3, 0.5):
        got = top_fraction(scores, obs, rho)
        for i in range(len(scores)):
            cand = [j for j in range(24) if obs[i, j]]
            cand.sort(key=lambda j: (-scores[i, j], j))
            want = np.zeros(24, bool)
            want[cand[:removal_count(len(cand), rho)]] = True
            assert got[i].tolist() == want.tolist(), (rho, i)


def test_known_answer_measures_use_the_library_rule():
    """The known-answer measures (eval/evidence_ratio.py, eval/removal_cost.py) remove tokens with this
    module's rule, not a copy."""
    from ecgfoundry.eval import evidence_ratio, removal_cost
    from ecgfoundry.eval.masker_attack import removal_count, top_fraction

    assert evidence_ratio.top_fraction is top_fraction
    assert removal_cost.top_fraction is top_fraction and removal_cost.removal_count is removal_count


def test_masker_removal_of_a_scar_model_and_its_random_control(tiny_run, eval_store):
    from ecgfoundry.checkpoint import load_model
    from ecgfoundry.eval.masker_attack import masker_removal, random_token_removal

    model = load_model(tiny_run)
    b = eval_store.batch(eval_store.split_indices("test")[:6], "synthetic")
    obs = b.observed.copy()
    obs[0, 3] = False  # a missing lead is never "removed" again
    rem = masker_removal(model, b.signal, obs, batch_size=4)
    rnd = random_token_removal(model, b.signal, obs, model.cfg.masker.budget, seed=0, batch_size=4)
    assert rem.shape == b.signal.shape and not rem[0, 3].any() and not rnd[0, 3].any()
    frac = rem.sum((1, 2)) / obs.sum((1, 2))
    np.testing.assert_allclose(frac, rnd.sum((1, 2)) / obs.sum((1, 2)), atol=0.02)
    np.testing.assert_allclose(frac, model.cfg.masker.budget, atol=0.05)
    assert (rem != rnd).any()
    np.testing.assert_array_equal(rem, masker_removal(model, b.signal, obs))  # deterministic


def test_top1_accuracy_known_answers():
    from ecgfoundry.eval.metrics import top1_accuracy

    y = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0], [0, 0, 1]])
    s = np.array([[0.9, 0.1, 0.0], [0.1, 0.2, 0.7], [0.3, 0.3, 0.3], [0.5, 0.1, 0.2]])
    assert top1_accuracy(y, s) == pytest.approx(2 / 3)  # the unlabelled record is left out
    assert np.isnan(top1_accuracy(np.zeros((2, 3)), s[:2]))
    with pytest.raises(ValueError):
        top1_accuracy(y[:, 0], s[:, 0])
