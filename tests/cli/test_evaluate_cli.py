import json

import pytest

from ecgfoundry.cli.main import main


def test_evaluate_end_to_end(tmp_path, capsys, eval_store, tiny_reference, tiny_run):
    out = tmp_path / "eval"
    argv = ["evaluate", "--model", str(tiny_run), "--data", str(eval_store.path), "--label-set", "synthetic",
            "--reference", str(tiny_reference.path), "--missingness", "lead,temporal,joint", "--mode", "rand,hard",
            "--n-candidates", "2", "--seed", "0", "--n-boot", "20", "--no-progress"]
    assert main(argv + ["--out", str(out), "--linear-probe", "--adversarial", "fgsm,pgd", "--eps", "0.05",
                        "--pgd-steps", "2"]) == 0
    printed = capsys.readouterr().out
    assert "| joint hard |" in printed and "metrics.json" in printed
    m = json.loads((out / "metrics.json").read_text())
    assert (out / "report.md").read_text() in printed
    assert m["classes"] == list(tiny_reference.classes) and m["n_test"] == len(eval_store.split_indices("test"))
    clean = m["zero_shot"]["clean"]
    assert 0 <= clean["auroc"] <= 1 and len(clean["auroc_ci"]) == 2 and clean["skipped"]
    for kind in ("lead", "temporal", "joint"):
        for mode in ("rand", "hard"):
            cell = m["zero_shot"]["missingness"][kind][mode]
            assert 0 <= cell["cmrs"] <= 100 and 0 < cell["severity"] < 1 and 0 <= cell["auroc"] <= 1
            assert 0 <= cell["cmrs_ci"][0] <= cell["cmrs_ci"][1] <= 100
            assert list(cell["cmrs_per_class"]) == m["classes"]
    assert [r["fraction"] for r in m["linear_probe"]] == [0.01, 0.1, 1.0]
    header = (out / "zero_shot.csv").read_text().splitlines()[0].split(",")
    assert {"cmrs", "cmrs_low", "cmrs_high"} <= set(header) and "Per-class CMRS" in printed
    adv = {(r["head"], r["attack"]) for r in m["adversarial"]}
    assert adv == {(h, a) for h in ("zero_shot", "linear_probe") for a in ("none", "fgsm", "pgd")}
    # same seed, same masks and numbers
    assert main(argv + ["--out", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert again["zero_shot"] == m["zero_shot"]


@pytest.mark.parametrize("flags, message", [
    (["--missingness", "leads"], "unknown missingness type 'leads'"),
    (["--mode", "rand", "--label-set", "all"], "no prompts"),
    (["--adversarial", "cw"], "unknown attack"),
])
def test_evaluate_errors_are_one_line(tmp_path, capsys, eval_store, tiny_reference, tiny_run, flags, message):
    argv = ["evaluate", "--model", str(tiny_run), "--data", str(eval_store.path), "--reference",
            str(tiny_reference.path), "--out", str(tmp_path / "e"), "--n-boot", "0", "--no-progress", *flags]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("error:") and "hint:" in err


def test_reference_train_cli(tmp_path, capsys, eval_store):
    argv = ["reference", "train", "--data", str(eval_store.path), "--label-set", "CD", "--out", str(tmp_path / "ref"),
            "--encoder", "resnet1d-tiny", "--epochs", "1", "--no-progress"]
    assert main(argv) == 0
    assert "validation macro AUROC" in capsys.readouterr().out
    meta = json.loads((tmp_path / "ref" / "reference.json").read_text())
    assert meta["classes"] == ["CD"] and meta["label_set"] == "CD"
    assert main(argv) == 2 and "--overwrite" in capsys.readouterr().err


def test_evaluate_protocols_write_tables_and_figures(tmp_path, capsys, eval_store, tiny_run):
    out = tmp_path / "zs"
    base = ["evaluate", "--model", str(tiny_run), "--data", str(eval_store.path), "--label-set", "synthetic",
            "--n-boot", "0", "--no-progress"]
    assert main(base + ["--protocol", "zeroshot", "--out", str(out)]) == 0  # no reference needed or trained
    assert not (out / "reference").exists() and (out / "zero_shot.csv").exists()
    m = json.loads((out / "metrics.json").read_text())
    assert m["zero_shot"]["missingness"] == {} and "adversarial" not in m

    out = tmp_path / "adv"
    assert main(base + ["--protocol", "adversarial", "--eps", "0.02,0.1", "--pgd-steps", "2", "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert {r["attack"] for r in m["adversarial"]} == {"none", "fgsm", "pgd"}
    assert all(0 <= r["accuracy"] <= 1 for r in m["adversarial"])
    rows = {r["attack"]: r for r in m["masker_attack"]}
    assert set(rows) == {"none", "masker", "random tokens"}
    assert rows["masker"]["severity"] == pytest.approx(rows["random tokens"]["severity"], abs=0.02)
    assert 0.2 < rows["masker"]["severity"] < 0.4
    for name in ("adversarial.csv", "masker_attack.csv", "adversarial.png", "report.md"):
        assert (out / name).stat().st_size > 0
    assert "test-time attack" in (out / "report.md").read_text()


def test_evaluate_unknown_protocol_is_one_line(tmp_path, capsys, eval_store, tiny_run):
    argv = ["evaluate", "--model", str(tiny_run), "--data", str(eval_store.path), "--protocol", "zeroshot,robust",
            "--out", str(tmp_path / "e")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "unknown robust" in err and "hint:" in err
