"""``ecgfoundry evaluate --protocol stress``: every missingness cell carries cmrs, cmrs_clean,
cmrs_self and cmrs_robust with 95 % intervals, Rand. and Hard of a kind remove the same budget, and
F's own AUROC is reported per cell; report.md shows them."""

import json

import numpy as np
import pytest

from ecgfoundry.cli.main import main

PARTS = ("cmrs", "cmrs_clean", "cmrs_self", "cmrs_robust")


def test_stress_protocol_writes_the_parts_of_cmrs(tmp_path, capsys, eval_store, tiny_reference, tiny_run):
    out = tmp_path / "stress"
    argv = ["evaluate", "--model", str(tiny_run), "--data", str(eval_store.path), "--label-set", "synthetic",
            "--reference", str(tiny_reference.path), "--protocol", "stress", "--n-candidates", "3",
            "--n-boot", "30", "--seed", "1", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    capsys.readouterr()
    m = json.loads((out / "metrics.json").read_text())
    zs = m["zero_shot"]
    assert 0 <= zs["clean"]["reference_auroc"] <= 1 and len(zs["clean"]["reference_auroc_ci"]) == 2
    assert m["n_candidates"] == 3
    for kind in ("lead", "temporal", "joint"):
        cells = zs["missingness"][kind]
        assert set(cells) == {"rand", "hard"}
        assert cells["rand"]["severity"] == cells["hard"]["severity"] > 0, kind  # the same budget, exactly
        for mode, d in cells.items():
            for key in PARTS:
                lo, hi = d[f"{key}_ci"]
                assert lo <= d[key] <= hi, (kind, mode, key)
            assert d["cmrs_robust"] == pytest.approx(d["cmrs"] - d["cmrs_clean"], abs=1e-9)
            assert 0 <= d["reference_auroc"] <= 1 and len(d["reference_auroc_ci"]) == 2
        # Hard moves F at least as much as Rand. (the Rand. placement is one of its candidates)
        assert cells["hard"]["impact"] >= cells["rand"]["impact"] - 1e-12
    report = (out / "report.md").read_text()
    assert "### CMRS: clean agreement and robustness" in report
    d = zs["missingness"]["joint"]["hard"]
    assert f"| joint hard | {d['severity']:.3f} | {d['reference_auroc']:.3f} [" in report
    assert f"| {d['cmrs_robust']:.1f} [{d['cmrs_robust_ci'][0]:.1f}, {d['cmrs_robust_ci'][1]:.1f}] |" in report
    header = (out / "zero_shot.csv").read_text().splitlines()[0].split(",")
    assert {f"{k}_{s}" for k in PARTS for s in ("low", "high")} <= set(header)


def test_default_candidates_match_the_library():
    from ecgfoundry.cli.main import build_parser
    from ecgfoundry.eval.protocol import EvaluateOptions
    from ecgfoundry.eval.stress import N_CANDIDATES

    args = build_parser().parse_args(["evaluate", "--model", "m", "--data", "d", "--out", "o"])
    assert args.n_candidates == EvaluateOptions().n_candidates == N_CANDIDATES == 16
