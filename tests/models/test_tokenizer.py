"""Lead x time patching: shapes, order, token-observed rule."""

from __future__ import annotations

import torch

from ecgfoundry.models.tokenizer import n_time_patches, patchify


def test_shapes_order_and_positions():
    x = torch.arange(2 * 12 * 100, dtype=torch.float32).reshape(2, 12, 100)
    m = torch.ones_like(x, dtype=torch.bool)
    p = patchify(x, m, 25)
    assert p.values.shape == (2, 48, 25) and p.token_observed.shape == (2, 48)
    assert torch.equal(p.values[1, 4 * 3 + 2], x[1, 3, 50:75])  # lead 3, patch 2
    assert p.lead_ids[4 * 3 + 2] == 3 and p.time_ids[4 * 3 + 2] == 2
    assert p.token_observed.all()


def test_padding_marks_tail_unobserved():
    x = torch.randn(1, 12, 110)
    p = patchify(x, torch.ones_like(x, dtype=torch.bool), 50)
    assert n_time_patches(110, 50) == 3 and p.values.shape == (1, 36, 50)
    # last patch of each lead has 10 of 50 samples: below the 0.5 rule
    assert not p.token_observed[0, 2::3].any() and p.token_observed[0, 0::3].all()
    assert (p.values[0, 2, 10:] == 0).all()


def test_unobserved_input_gives_unobserved_tokens_and_zero_values():
    x = torch.randn(2, 12, 200)
    m = torch.ones_like(x, dtype=torch.bool)
    m[0] = False                    # whole record missing
    m[1, 4] = False                 # one lead missing
    m[1, 7, 0:50] = False           # one token fully missing
    m[1, 8, 50:70] = False          # 20 of 50 missing: still observed (30/50 >= 0.5)
    m[1, 9, 100:130] = False        # 30 of 50 missing: unobserved
    p = patchify(x, m, 50)
    tok = p.token_observed.view(2, 12, 4)
    assert not tok[0].any()
    assert not tok[1, 4].any()
    assert not tok[1, 7, 0] and tok[1, 7, 1:].all()
    assert tok[1, 8, 1] and not tok[1, 9, 2]
    assert (p.values[~p.sample_observed] == 0).all()


def test_min_observed_fraction_any_sample():
    x = torch.randn(1, 12, 100)
    m = torch.zeros_like(x, dtype=torch.bool)
    m[0, 0, 3] = True
    p = patchify(x, m, 50, min_observed_fraction=1e-6)
    assert p.token_observed.sum() == 1 and p.token_observed[0, 0]
