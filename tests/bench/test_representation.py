"""Algorithm 1 end to end on tiny cached embeddings: one classifier C_i*, fitted on the best dataset,
explained on every dataset; only non-zero importances enter a top-k."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

for _m in ('sklearn', 'shap'):
    pytest.importorskip(_m, reason="the bench extra is not installed (pip install -e '.[bench]')")


from ecgfoundry.bench.embed import EmbeddingCache, Embeddings
from ecgfoundry.bench.representation import choose_fit_dataset, representation_analysis
from ecgfoundry.bench.runner import save_labels


PLANTED = {"a": (1, 3), "b": (1, 3), "c": (5, 6)}
GRIDS = {"logistic_regression": {"C": [1.0]}, "decision_tree": {"max_depth": [1]}}


def _cache(tmp_path, planted, n=120, d=8, noise=False):
    cache = EmbeddingCache(tmp_path / "embeddings")
    for i, (dataset, dims) in enumerate(planted.items()):
        rng = np.random.default_rng(i)
        X = rng.normal(size=(n, d)).astype(np.float32)
        y = rng.integers(0, 2, size=n) if noise else (X[:, list(dims)].sum(axis=1) > 0).astype(int)
        X[:, d - 1] += 10 * i  # datasets sit apart along the last dim (not label-related)
        ids = [f"{dataset}/{j}" for j in range(n)]
        cache.save(Embeddings(X, ids, "m", dataset, "max"))
        save_labels(tmp_path, dataset, "AF", y, ids)


def _best(classifiers, f1):
    return pd.DataFrame({"model": "m", "dataset": list(f1), "classifier": classifiers,
                         "f1_median_mean": list(f1.values()), "f1_iqr_mean": 0.05})


def test_one_classifier_explained_on_every_dataset_and_geometry(tmp_path):
    # i* = "a" (highest F1), C_i* = logistic regression; on "c" the label lives in dims 5, 6, but the one
    # classifier still leans on 1 and 3 there. (Old protocol: c's own tree gave {5, 6}, rates 1, 0, 0.)
    _cache(tmp_path, PLANTED)
    best = _best(["logistic_regression", "logistic_regression", "decision_tree"], {"a": 0.9, "b": 0.8, "c": 0.7})
    res = representation_analysis(tmp_path, "m", ["a", "b", "c"], "AF", best=best, k=2, n_fit=120,
                                  n_per_dataset=60, grids=GRIDS, with_umap=False, background=20, max_explain=60)
    assert (res.fit_dataset, res.classifier) == ("a", "logistic_regression")
    assert res.classifiers == {"a": "logistic_regression", "b": "logistic_regression", "c": "logistic_regression"}
    assert {d: set(v.tolist()) for d, v in res.tops.items()} == {"a": {1, 3}, "b": {1, 3}, "c": {1, 3}}
    rate = {(r.dataset_a, r.dataset_b): r.rate for r in res.shared_pairs.itertuples()}
    assert rate == {("a", "b"): 1.0, ("a", "c"): 1.0, ("b", "c"): 1.0}
    assert res.shared["shared_by_all"] == 2
    g = res.geometry.set_index("level")
    assert list(g.index) == ["label", "dataset"] and g.loc["label", "n"] == 180
    with pytest.raises(ValueError, match="no best classifier"):
        representation_analysis(tmp_path, "m", ["a"], "AF", with_umap=False)


def test_stump_known_answer_one_feature_everywhere(tmp_path):
    # C_i* is a depth-1 tree fitted on "b" (the best dataset): it splits on b's planted dim 5, so on every
    # dataset exactly one feature has non-zero SHAP importance: top-2 = [5] everywhere, and with k = 2 each
    # pair shares 1 of k: rate 1/2. The old code padded every top-2 with the lowest unused index.
    _cache(tmp_path, {"a": (1,), "b": (5,), "c": (2,)})
    best = _best(["decision_tree"] * 3, {"a": 0.7, "b": 0.9, "c": 0.8})
    res = representation_analysis(tmp_path, "m", ["a", "b", "c"], "AF", best=best, k=2, n_fit=120,
                                  n_per_dataset=60, grids=GRIDS, with_umap=False, max_explain=120)
    assert res.fit_dataset == "b"
    assert {d: v.tolist() for d, v in res.tops.items()} == {"a": [5], "b": [5], "c": [5]}
    assert res.shared_pairs.rate.tolist() == [0.5, 0.5, 0.5]
    assert res.shared["shared_by_all"] == 1 and res.shared["min_set_size"] == 1
    assert res.common_top.tolist() == [5]


def test_pure_noise_gets_no_inflated_overlap(tmp_path):
    # labels unrelated to 64-dim noise embeddings: a depth-3 tree uses at most 7 dims, so top-50 sets
    # hold at most 7 features and share at most 7/50 (old code: ~0.9 from the zero-importance fill)
    _cache(tmp_path, {"a": (), "b": (), "c": ()}, n=200, d=64, noise=True)
    best = _best(["decision_tree"] * 3, {"a": 0.55, "b": 0.5, "c": 0.5})
    res = representation_analysis(tmp_path, "m", ["a", "b", "c"], "AF", best=best, k=50, n_fit=200,
                                  n_per_dataset=60, grids={"decision_tree": {"max_depth": [3]}},
                                  with_umap=False, max_explain=200)
    assert all(len(v) <= 7 for v in res.tops.values())
    assert res.shared["mean_pairwise_rate"] <= 7 / 50


def test_choose_fit_dataset_prefers_full_cells():
    best = _best(["mlp", "xgboost", "decision_tree"], {"big": 0.7, "tiny": 1.0, "other": 0.6})
    assert choose_fit_dataset(best, "m", ["big", "tiny", "other"]) == ("tiny", "xgboost")
    assert choose_fit_dataset(best, "m", ["big", "tiny", "other"], eligible=["big", "other"]) == ("big", "mlp")
    assert choose_fit_dataset(best, "m", ["big", "tiny"], eligible=[]) == ("tiny", "xgboost")  # none eligible
    with pytest.raises(ValueError, match="no best classifier"):
        choose_fit_dataset(best.drop(columns="f1_median_mean"), "m", ["big"])
