"""Report generation from a fake run folder (tiny 2-step checkpoints, evaluation and benchmark files)."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from ecgfoundry.cli.main import main
from ecgfoundry.report.build import ReportOptions, missingness_rows, write_report
from ecgfoundry.report.collect import scan_run

pytest.importorskip("matplotlib")

FAST = ReportOptions(umap=False, dpi=40, progress=False)


def _imgs(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]*)"', html)


def test_fake_metrics_match_the_protocol_schema(run_folder):
    """The fake metrics.json files are valid input of the evaluation protocol's own Markdown renderer."""
    from ecgfoundry.eval.protocol_report import markdown_report

    text = markdown_report(json.loads((run_folder / "eval" / "scar" / "metrics.json").read_text()))
    assert "| joint hard |" in text and "Linear probe" in text and "test-time attack" in text
    assert "Per-class CMRS" in text and re.search(r"\| \d+\.\d \[\d+\.\d, \d+\.\d\] \|", text)


def test_scan_run_finds_and_pairs_everything(run_folder):
    run = scan_run(run_folder)
    assert [r.name for r in run.pretrain] == ["scar", "clip"]  # SCAR first
    assert [r.role for r in run.pretrain] == ["SCAR", "baseline"]
    assert [(e.name, e.pretrain.name) for e in run.evals] == [("scar", "scar"), ("clip", "clip")]
    assert run.bench is not None and run.bench.summary["models_order"] == ["scar", "clip"]
    # tables and figures of the output, never its work folder
    assert {p.name for p in run.bench.csv} == {"headline.csv", "folds.csv"}
    assert {p.name for p in run.bench.png} == {"shared_features.png", "umap_scar_CD.png"}
    assert [p.name for p in run.bench.markdown] == ["tables.md"] and run.provenance["seed"] == 0
    rows = missingness_rows(run.evals)
    assert len(rows) == 2 * 7 and {r["condition"] for r in rows} >= {"clean", "joint hard"}


def test_full_report(run_folder, tmp_path):
    out = tmp_path / "report"
    res = write_report(run_folder, out, FAST)
    html = res.html.read_text()
    md = res.markdown.read_text()
    names = {p.name for p in res.figures}
    assert names == {"ecg_paper.png", "token_importance.png", "missingness.png", "adversarial.png",
                     "bench_umap_scar_CD.png", "bench_shared_features.png", "training.png"}
    assert not res.notes, res.notes
    # self-contained: every image is an embedded PNG, no external URL anywhere
    srcs = _imgs(html)
    assert len(srcs) == len(res.figures) and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r'(src|href)="(?!data:|#)', html) and "http://" not in html and "https://" not in html
    # the Markdown twin references PNGs that exist beside it
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert sorted(refs) == sorted(names) and all((out / r).exists() for r in refs)
    for text in (html, md):
        for needle in ("What was run", "ecgfoundry pretrain --preset scar", "AUROC and CMRS per missingness type",
                       "joint hard", "Linear probe", "Benchmark of the frozen embeddings", "0.600 (0.050)",
                       "100 entries, see summary.json", "2.13.0", "random tokens", "top-1 accuracy"):
            assert needle in text, needle
    assert "<td>a | b</td>" in html and "| a \\| b |" in md  # an escaped pipe inside a benchmark table cell
    # SCAR's numbers and the baseline's both appear (0.90 clean SCAR, 0.85 clean CLIP)
    assert "0.900 [0.850, 0.940]" in md and "0.850 [0.800, 0.890]" in md
    # CMRS with its bootstrap CI, one decimal, like "47.2 [41.2, 52.2]"
    cmrs = [r["cmrs"] for r in missingness_rows(scan_run(run_folder).evals) if r.get("cmrs") is not None]
    assert f"{cmrs[0]:.1f} [{cmrs[0] - 6:.1f}, {cmrs[0] + 5:.1f}]" in md
    # beside CMRS: its clean-view score, the robust part with its CI, and F's AUROC under the masks
    assert "| CMRS clean | robust part [95% CI] |" in md and f"| {cmrs[0] + 1.5:.1f} | -1.5 [-2.5, -0.5] |" in md
    assert "| F's AUROC |" in md and "| 0.777 |" in md


def test_umap_from_benchmark_coordinates(run_folder, tmp_path):
    from tests.report.conftest import write_bench

    shutil.rmtree(run_folder / "bench")
    write_bench(run_folder / "bench", umap="csv")
    res = write_report(run_folder, tmp_path / "r", FAST)
    assert "umap.png" in {p.name for p in res.figures} and not res.notes
    assert "UMAP coordinates from the benchmark output" in res.markdown.read_text()


def test_umap_switched_off_without_benchmark_umap(run_folder, tmp_path):
    for p in (run_folder / "bench" / "figures").glob("umap*"):
        p.unlink()
    res = write_report(run_folder, tmp_path / "r", FAST)
    assert any("--no-umap" in n for n in res.notes)


@pytest.mark.slow
def test_umap_computed_from_the_checkpoints(run_folder, tmp_path):
    pytest.importorskip("umap")
    shutil.rmtree(run_folder / "bench")
    res = write_report(run_folder, tmp_path / "r", ReportOptions(dpi=40, progress=False, umap_points=40))
    assert "umap.png" in {p.name for p in res.figures}
    assert "computed here" in res.markdown.read_text()


def test_missing_parts_are_notes_not_errors(run_folder, tmp_path):
    shutil.rmtree(run_folder / "bench")
    shutil.rmtree(run_folder / "eval")
    (run_folder / "provenance.json").unlink()
    res = write_report(run_folder, tmp_path / "r", FAST)
    text = " ".join(res.notes)
    assert "no evaluation output" in text and "no benchmark output" in text
    html = res.html.read_text()
    assert html.count('class="note"') >= 3 and "Notes" in html
    # without provenance or evaluations there is no dataset to draw from: the ECG figures say so
    assert "no dataset for the ECG figures" in text and "ecg_paper.png" not in {p.name for p in res.figures}


def test_data_option_and_seed_choose_the_record(run_folder, tmp_path, eval_store):
    shutil.rmtree(run_folder / "eval")
    (run_folder / "provenance.json").unlink()
    a = write_report(run_folder, tmp_path / "a", ReportOptions(data=str(eval_store.path), seed=1, umap=False,
                                                               dpi=40, progress=False))
    assert {"ecg_paper.png", "token_importance.png"} <= {p.name for p in a.figures}
    b = write_report(run_folder, tmp_path / "b", ReportOptions(data=str(eval_store.path), seed=1, umap=False,
                                                               dpi=40, progress=False))
    assert (tmp_path / "a" / "ecg_paper.png").read_bytes() == (tmp_path / "b" / "ecg_paper.png").read_bytes()


def test_empty_or_missing_run_folder(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="no pretraining run"):
        write_report(tmp_path, tmp_path / "out", FAST)
    assert main(["report", "--run", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "no such run folder" in err and "hint:" in err and "Traceback" not in err
    assert main(["report", "--run", str(tmp_path)]) == 2
    assert "no pretraining run" in capsys.readouterr().err


def test_cli_help_has_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = capsys.readouterr().out
    assert "ecgfoundry report --run runs/demo" in out and "RUN/eval/NAME" in out


def test_cli_writes_the_report(run_folder, tmp_path, capsys):
    assert main(["report", "--run", str(run_folder), "--out", str(tmp_path / "o"), "--no-umap", "--dpi", "40",
                 "--layout", "3x4", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "report.html" in out and (tmp_path / "o" / "report.html").exists()
    assert main(["report", "--run", str(run_folder), "--dpi", "5"]) == 2
    assert "dpi" in capsys.readouterr().err


def test_dataset_folder_is_found_through_its_cache_in_the_run(run_folder, tmp_path, eval_store):
    """provenance.json names the dataset folder (as `make demo` does); its cache under RUN/cache is used,
    no new cache is built."""
    shutil.copytree(eval_store.path, run_folder / "cache" / "synthetic-100hz")
    prov = json.loads((run_folder / "provenance.json").read_text())
    prov["data"] = str(eval_store.path.parent / "data")
    (run_folder / "provenance.json").write_text(json.dumps(prov))
    shutil.rmtree(run_folder / "eval")
    res = write_report(run_folder, tmp_path / "r", FAST)
    assert "ecg_paper.png" in {p.name for p in res.figures}
    assert [p.name for p in (run_folder / "cache").iterdir()] == ["synthetic-100hz"]
