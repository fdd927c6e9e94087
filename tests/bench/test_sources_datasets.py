"""Model specs (checkpoints, adapters, weights), datasets split by source, and the Markdown tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecgfoundry.batch import EcgBatch
from ecgfoundry.bench.datasets import StoreView, split_by_source
from ecgfoundry.bench.sources import ModelSpec, open_source, parse_model_specs, parse_weights
from ecgfoundry.bench.tables import f1_table, headline_table, to_markdown


def _fake_run(root, name):
    folder = root / name / "checkpoints" / "step_0000002"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"")
    (root / name / "checkpoints" / "latest").write_text("step_0000002")
    return root / name


def test_model_specs_labels_weights_and_errors(tmp_path):
    run = _fake_run(tmp_path, "ptbxl-scar")
    specs = parse_model_specs([str(run), f"mine={run / 'checkpoints' / 'step_0000002'}", "ecg-fm", "ecg-jepa-tiny"],
                              parse_weights(["ecg-fm=/models/ecg_fm.pt", "ecg-jepa-tiny=random"]))
    assert specs[0] == ModelSpec("ptbxl-scar", "checkpoint", str(run / "checkpoints" / "step_0000002"))
    assert specs[1].label == "mine" and specs[1].kind == "checkpoint"
    assert specs[2] == ModelSpec("ecg-fm", "adapter", "ecg-fm", "/models/ecg_fm.pt")
    assert specs[3].label == "ecg-jepa-tiny-random" and specs[3].weights == "random"
    with pytest.raises(ValueError, match="not an adapter"):
        parse_model_specs(["no/such/run"])
    with pytest.raises(ValueError, match="does not name"):
        parse_model_specs([str(run)], {"ecg-fm": "x.pt"})
    with pytest.raises(ValueError, match="name them"):
        parse_model_specs([str(run), str(run)])
    with pytest.raises(ValueError, match="NAME=PATH"):
        parse_weights(["ecg-fm"])


def test_adapter_without_weights_says_where_to_put_them(tmp_path):
    from ecgfoundry.bench.adapters import WeightsNotFoundError

    spec = parse_model_specs(["ecg-jepa"])[0]
    with pytest.raises(WeightsNotFoundError, match="--weights"):
        open_source(spec)
    with pytest.raises(WeightsNotFoundError, match="not found at"):
        open_source(ModelSpec("ecg-jepa", "adapter", "ecg-jepa", str(tmp_path / "missing.pth")))
    tiny = open_source(parse_model_specs(["ecg-jepa-tiny"], {"ecg-jepa-tiny": "random"})[0])
    assert tiny.name == "ecg-jepa-tiny-random" and (tiny.fs, tiny.seconds) == (500.0, 10.0)  # its native input


class MultiSourceStore:
    name = "cinc"
    fs = 100.0
    path = "x"
    info = {"default_label_set": "AF"}

    def __init__(self):
        self.table = pd.DataFrame({"record_id": [f"r{i}" for i in range(6)],
                                   "source": ["Georgia", "Ningbo", "Georgia", "", "Ningbo", "Georgia"]})
        self.y = np.arange(6, dtype=np.float32)[:, None]
        self.signal = np.arange(6, dtype=np.float32)[:, None, None] * np.ones((6, 12, 5), np.float32)
        self.label_set_names = ["AF"]

    def labels(self, name=None):
        return self.y, ("AF",)

    def batch(self, indices, label_set=None, with_labels=True):
        idx = np.asarray(indices)
        return EcgBatch(self.signal[idx], np.ones((len(idx), 12, 5), bool), fs=100.0,
                        ids=[f"cinc/r{i}" for i in idx])


def test_split_by_source_views():
    store = MultiSourceStore()
    parts = split_by_source(store)
    assert list(parts) == ["cinc:Georgia", "cinc:Ningbo", "cinc:unknown"]
    g = parts["cinc:Georgia"]
    assert isinstance(g, StoreView) and len(g) == 3 and g.table.record_id.tolist() == ["r0", "r2", "r5"]
    assert g.labels("AF")[0].ravel().tolist() == [0, 2, 5]
    b = g.batch([2, 0])
    assert b.signal[:, 0, 0].tolist() == [5, 0] and b.ids == ["cinc:Georgia/r5", "cinc:Georgia/r0"]
    store.table["source"] = "PTB-XL"
    assert split_by_source(store) == {"cinc": store}  # one source: left whole


def test_tables_wide_and_markdown():
    rows = []
    for model in ("a", "b"):
        for clf, f1 in (("logistic_regression", 0.8), ("mlp", 0.6)):
            rows.append({"model": model, "dataset": "d", "pooling": "max", "size": "XS", "task": "CD",
                         "classifier": clf, "f1_median": f1 + (model == "b") * 0.1, "f1_iqr": 0.05,
                         "f1_q25": 0, "f1_q75": 0, "n_folds": 3})
    summary = pd.DataFrame(rows)
    cells = pd.DataFrame([{"dataset": "d", "task": "CD", "size": "XS", "n": 20, "n_pos": 9, "n_neg": 11, "k": 3}])
    wide = f1_table(summary, cells, ["logistic_regression", "mlp", "xgboost"], ["d"])
    assert wide.loc[wide.model == "b", "logistic_regression"].item() == "0.900 (0.050)"
    assert (wide.xgboost == "–").all() and (wide.k == 3).all() and (wide.n == 20).all()
    best = pd.DataFrame({"model": ["a", "b"], "dataset": ["d", "d"], "classifier": ["logistic_regression", "mlp"]})
    head = headline_table(summary, best, cells, ["a", "b"], ["d"])
    assert head.a.item() == "0.800 (0.050) logistic_regression" and head.b.item() == "0.700 (0.050) mlp"
    md = to_markdown(pd.DataFrame({"x": [0.12345, float("nan")], "y": ["a|b", "c"]}))
    assert md.splitlines() == ["| x | y |", "|---|---|", "| 0.123 | a\\|b |", "| – | c |"]


def test_holdout_view_leaves_out_the_train_split():
    from ecgfoundry.bench.datasets import holdout_view

    store = MultiSourceStore()
    with pytest.raises(ValueError, match="no split column"):
        holdout_view(store)
    store.table["split"] = ["train", "val", "test", "train", "train", "test"]
    h = holdout_view(store)
    assert h.name == "cinc:val+test" and h.table.record_id.tolist() == ["r1", "r2", "r5"]
    assert h.labels()[0].ravel().tolist() == [1, 2, 5]
    georgia = holdout_view(split_by_source(store)["cinc:Georgia"])  # a view of a view reads the right rows
    assert georgia.name == "cinc:Georgia:val+test" and georgia.labels()[0].ravel().tolist() == [2, 5]
    assert georgia.batch([1]).signal[0, 0, 0] == 5


def test_shipped_model_names_are_checkpoints():
    from ecgfoundry.pretrained import list_pretrained, pretrained_folder

    if "ptbxl-scar" not in list_pretrained():
        pytest.skip("no shipped ptbxl-scar in this install")
    specs = parse_model_specs(["ptbxl-scar", "c=ptbxl-clip"])
    assert [(s.label, s.kind) for s in specs] == [("ptbxl-scar", "checkpoint"), ("c", "checkpoint")]
    assert specs[0].target == str(pretrained_folder("ptbxl-scar"))
