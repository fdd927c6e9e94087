"""The shipped models' cards hold figures that the package reproduces: zero-shot macro AUROC on the
PTB-XL test fold (packaged prompts) equals the card's, for every shipped model."""

from __future__ import annotations

import pytest

from ecgfoundry.pretrained import list_pretrained, load_pretrained, pretrained_card


@pytest.fixture(scope="module")
def ptbxl_test(ptbxl_root):
    from ecgfoundry.io.store import HarmonizeSpec, open_store

    store = open_store(ptbxl_root, HarmonizeSpec(fs=100.0, seconds=10.0), progress=False)
    return store.batch(store.split_indices("test"), "superdiagnostic")


@pytest.mark.parametrize("name", list_pretrained())
def test_card_zero_shot_reproduces_on_the_test_fold(name, ptbxl_test):
    from ecgfoundry.eval.metrics import macro_auroc
    from ecgfoundry.eval.prompts import load_prompts, prompts_for
    from ecgfoundry.eval.zero_shot import zero_shot_classifier, zero_shot_scores

    card = pretrained_card(name)
    assert "ptbxl" in name and len(ptbxl_test.labels) == 2198
    model = load_pretrained(name)
    b = ptbxl_test
    scores = zero_shot_scores(model, b.signal, b.observed,
                              zero_shot_classifier(model, b.classes, prompts_for(load_prompts(), "superdiagnostic",
                                                                                 b.classes)))
    score = macro_auroc(b.labels, scores, b.classes)
    per = dict(zip(score.classes, score.per_class))
    assert not score.skipped and score.value == pytest.approx(card["metrics"]["zero_shot_auroc"], abs=1e-4)
    for c, v in card["metrics"]["zero_shot_per_class"].items():
        assert per[c] == pytest.approx(v, abs=1e-4)
    assert card["metrics"]["zero_shot_auroc"] >= 0.85  # the target for the shipped models
