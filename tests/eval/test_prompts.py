"""The packaged prompt file covers every class of every label set; validation names file and key."""

from __future__ import annotations

import ast
import json

import pandas as pd
import pytest

from ecgfoundry.errors import EcgDataError
from ecgfoundry.eval.prompts import load_prompts, prompts_for

PTBXL = {
    "superdiagnostic": ["CD", "HYP", "MI", "NORM", "STTC"],
    "subdiagnostic": ["AMI", "CLBBB", "CRBBB", "ILBBB", "IMI", "IRBBB", "ISCA", "ISCI", "ISC_", "IVCD", "LAFB/LPFB",
                      "LAO/LAE", "LMI", "LVH", "NORM", "NST_", "PMI", "RAO/RAE", "RVH", "SEHYP", "STTC", "WPW", "_AVB"],
    "form": ["NDT", "NST_", "DIG", "LNGQT", "ABQRS", "PVC", "STD_", "VCLVH", "QWAVE", "LOWT", "NT_", "PAC", "LPR",
             "INVT", "LVOLT", "HVOLT", "TAB_", "STE_", "PRC(S)"],
    "rhythm": ["SR", "AFIB", "STACH", "SARRH", "SBRAD", "PACE", "SVARR", "BIGU", "AFLT", "SVTAC", "PSVT", "TRIGU"],
}


def _expected() -> dict[str, list[str]]:
    from ecgfoundry.datasets.synthetic_conditions import SYNTH_CLASSES
    from ecgfoundry.io import code15, cpsc2018
    from ecgfoundry.io.challenge import build_label_sets

    out = {f"ptbxl/{k}": v for k, v in PTBXL.items()}
    out["cpsc2018/cpsc9"] = list(cpsc2018.CLASSES)
    out["code15/code15"] = list(code15.CLASSES)
    out["cinc2021/scored"] = list(build_label_sets(set())[0]["scored"].classes)
    out["synthetic/synthetic"] = list(SYNTH_CLASSES)
    out["binary/AF"], out["binary/CD"] = ["AF"], ["CD"]
    return out


def test_packaged_prompts_cover_every_class():
    prompts = load_prompts()
    expected = _expected()
    assert len(expected["cinc2021/scored"]) == 26
    for key, classes in expected.items():
        got = prompts_for(prompts, key, classes)
        assert set(prompts[key]) == set(classes), key
        for cls, phrasings in got.items():
            scp_phrased = key in ("ptbxl/superdiagnostic", "ptbxl/subdiagnostic")  # see the next test
            assert len(phrasings) >= 3 or key.startswith("binary/") or scp_phrased, (key, cls)
        # no phrasing shared by two classes of one label set (their embeddings would coincide)
        flat = [p for ps in got.values() for p in ps]
        assert len(flat) == len(set(flat)), key


def test_ptbxl_classes_match_scp_statements(ptbxl_root):
    from ecgfoundry.io.ptbxl import build_label_sets

    sets = build_label_sets(pd.read_csv(ptbxl_root / "scp_statements.csv", index_col=0))
    prompts = load_prompts()
    for name in PTBXL:
        assert set(prompts[f"ptbxl/{name}"]) == set(sets[name].classes), name


def test_short_names_and_errors():
    prompts = load_prompts()
    assert prompts_for(prompts, "superdiagnostic", ["MI"])["MI"] == prompts["ptbxl/superdiagnostic"]["MI"]
    with pytest.raises(KeyError, match="no phrasings for XYZ"):
        prompts_for(prompts, "superdiagnostic", ["MI", "XYZ"])
    with pytest.raises(KeyError, match="has no prompts"):
        prompts_for(prompts, "nope", ["MI"])


@pytest.mark.parametrize("content, key", [
    ("{not json", None),
    ({"label_sets": {}}, "label_sets"),
    ({"label_sets": {"x/y": {"A": []}}}, "label_sets.x/y.A"),
    ({"label_sets": {"x/y": {"A": ["ok", " "]}}}, "label_sets.x/y.A[1]"),
    ({"label_sets": {"x/y": {"A": ["ok", "ok"]}}}, "label_sets.x/y.A"),
    ({"format": "other/2", "label_sets": {"x/y": {"A": ["ok"]}}}, "format"),
])
def test_validation_names_file_and_key(tmp_path, content, key):
    path = tmp_path / "my_prompts.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(EcgDataError) as err:
        load_prompts(path)
    assert "my_prompts.json" in str(err.value)
    if key:
        assert err.value.field == key


def test_user_file_round_trip(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"label_sets": {"mine/set": {"A": ["first", "second"]}}}))
    assert load_prompts(path) == {"mine/set": {"A": ["first", "second"]}}


def test_ptbxl_diagnostic_prompts_are_the_member_statement_descriptions(ptbxl_root):
    """PTB-XL super/subdiagnostic classes are phrased by the SCP descriptions of their member
    statements (the training vocabulary of the shipped models); form and rhythm include the
    statement's own description. Checked against the real scp_statements.csv."""
    import pandas as pd

    st = pd.read_csv(ptbxl_root / "scp_statements.csv", index_col=0)
    diag = st[st["diagnostic"] == 1]
    prompts = load_prompts()
    db = pd.read_csv(ptbxl_root / "ptbxl_database.csv")
    train = db[db["strat_fold"].between(1, 8)]
    count = {}
    for codes in train["scp_codes"]:
        for code in ast.literal_eval(codes):
            count[code] = count.get(code, 0) + 1
    for col, key in (("diagnostic_class", "ptbxl/superdiagnostic"), ("diagnostic_subclass", "ptbxl/subdiagnostic")):
        for cls, phrasings in prompts[key].items():
            members = diag.index[diag[col] == cls]
            assert list(phrasings) == list(diag.loc[members, "description"].astype(str)), (key, cls)
            # weights: 1 + the statement's count in the training folds, recounted here from the raw table
            assert phrasings.weights == [1 + count.get(m, 0) for m in members], (key, cls)
    for key in ("ptbxl/form", "ptbxl/rhythm"):
        for cls, phrasings in prompts[key].items():
            assert st.loc[cls, "description"] in phrasings, (key, cls)


def test_weighted_phrasings_give_the_weighted_mean_embedding(tmp_path):
    """A class given as {"phrasings", "weights"}: the classifier row is the normalised weighted mean of the
    unit phrasing embeddings (checked with a lookup-table text encoder); bad weights name the key."""
    import torch
    import torch.nn.functional as F

    from ecgfoundry.eval.zero_shot import zero_shot_classifier

    path = tmp_path / "p.json"
    path.write_text(json.dumps({"label_sets": {"x/y": {"A": {"phrasings": ["a1", "a2"], "weights": [3, 1]},
                                                         "B": ["b1"]}}}))
    prompts = load_prompts(path)
    table = {"a1": torch.tensor([2.0, 0.0]), "a2": torch.tensor([0.0, 5.0]), "b1": torch.tensor([1.0, 1.0])}

    class Lookup:
        def encode_text(self, texts):
            return torch.stack([table[t] for t in texts])

    clf = zero_shot_classifier(Lookup(), ["A", "B"], prompts_for(prompts, "x/y", ["A", "B"]))
    torch.testing.assert_close(clf[0], F.normalize(torch.tensor([3.0, 1.0]), dim=0))
    torch.testing.assert_close(clf[1], F.normalize(torch.tensor([1.0, 1.0]), dim=0))
    for bad in ({"phrasings": ["a"], "weights": [1, 2]}, {"phrasings": ["a"], "weights": [0]},
                {"phrasings": ["a"], "weights": [True]}, {"phrasings": ["a"], "weight": [1]}):
        path.write_text(json.dumps({"label_sets": {"x/y": {"A": bad}}}))
        with pytest.raises(EcgDataError, match=r"label_sets\.x/y\.A"):
            load_prompts(path)
