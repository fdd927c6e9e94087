import numpy as np
import pytest

from ecgfoundry.batch import EcgBatch, EcgRecord
from ecgfoundry.datasets.splits import group_splits, parse_fold_mapping, splits_from_folds
from ecgfoundry.errors import EcgDataError
from ecgfoundry.io.base import LabelSet, place_leads
from ecgfoundry.signals.leads import LEADS, canonical_lead_name


def test_lead_names():
    assert [canonical_lead_name(n) for n in ("avl", "AVF", "Lead II", "v6", "MLII", "ECG")] == \
        ["aVL", "aVF", "II", "V6", "II", None]


def test_place_leads_reorders_and_masks():
    names = ["I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"]  # MIMIC order
    data = np.tile(np.array([LEADS.index(n) + 1.0 for n in names]), (10, 1))
    data[3, 0] = np.nan
    data[:, 7] = 0.0  # V2 flat
    sig, obs = place_leads(data, names, "x.hea")
    np.testing.assert_array_equal(sig[:, 0], [1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12])
    assert not obs[0, 3] and sig[0, 3] == 0 and not obs[7].any() and obs.sum() == 12 * 10 - 1 - 10
    with pytest.raises(EcgDataError, match=r"x.hea: lead names: unknown lead name 'Resp'"):
        place_leads(data, names[:-1] + ["Resp"], "x.hea")
    with pytest.raises(EcgDataError, match="twice"):
        place_leads(data, names[:-1] + ["I"], "x.hea")


def test_label_set_encode():
    ls = LabelSet("t", ("A", "B"), {"a1": ("A",), "a2": ("A",), "ab": ("A", "B")})
    np.testing.assert_array_equal(ls.encode([("a1", "zz"), ("ab",), ()]), [[1, 0], [1, 1], [0, 0]])
    with pytest.raises(ValueError, match="unknown classes"):
        LabelSet("t", ("A",), {"x": ("B",)})


def test_batch_indexing_and_validation():
    n, t = 4, 50
    b = EcgBatch(np.zeros((n, 12, t), np.float32), np.ones((n, 12, t), bool), 100.0,
                 labels=np.eye(4, 2, dtype=np.float32), classes=("a", "b"), texts=list("wxyz"),
                 ids=[f"d/{i}" for i in range(n)], meta={"age": np.arange(n)})
    sub = b[[2, 0]]
    assert sub.ids == ["d/2", "d/0"] and sub.texts == ["y", "w"] and sub.meta["age"].tolist() == [2, 0]
    assert len(b[1:3]) == 2
    with pytest.raises(ValueError, match="classes"):
        EcgBatch(b.signal, b.observed, 100.0, labels=b.labels, classes=("a",))
    with pytest.raises(ValueError, match=r"\(N, 12, T\)"):
        EcgBatch(np.zeros((2, 8, 5)), np.zeros((2, 8, 5), bool), 100.0)
    r = EcgRecord(np.zeros((12, 5), np.float32), np.ones((12, 5), bool), 500.0, "r1", "d")
    assert r.seconds == 0.01
    with pytest.raises(ValueError, match="fs"):
        EcgRecord(np.zeros((12, 5), np.float32), np.ones((12, 5), bool), 0.0, "r1", "d")


def test_splits():
    assert splits_from_folds([1, 8, 9, 10, 11]).tolist() == ["train", "train", "val", "test", "unused"]
    assert parse_fold_mapping("train=1-3+5,val=4,test=6") == {"train": (1, 2, 3, 5), "val": (4,), "test": (6,)}
    with pytest.raises(ValueError, match="more than one"):
        splits_from_folds([1], {"train": (1,), "test": (1,)})
    groups = [f"p{i % 300}" for i in range(3000)]
    s = group_splits(groups, seed=3)
    by_group = {}
    for g, split in zip(groups, s):
        by_group.setdefault(g, set()).add(split)
    assert all(len(v) == 1 for v in by_group.values())  # patient-wise
    frac = np.mean(s == "train")
    assert 0.7 < frac < 0.9
    assert (group_splits(groups, seed=3) == s).all() and not (group_splits(groups, seed=4) == s).all()
