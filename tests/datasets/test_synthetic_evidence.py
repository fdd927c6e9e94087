"""The evidence map read back from a synthetic folder and laid onto tokens."""

import numpy as np
import pandas as pd
import pytest

from ecgfoundry.datasets.synthetic import EvidenceItem, SyntheticConfig, generate
from ecgfoundry.datasets.synthetic_evidence import evidence_tokens, localised_leads, read_evidence
from ecgfoundry.datasets.synthetic_folder import write_synthetic_folder
from ecgfoundry.errors import EcgDataError


def _item(label, leads, spans, role="primary"):
    return EvidenceItem(label, tuple(leads), np.array(spans, dtype=np.int32).reshape(-1, 2), role)


def test_read_evidence_round_trips_the_generator(tmp_path):
    write_synthetic_folder(tmp_path / "s", SyntheticConfig(n=10, seed=4), progress=False)
    ds = generate(n=10, seed=4)
    ids = pd.read_csv(tmp_path / "s" / "records.csv")["record"].astype(str).tolist()
    got = read_evidence(tmp_path / "s")
    assert list(got) == ids
    for rid, items in zip(ids, ds.evidence):
        assert [(i.label, i.leads, i.role, i.spans.tolist()) for i in got[rid]] == \
            [(i.label, i.leads, i.role, i.spans.tolist()) for i in items]


def test_read_evidence_names_the_file_and_line(tmp_path):
    with pytest.raises(EcgDataError, match="evidence.jsonl: not found"):
        read_evidence(tmp_path)
    (tmp_path / "evidence.jsonl").write_text('{"record": "1", "evidence": []}\n{"record": "2"}\n')
    with pytest.raises(EcgDataError, match=r"evidence.jsonl: line 2: not an evidence record \(KeyError"):
        read_evidence(tmp_path)
    (tmp_path / "evidence.jsonl").write_text('{"record": "1", "evidence": []}\n\n{oops\n')
    with pytest.raises(EcgDataError, match="line 3: not JSON"):
        read_evidence(tmp_path)


def test_evidence_tokens_known_answer():
    # 12 leads x 25 samples, patches of 10: 3 time patches per lead, the last one padded (5 samples)
    items = [_item("LBBB", ["V1"], [[12, 14]]),                     # lead 6, patch 1
             _item("AMI", ["I", "aVL"], [[0, 1], [21, 25]]),         # leads 0 and 4, patches 0 and 2
             _item("AMI", ["III"], [[0, 25]], role="reciprocal")]    # reciprocal: not evidence here
    tok = evidence_tokens(items, 25, 10)
    assert tok.shape == (36,) and tok.dtype == bool
    assert np.flatnonzero(tok).tolist() == [0 * 3 + 0, 0 * 3 + 2, 4 * 3 + 0, 4 * 3 + 2, 6 * 3 + 1]
    assert not evidence_tokens([], 25, 10).any()


def test_localised_leads_union_of_confined_primary_evidence():
    every = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    items = [_item("AF", every, [[0, 100]]),              # every lead: not localised
             _item("LBBB", ["V6", "I"], [[0, 10]]),
             _item("ISTEMI", ["III"], [[0, 10]], role="reciprocal"),
             _item("ASTEMI", ["V2", "V1"], [[0, 10]])]
    assert localised_leads(items) == [0, 6, 7, 11]
    assert localised_leads(items[:1]) == []
