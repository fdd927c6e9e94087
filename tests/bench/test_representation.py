"""Algorithm 1 end to end on tiny cached embeddings with planted, partly shared dimensions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

for _m in ('sklearn', 'shap'):
    pytest.importorskip(_m, reason="the bench extra is not installed (pip install -e '.[bench]')")


from ecgfoundry.bench.embed import EmbeddingCache, Embeddings
from ecgfoundry.bench.representation import representation_analysis
from ecgfoundry.bench.runner import save_labels


PLANTED = {"a": (1, 3), "b": (1, 3), "c": (5, 6)}


def test_shared_top_features_and_geometry(tmp_path):
    cache = EmbeddingCache(tmp_path / "embeddings")
    for i, (dataset, dims) in enumerate(PLANTED.items()):
        rng = np.random.default_rng(i)
        X = rng.normal(size=(120, 8)).astype(np.float32)
        y = (X[:, list(dims)].sum(axis=1) > 0).astype(int)
        X[:, 7] += 10 * i  # datasets sit apart along dim 7 (not label-related)
        ids = [f"{dataset}/{j}" for j in range(120)]
        cache.save(Embeddings(X, ids, "m", dataset, "max"))
        save_labels(tmp_path, dataset, "AF", y, ids)
    best = pd.DataFrame({"model": ["m"] * 3, "dataset": ["a", "b", "c"],
                         "classifier": ["logistic_regression", "logistic_regression", "decision_tree"]})
    res = representation_analysis(tmp_path, "m", ["a", "b", "c"], "AF", best=best, k=2, n_fit=120,
                                  n_per_dataset=60, grids={"logistic_regression": {"C": [1.0]},
                                                           "decision_tree": {"max_depth": [3]}},
                                  with_umap=False, background=20, max_explain=60)
    assert res.classifiers == {"a": "logistic_regression", "b": "logistic_regression", "c": "decision_tree"}
    assert {d: set(v.tolist()) for d, v in res.tops.items()} == {d: set(v) for d, v in PLANTED.items()}
    rate = {(r.dataset_a, r.dataset_b): r.rate for r in res.shared_pairs.itertuples()}
    assert rate == {("a", "b"): 1.0, ("a", "c"): 0.0, ("b", "c"): 0.0}
    assert res.shared["mean_pairwise_rate"] == pytest.approx(1 / 3) and res.shared["shared_by_all"] == 0
    g = res.geometry.set_index("level")
    assert list(g.index) == ["label", "dataset"] and g.loc["label", "n"] == 180
    with pytest.raises(ValueError, match="no best classifier"):
        representation_analysis(tmp_path, "m", ["a"], "AF", with_umap=False)
