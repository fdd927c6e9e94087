import json

import pytest

from ecgfoundry.cli.main import main


def test_evaluate_end_to_end(tmp_path, capsys, eval_store, tiny_reference, tiny_run):
    out = tmp_path / "eval"
    argv = ["evaluate", "--model", str(tiny_run), "--data", str(eval_store.path), "--label-set", "synthetic",
            "--reference", str(tiny_reference.path), "--missingness", "lead,temporal,joint", "--mode", "rand,hard",
            "--n-candidates", "2", "--seed", "0", "--n-boot", "20", "--no-progress"]
    assert main(argv + ["--out", str(out), "--linear-probe", "--adversarial", "fgsm,pgd", "--eps", "0.05",
                        "--pgd-steps", "10", "--probe-missingness", "lead"]) == 0
    printed = capsys.readouterr().out
    assert "| joint hard |" in printed and "metrics.json" in printed
    m = json.loads((out / "metrics.json").read_text())
    assert (out / "report.md").read_text() in printed
    assert m["classes"] == list(tiny_reference.classes) and m["n_test"] == len(eval_store.split_indices("test"))
    clean = m["zero_shot"]["clean"]
    assert len(clean["auroc_ci"]) == 2 and clean["skipped"]
    # The figures recomputed outside the evaluation code: zero-shot scores of the saved model, the rand.
    # masks of the seed, scikit-learn AUROC, a val-fitted Platt scaler and CMRS summed record by record.
    want = _recompute(tiny_run, eval_store, tiny_reference, m["prevalence"])
    assert clean["auroc"] == pytest.approx(want["clean"], abs=1e-6)
    for kind in ("lead", "temporal", "joint"):
        for mode in ("rand", "hard"):
            cell = m["zero_shot"]["missingness"][kind][mode]
            assert cell["cmrs_ci"][0] <= cell["cmrs_ci"][1] and list(cell["cmrs_per_class"]) == m["classes"]
            if mode == "rand":
                severity, auroc, cmrs = want[kind]
                assert cell["severity"] == pytest.approx(severity) and cell["auroc"] == pytest.approx(auroc, abs=1e-6)
                assert cell["cmrs"] == pytest.approx(cmrs, rel=1e-4)
    assert [r["fraction"] for r in m["linear_probe"]] == [0.01, 0.1, 1.0]
    header = (out / "zero_shot.csv").read_text().splitlines()[0].split(",")
    assert {"cmrs", "cmrs_low", "cmrs_high"} <= set(header) and "Per-class CMRS" in printed
    adv = {(r["head"], r["attack"]) for r in m["adversarial"]}
    assert adv == {(h, a) for h in ("zero_shot", "linear_probe") for a in ("none", "fgsm", "pgd", "worst")}
    # the probe trained and tested under lead missingness: tested on the stress test's own masks
    pm = {r["mode"]: r for r in m["linear_probe_missingness"]}
    assert set(pm) == {"rand", "hard"} and all(r["kind"] == "lead" for r in pm.values())
    for mode, r in pm.items():
        assert r["severity"] == pytest.approx(m["zero_shot"]["missingness"]["lead"][mode]["severity"])
        assert r["n_train"] == m["linear_probe"][-1]["n_train"] and 0 <= r["test_auroc"] <= 1
    assert "trained and tested under missingness" in printed and (out / "linear_probe_missingness.csv").exists()
    # same seed, same masks and numbers
    assert main(argv + ["--out", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert again["zero_shot"] == m["zero_shot"]


def _recompute(run, store, reference, prevalence):
    import numpy as np

    from ecgfoundry.checkpoint import load_model
    from ecgfoundry.eval.cmrs import PlattScaler
    from ecgfoundry.eval.prompts import load_prompts, prompts_for
    from ecgfoundry.eval.stress import rand_masks
    from ecgfoundry.eval.zero_shot import zero_shot_classifier, zero_shot_scores

    from ..eval.naive import naive_cmrs, naive_macro_auroc

    model = load_model(run).eval()
    test = store.batch(store.split_indices("test"), "synthetic")
    val = store.batch(store.split_indices("val"), "synthetic")
    cls = zero_shot_classifier(model, test.classes, prompts_for(load_prompts(), "synthetic/synthetic", test.classes))

    def g(x, o):
        return zero_shot_scores(model, x, o, cls)
    ref = reference.probability_fn()
    p0 = ref(test.signal, test.observed)
    platt = PlattScaler().fit(g(val.signal, val.observed), val.labels)
    out = {"clean": naive_macro_auroc(test.labels, g(test.signal, test.observed))}
    n, _, t = test.signal.shape
    for kind in ("lead", "temporal", "joint"):
        masks = rand_masks(0, kind, n, t)  # one placement of the (seed, kind) budget
        x, o = test.signal.copy(), test.observed.copy()
        x[masks], o[masks] = 0.0, False
        s = g(x, o)
        out[kind] = (masks.mean(), naive_macro_auroc(test.labels, s),
                     naive_cmrs(p0, ref(x, o), platt.transform(s), np.asarray(prevalence), masks))
    return out


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
    assert main(base + ["--protocol", "adversarial", "--eps", "0.02,0.1", "--pgd-steps", "10", "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert {r["attack"] for r in m["adversarial"]} == {"none", "fgsm", "pgd", "worst"}
    for eps in (0.02, 0.1):  # worst: per eps, the lowest AUROC over the attacks
        at = {r["attack"]: r for r in m["adversarial"] if r["eps"] == eps}
        assert at["worst"]["auroc"] == min(at["fgsm"]["auroc"], at["pgd"]["auroc"])
        assert at["worst"]["auroc_attack"] in ("fgsm", "pgd")
    assert "**worst**" in (out / "report.md").read_text()
    # the unattacked row: the zero-shot head's clean AUROC and top-1 accuracy, recomputed
    from ecgfoundry.checkpoint import load_model
    from ecgfoundry.eval.prompts import load_prompts, prompts_for
    from ecgfoundry.eval.zero_shot import zero_shot_classifier, zero_shot_scores

    from ..eval.naive import naive_macro_auroc, naive_top1

    model = load_model(tiny_run).eval()
    test = eval_store.batch(eval_store.split_indices("test"), "synthetic")
    cls = zero_shot_classifier(model, test.classes, prompts_for(load_prompts(), "synthetic/synthetic", test.classes))
    scores = zero_shot_scores(model, test.signal, test.observed, cls)
    (none,) = [r for r in m["adversarial"] if r["attack"] == "none"]
    assert none["accuracy"] == pytest.approx(naive_top1(test.labels, scores))
    assert none["auroc"] == pytest.approx(naive_macro_auroc(test.labels, scores), abs=1e-6)
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
