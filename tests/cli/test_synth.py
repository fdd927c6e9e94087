"""``ecgfoundry synth``: the written folder loads like any dataset and matches the generator."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ecgfoundry.cli.main import main
from ecgfoundry.datasets.synthetic import EvidenceItem, generate
from ecgfoundry.signals.leads import LEADS


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "ds"
    assert main(["synth", "--n", "30", "--fs", "250", "--seconds", "4", "--seed", "7", "--noise", "medium",
                 "--out", str(out), "--no-progress"]) == 0
    return out


def test_files_and_table(written, capsys):
    table = pd.read_csv(written / "records.csv", dtype={"record_id": str})
    assert list(table.columns[:8]) == ["record", "record_id", "labels", "text", "patient_id", "fold", "age", "sex"]
    assert len(table) == 30 and table["record"].iloc[0] == "records/00001"
    assert set(table["fold"]) == set(range(1, 11)) and set(table["sex"]) <= {"M", "F"}
    assert {"hr_bpm", "pr_ms", "qrs_ms", "axis_deg"} <= set(table.columns)
    meta = json.loads((written / "synthetic.json").read_text())
    assert meta["config"]["seed"] == 7 and meta["storage"]["adc_gain_per_mv"] == 1000.0
    lines = (written / "evidence.jsonl").read_text().splitlines()
    assert len(lines) == 30
    first = json.loads(lines[0])
    assert first["record"] == "records/00001"
    items = [EvidenceItem.from_json(d) for d in first["evidence"]]
    assert {i.label for i in items if i.role == "primary"} == set(table["labels"].iloc[0].split(";"))


def test_signals_roundtrip_within_quantisation(written):
    import wfdb

    ds = generate(30, fs=250, seconds=4, seed=7, noise="medium")
    for i in (0, 17, 29):
        rec = wfdb.rdrecord(str(written / "records" / f"{i + 1:05d}"))
        assert rec.fs == 250 and rec.sig_name == list(LEADS) and rec.units == ["mV"] * 12
        np.testing.assert_allclose(rec.p_signal.T, ds.signal[i], atol=0.5e-3 + 1e-7)
    table = pd.read_csv(written / "records.csv")
    assert table["text"].tolist() == ds.reports


def test_writer_is_byte_identical_to_wrsamp(written, tmp_path):
    assert main(["synth", "--n", "3", "--fs", "250", "--seconds", "4", "--seed", "7", "--noise", "medium",
                 "--out", str(tmp_path / "w"), "--no-progress", "--use-wrsamp"]) == 0
    for name in ("00001.hea", "00001.dat", "00003.hea", "00003.dat"):
        assert (tmp_path / "w" / "records" / name).read_bytes() == (written / "records" / name).read_bytes()


def test_reader_loads_the_folder(written):
    from ecgfoundry.io.wfdb_folder import WFDBFolder

    src = WFDBFolder(written)
    assert len(src) == 30
    labels, classes = src.labels("synthetic")
    assert classes[0] == "NORM" and labels.shape == (30, 16)
    rec = src.read(0)
    assert rec.signal.shape == (12, 1000) and rec.fs == 250 and rec.observed.all()
    # Label-description text (text_source="labels") from the descriptions synth writes to dataset.json.
    texts = WFDBFolder(written, text_source="labels").table["text"]
    for row, text in zip(labels.astype(bool), texts):
        named = [c for c, on in zip(classes, row) if on]
        assert text.count(".") == len(named) and "bpm" not in text and "ms" not in text
    assert "Normal ECG." in set(texts)


def test_refuses_non_empty_folder_and_bad_conditions(written, tmp_path, capsys):
    assert main(["synth", "--n", "2", "--out", str(written), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "--overwrite" in err
    assert main(["synth", "--n", "2", "--conditions", "AF=2", "--out", str(tmp_path / "x"),
                 "--no-progress"]) == 2
    assert "probability of AF" in capsys.readouterr().err


def test_help_has_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["synth", "--help"])
    assert "ecgfoundry synth --n 5000" in capsys.readouterr().out
