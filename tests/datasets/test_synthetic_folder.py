"""The synthetic-folder writer (datasets/), shared by ``ecgfoundry synth`` and the benchmark."""

import numpy as np
import pandas as pd
import pytest

from ecgfoundry.datasets.synthetic import SyntheticConfig, generate
from ecgfoundry.datasets.synthetic_folder import ADC_GAIN, write_synthetic_folder


def test_writer_round_trips_the_generator_and_refuses_a_full_folder(tmp_path):
    cfg = SyntheticConfig(n=12, seed=3)
    res = write_synthetic_folder(tmp_path / "s", cfg, progress=False)
    ds = generate(n=12, seed=3)
    assert res.n_records == 12
    assert res.class_counts == dict(zip(ds.classes, ds.labels.sum(0).astype(int).tolist()))
    table = pd.read_csv(tmp_path / "s" / "records.csv")
    assert table["text"].tolist() == list(ds.reports)
    # record 5 read back as raw int16 (T, 12) equals the generated millivolts to within half an ADC unit
    rid = table["record"][5]
    d = np.fromfile(tmp_path / "s" / f"{rid}.dat", dtype="<i2").reshape(-1, 12)
    np.testing.assert_allclose(d.T / ADC_GAIN, ds.signal[5], atol=0.5 / ADC_GAIN + 1e-7)
    with pytest.raises(FileExistsError, match="not empty"):
        write_synthetic_folder(tmp_path / "s", cfg, progress=False)
    write_synthetic_folder(tmp_path / "s", SyntheticConfig(n=4, seed=3), overwrite=True, progress=False)
    assert len(pd.read_csv(tmp_path / "s" / "records.csv")) == 4


def test_cli_and_benchmark_write_the_same_folder(tmp_path):
    from ecgfoundry.bench.datasets import synthetic_folder
    from ecgfoundry.cli.main import main

    assert main(["synth", "--n", "10", "--seed", "4", "--out", str(tmp_path / "cli"), "--no-progress"]) == 0
    bench = synthetic_folder(tmp_path / "bench", 10, 4, progress=False)
    for name in ("records.csv", "evidence.jsonl", "label_sets.json", "records/00007.dat", "records/00007.hea"):
        assert (tmp_path / "cli" / name).read_bytes() == (bench / name).read_bytes(), name
