"""Maskers: gate range, determinism at eval, random rate, never-empty records."""

from __future__ import annotations

import torch

from ecgfoundry.models.masker import AdversarialMasker, RandomMasker, logistic_noise


def _tokens(n=4, m=30, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, m, d, generator=g), torch.ones(n, m, dtype=torch.bool)


def test_adversarial_gate_in_unit_interval_and_keep_log_matches():
    masker = AdversarialMasker(16, hidden=8, tau=0.5, budget=0.3)
    torch.nn.init.normal_(masker.net[-1].weight)
    h, obs = _tokens()
    obs[0, :5] = False
    masker.train()
    out = masker(h, obs, torch.Generator().manual_seed(1))
    g = out.gate[obs]
    assert ((g > 0) & (g < 1)).all()
    assert (out.gate[~obs] == 0).all()
    torch.testing.assert_close(out.keep_log[obs].exp(), 1 - g)


def test_adversarial_deterministic_at_eval_stochastic_in_training():
    masker = AdversarialMasker(16, hidden=8, tau=0.5)
    h, obs = _tokens()
    masker.eval()
    a, b = masker(h, obs), masker(h, obs)
    torch.testing.assert_close(a.gate, b.gate)
    torch.testing.assert_close(a.gate, torch.sigmoid(a.logits / 0.5))
    masker.train()
    c, d = masker(h, obs), masker(h, obs)
    assert not torch.allclose(c.gate, d.gate)
    e = masker(h, obs, torch.Generator().manual_seed(3))
    f = masker(h, obs, torch.Generator().manual_seed(3))
    torch.testing.assert_close(e.gate, f.gate)


def test_adversarial_initial_median_gate_is_budget():
    masker = AdversarialMasker(16, hidden=8, tau=0.7, budget=0.2).eval()
    h, obs = _tokens()
    torch.testing.assert_close(masker(h, obs).gate, torch.full((4, 30), 0.2))


def test_gate_gradient_reaches_masker():
    masker = AdversarialMasker(16, hidden=8).train()
    h, obs = _tokens()
    out = masker(h, obs)
    (out.gate * torch.arange(30.0)).sum().backward()
    assert masker.net[-1].weight.grad is not None and torch.isfinite(masker.net[-1].weight.grad).all()


def test_logistic_noise_distribution():
    eps = logistic_noise((200_000,), generator=torch.Generator().manual_seed(0))
    assert abs(eps.mean().item()) < 0.02
    assert abs(eps.var().item() - torch.pi ** 2 / 3) < 0.05
    assert torch.isfinite(eps).all()


def test_random_masker_rate_and_never_empty():
    masker = RandomMasker(0.3)
    h, obs = _tokens(n=64, m=200)
    out = masker(h, obs, torch.Generator().manual_seed(0))
    assert abs(out.gate.mean().item() - 0.3) < 0.02
    assert set(out.gate.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(torch.isinf(out.keep_log), out.gate.bool())
    # a record with a single observed token never loses it
    h, obs = _tokens(n=200, m=10)
    obs[:] = False
    obs[:, 3] = True
    out = RandomMasker(0.9)(h, obs, torch.Generator().manual_seed(0))
    assert (out.gate[:, 3] == 0).all() and (out.gate == 0).all()
    # unobserved tokens are never "removed"
    h, obs = _tokens(n=8, m=10)
    obs[:, :5] = False
    out = RandomMasker(0.5)(h, obs, torch.Generator().manual_seed(0))
    assert (out.gate[:, :5] == 0).all()


def test_cap_holds_the_budget_per_record_and_keeps_gradients():
    import torch

    from ecgfoundry.models.masker import AdversarialMasker

    torch.manual_seed(0)
    m = AdversarialMasker(8, hidden=16, tau=0.5, budget=0.3, cap=True).eval()
    torch.nn.init.constant_(m.net[-1].bias, 2.0)  # a masker that wants to remove (almost) everything
    tokens = torch.randn(3, 10, 8)
    obs = torch.ones(3, 10, dtype=torch.bool)
    obs[2, 6:] = False
    out = m(tokens, obs)
    mean = out.gate.sum(-1) / obs.sum(-1)
    torch.testing.assert_close(mean, torch.full((3,), 0.3))
    assert (out.gate[2, 6:] == 0).all()
    torch.testing.assert_close(out.keep_log, torch.where(obs, torch.log1p(-out.gate), torch.zeros(())))
    (out.gate * torch.arange(10.0)).sum().backward()  # where to remove is still learnable
    assert m.net[-1].weight.grad is not None and m.net[-1].weight.grad.abs().sum() > 0
    free = AdversarialMasker(8, hidden=16, tau=0.5, budget=0.3, cap=False).eval()
    free.load_state_dict(m.state_dict())
    assert (free(tokens, obs).gate.sum(-1) / obs.sum(-1)).min() > 0.9  # penalty mode: no cap


def test_shift_meets_the_budget_exactly_and_only_moves_removal_between_tokens():
    import torch

    from ecgfoundry.models.masker import AdversarialMasker, _budget_offset

    torch.manual_seed(0)
    m = AdversarialMasker(8, hidden=16, tau=0.5, budget=0.3, cap=False, shift=True).eval()
    torch.nn.init.normal_(m.net[-1].weight, std=2.0)
    torch.nn.init.constant_(m.net[-1].bias, 5.0)  # a masker that wants to remove everything
    tokens = torch.randn(3, 10, 8)
    obs = torch.ones(3, 10, dtype=torch.bool)
    obs[2, 6:] = False
    out = m(tokens, obs)
    torch.testing.assert_close(out.gate.sum(-1) / obs.sum(-1), torch.full((3,), 0.3))
    assert (out.gate[2, 6:] == 0).all()
    assert out.gate[0].std() > 0.05  # not a uniform 0.3: the logits decide where
    torch.testing.assert_close(out.keep_log, torch.where(obs, torch.log1p(-out.gate), torch.zeros(())))

    # Implicit gradient: the total removal of a record cannot change, its allocation can.
    a = torch.randn(2, 7, requires_grad=True)
    o = torch.ones(2, 7, dtype=torch.bool)
    o[1, 5:] = False
    g = torch.sigmoid(a - _budget_offset(a, o, 0.3)) * o
    (grad_total,) = torch.autograd.grad(g.sum(), a, retain_graph=True)
    torch.testing.assert_close(grad_total, torch.zeros_like(grad_total), atol=1e-5, rtol=0)
    (grad_first,) = torch.autograd.grad(g[0, 0], a)
    assert grad_first[0, 0] > 0 and (grad_first[0, 1:] <= 0).all()
    # ... and it matches finite differences of the exact (re-solved) gate
    eps = 1e-3
    b = a.detach().clone()
    b[0, 3] += eps
    g_plus = torch.sigmoid(b - _budget_offset(b, o, 0.3))
    b[0, 3] -= 2 * eps
    g_minus = torch.sigmoid(b - _budget_offset(b, o, 0.3))
    fd = (g_plus[0, 0] - g_minus[0, 0]) / (2 * eps)
    a2 = a.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(torch.sigmoid(a2 - _budget_offset(a2, o, 0.3))[0, 0], a2)
    torch.testing.assert_close(grad[0, 3], fd, atol=1e-3, rtol=1e-2)


def test_shift_and_cap_are_exclusive():
    import pytest

    from ecgfoundry.models.masker import AdversarialMasker

    with pytest.raises(ValueError, match="cap and shift"):
        AdversarialMasker(8, cap=True, shift=True)


def test_logit_bound_squashes_logits_and_keeps_initial_budget():
    bounded = AdversarialMasker(16, hidden=8, tau=0.5, budget=0.2, cap=False, logit_bound=2.0).eval()
    h, obs = _tokens()
    # Initial gates are still the budget everywhere.
    torch.testing.assert_close(bounded(h, obs).gate, torch.full((4, 30), 0.2))
    torch.nn.init.normal_(bounded.net[-1].weight, std=50.0)
    out = bounded(h, obs)
    assert out.logits.abs().max() <= 2.0
    assert out.logits.abs().max() > 1.9  # large raw logits reach the bound
    # Same raw network without the bound: the bounded logit is 2 tanh(raw / 2).
    free = AdversarialMasker(16, hidden=8, tau=0.5, budget=0.2, cap=False).eval()
    free.load_state_dict(bounded.state_dict())
    torch.testing.assert_close(out.logits, 2.0 * torch.tanh(free(h, obs).logits / 2.0))


def test_logit_bound_keeps_gates_unsaturated_where_unbounded_ones_saturate():
    def soft_fraction(bound):
        torch.manual_seed(0)
        m = AdversarialMasker(16, hidden=8, tau=0.5, budget=0.3, cap=False, shift=True, logit_bound=bound).eval()
        torch.nn.init.normal_(m.net[-1].weight, std=30.0)
        h, obs = _tokens()
        g = m(h, obs).gate
        return ((g > 0.05) & (g < 0.95)).float().mean().item()

    assert soft_fraction(0.0) < 0.1
    assert soft_fraction(1.0) > 0.5


def test_logit_bound_must_be_non_negative():
    import pytest

    with pytest.raises(ValueError, match="logit_bound"):
        AdversarialMasker(16, logit_bound=-1.0)


def test_centred_logits_remove_a_fixed_position_preference():
    # The raw logit is a per-position preference shared by every record plus one record-specific bump:
    # centring leaves only the bump, in training (batch mean) and at eval (running mean).
    torch.manual_seed(0)
    m = AdversarialMasker(4, hidden=4, tau=0.5, budget=0.3, cap=False, shift=False, centre_positions=12)
    n, pos = 8, 10
    prior = torch.linspace(-2, 2, pos)
    bump = torch.zeros(n, pos)
    bump[3, 7] = 5.0

    class Fixed(torch.nn.Module):  # the MLP replaced by a lookup of the wanted raw logits
        def forward(self, tokens):
            return (prior + bump)[..., None] * tokens[..., :1]

    m.net = Fixed()
    h, obs = torch.ones(n, pos, 4), torch.ones(n, pos, dtype=torch.bool)
    m.train()
    for _ in range(2000):
        out = m(h, obs)
    expected = bump - bump.mean(0) + m.init_logit
    torch.testing.assert_close(out.logits, expected)
    torch.testing.assert_close(m.position_mean[:pos], prior + bump.mean(0), atol=1e-3, rtol=0)
    m.eval()
    torch.testing.assert_close(m(h, obs).logits, expected, atol=1e-3, rtol=0)
    # Unobserved tokens do not enter the batch mean.
    obs2 = obs.clone()
    obs2[:4, 0] = False
    h2 = h.clone()
    h2[:4, 0] = 100.0
    m.train()
    torch.testing.assert_close(m(h2, obs2).logits[4:, 0], torch.full((4,), m.init_logit))


def test_centring_passes_gradient_only_to_deviations_and_checks_length():
    import pytest

    m = AdversarialMasker(16, hidden=8, tau=0.5, budget=0.3, cap=False, shift=False, centre_positions=30).train()
    torch.nn.init.normal_(m.net[-1].weight)
    h, obs = _tokens()
    out = m(h, obs)
    # A shift shared by every record at a position has no effect: d(sum of logits over records)/d(bias) = 0.
    out.logits.sum().backward()
    assert abs(m.net[-1].bias.grad.item()) < 1e-5
    with pytest.raises(ValueError, match="centres 30 token positions"):
        m(torch.randn(2, 31, 16), torch.ones(2, 31, dtype=torch.bool))
