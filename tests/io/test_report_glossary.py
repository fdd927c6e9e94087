"""The German / Swedish report glossary: known translations, English passes through, and coverage of the
real reports' vocabulary."""

from __future__ import annotations

import re

import pytest

from ecgfoundry.io.ptbxl import PTBXL
from ecgfoundry.io.report_glossary import translate_report
from tests.io.test_ptbxl import make_ptbxl


@pytest.mark.parametrize("report,english", [
    ("sinusrhythmus lagetyp normal normales ekg 4.46                          unbestÄtigter bericht",
     "sinus rhythm normal axis normal ecg"),
    ("sinusrhythmus ueberdrehter linkstyp qrs(t) abnormal    anteroseptaler infarkt     wahrscheinlich alt",
     "sinus rhythm left axis deviation qrs(t) abnormal anteroseptal infarction probably old"),
    ("Sinusrhythmus A-V Block I unvollständiger Rechtsschenkelblock",
     "sinus rhythm first degree av block incomplete right bundle branch block"),
    ("sinusrytm vänster el-axel avvikande st-t förlopp", "sinus rhythm left axis deviation abnormal st-t"),
    ("sinusrhythmus st-senkung, t-veraenderungen", "sinus rhythm st-depression, t-changes"),
])
def test_known_translations(report, english):
    assert translate_report(report) == english


def test_english_reports_pass_through_and_blank_is_none():
    text = "sinus rhythm. first degree av block. normal ecg."
    assert translate_report(text) == text
    assert translate_report("Sinus rhythm. Left axis deviation.") == "sinus rhythm. left axis deviation."
    assert translate_report("") is None and translate_report("   ") is None and translate_report(None) is None
    assert translate_report("4.46 unbestätigter bericht") is None  # boilerplate only: no text


def test_ptbxl_text_source_report_glossary(tmp_path):
    root = make_ptbxl(tmp_path, [(1, 10.0, 1, {"NORM": 100.0}, "sinusrhythmus lagetyp normal normales ekg"),
                                 (2, 11.0, 9, {"IMI": 50.0}, None)])
    assert PTBXL(root, text_source="report_glossary").table["text"].tolist() == ["sinus rhythm normal axis normal ecg",
                                                                                  None]
    assert PTBXL(root).table["text"].tolist()[0] == "sinusrhythmus lagetyp normal normales ekg"


def test_real_reports_vocabulary_is_covered(ptbxl_root):
    """At most 3 % of the words of the translated German / Swedish reports are left untranslated
    (German or Swedish letters, or endings, that survive); the raw reports have about half such words."""
    ds = PTBXL(ptbxl_root, text_source="report")
    foreign = re.compile(r"[äöüåß]|(ung|ische?[rsn]?|lich|rhythmus|typ|ekg)$")
    raw = [t for t in ds.table["text"] if t and not re.search(r"\bsinus rhythm\b|\.\s", t.lower())]
    assert len(raw) > 5000

    def share(texts):
        words = [w for t in texts for w in re.findall(r"[a-zäöüåß]+", t.lower())]
        return sum(bool(foreign.search(w)) for w in words) / len(words)

    translated = [translate_report(t) or "" for t in raw]
    assert share(raw) > 0.3
    assert share(translated) < 0.03
