"""English for PTB-XL's German and Swedish reports, by glossary (``text_source="report_glossary"``).

About two thirds of PTB-XL's free-text reports were written by the recording device's interpretation
software in German (a few in Swedish), in a fixed vocabulary of a few hundred words ("sinusrhythmus
lagetyp normal qrs(t) abnorm inferiorer infarkt wahrscheinlich alt"). The packaged text encoder
(all-MiniLM-L6-v2) is English-only, so the raw reports and the English class prompts of zero-shot
classification do not share a vocabulary. :func:`translate_report` maps the vocabulary into English
cardiology terms, phrase by phrase and then word by word, and keeps any word it does not know; an
English report passes through unchanged except for the same device boilerplate.

Device boilerplate carries no finding and is dropped: the software version (``4.46``) and
``unbestätigter bericht`` (unconfirmed report). Spelling variants of the umlauts (``ue`` for ``ü``,
capital ``Ä``) are folded before lookup.

The table was written from the vocabulary of the reports in ``ptbxl_database.csv`` (the terms
covering 99 % of the non-English words) and cardiology dictionaries; how close it comes to human
translations is measured against ``reports_en_fold10.csv`` by ``experiments/report_glossary_check.py``.
"""

from __future__ import annotations

import re

__all__ = ["translate_report", "PHRASES", "WORDS"]

# Multi-word terms first (longest first when applied); matched on whole words of the lower-cased text.
PHRASES: dict[str, str] = {
    "unbestätigter bericht": "",
    "unbestatigter bericht": "",
    "4.46": "",
    "lagetyp normal": "normal axis",
    "sonst normales ekg": "otherwise normal ecg",
    "verdacht auf": "suspected",
    "nicht auszuschliessen": "not excluded",
    "nicht auszuschließen": "not excluded",
    "a-v block i": "first degree av block",
    "a-v block ii": "second degree av block",
    "a-v block iii": "third degree av block",
    "av block i": "first degree av block",
    "st & t abnorm": "st and t abnormal",
    "st & t": "st and t",
    "p-sinistrocardiale": "left atrial overload",
    "p-sinistrokardiale": "left atrial overload",
    "p-dextrocardiale": "right atrial overload",
    "p-verbreiterung": "broad p wave",
    "qt-verlängerung": "qt prolongation",
    "vorhofflimmern/-flattern": "atrial fibrillation or flutter",
    "mässige amplitudenkriterien für": "moderate voltage criteria for",
    "amplitudenkriterien für": "voltage criteria for",
    "periphere niederspannung": "low voltage in limb leads",
    "ueberdrehter linkstyp": "left axis deviation",
    "überdrehter linkstyp": "left axis deviation",
    "ueberdrehter rechtstyp": "right axis deviation",
    "überdrehter rechtstyp": "right axis deviation",
    "wahrscheinlich alt": "probably old",
    "vänster el-axel": "left axis deviation",
    "höger el-axel": "right axis deviation",
    "el-axel": "electrical axis",
    "avvikande qrs(t) förlopp": "abnormal qrs(t)",
    "avvikande st-t förlopp": "abnormal st-t",
    "såsom vid": "as in",
    "bör övervägas": "should be considered",
    "kan ej uteslutas": "cannot be excluded",
    "r-s übergang": "r-s transition",
    "r/s übergang": "r/s transition",
    "in v ableitungen nach rechts verschoben": "in chest leads shifted to the right",
    "in v ableitungen nach links verschoben": "in chest leads shifted to the left",
}

WORDS: dict[str, str] = {
    # rhythm
    "sinusrhythmus": "sinus rhythm", "sinusrytm": "sinus rhythm", "sinustachykardie": "sinus tachycardia",
    "sinustachykardi": "sinus tachycardia", "sinusbradykardie": "sinus bradycardia",
    "sinusbradykardi": "sinus bradycardia", "sinusarrhythmie": "sinus arrhythmia", "arrhythmie": "arrhythmia",
    "arytmi": "arrhythmia", "vorhofflimmern": "atrial fibrillation", "förmaksflimmer": "atrial fibrillation",
    "vorhofflattern": "atrial flutter", "flattern": "flutter", "fladder": "flutter",
    "knotenrhythmus": "junctional rhythm", "rhythmus": "rhythm", "rytm": "rhythm",
    "schrittmacher": "pacemaker", "extrasystole(n)": "extrasystoles", "extrasystolen": "extrasystoles",
    "extrasystole": "extrasystole", "extrasystoli(er)": "extrasystoles", "extraslag": "extra beats",
    "ersatzsystole(n)": "escape beats", "supraventrikuläre": "supraventricular",
    "supraventrikulärer": "supraventricular", "supraventrikulär(a)": "supraventricular",
    "ventrikuläre": "ventricular", "ventrikulärer": "ventricular", "ventrikulär(a)": "ventricular",
    "bigeminus": "bigeminy", "trigeminus": "trigeminy", "interponierte": "interpolated",
    "tachykardes": "tachycardic", "tachykarde": "tachycardic", "tachykardie": "tachycardia",
    "normokardes": "normocardic", "bradykardes": "bradycardic", "regelmässiger": "regular",
    "regelbunden": "regular", "beschleunigter": "accelerated", "kammarfrekvens": "ventricular rate",
    "ves": "ventricular extrasystoles", "sves": "supraventricular extrasystoles",
    # axis
    "lagetyp": "axis", "linkstyp": "left axis", "linkslagetyp": "left axis", "rechtstyp": "right axis",
    "steiltyp": "vertical axis", "ueberdrehter": "extreme", "überdrehter": "extreme", "achse": "axis",
    "axel": "axis", "el": "electrical", "sagittaltyp": "sagittal axis",
    # conduction
    "rechtsschenkelblock": "right bundle branch block", "linksschenkelblock": "left bundle branch block",
    "schenkelblock": "bundle branch block", "skänkelblock": "bundle branch block",
    "hemiblock": "fascicular block", "linksanteriorer": "left anterior", "linksposteriorer": "left posterior",
    "unvollständiger": "incomplete", "vollständiger": "complete", "inkomplett": "incomplete",
    "partieller": "partial", "bifaszikulärer": "bifascicular", "block": "block",
    "leitungsstörung": "conduction disturbance", "impulsutbredning": "conduction",
    "intraventrikuläre": "intraventricular", "intraventrikulärer": "intraventricular",
    "verzögerte": "delayed", "wpw": "wolff-parkinson-white", "a-v": "av", "grades": "degree",
    "lahb": "left anterior fascicular block", "lphb": "left posterior fascicular block",
    # hypertrophy, voltage
    "linkshypertrophie": "left ventricular hypertrophy", "rechtshypertrophie": "right ventricular hypertrophy",
    "kammerhypertrophie": "ventricular hypertrophy", "kammarhypertrofi": "ventricular hypertrophy",
    "hypertrofi": "hypertrophy", "linksbelastung": "left ventricular strain", "belastung": "strain",
    "belastning": "strain", "niederspannung": "low voltage", "amplitudenkriterien": "voltage criteria",
    "amplituder": "amplitudes", "sokolow": "sokolow", "verbreiterung": "widening",
    "vorhofsueberlastung": "atrial overload", "vorhofsüberlastung": "atrial overload",
    "vorhofüberbelastung": "atrial overload", "vorhofsüberbelastung": "atrial overload",
    "vorhofsueberbelastung": "atrial overload", "sinistrocardiale": "left atrial", "hohes": "high",
    "hoch": "high", "hög": "high", "überhöht": "elevated", "mässige": "moderate",
    # ischaemia, infarction
    "infarkt": "infarction", "ischämie": "ischemia", "ischemi": "ischemia", "isc": "ischemia",
    "myokardschaden": "myocardial injury", "myokardskada": "myocardial injury",
    "myokardaffektion": "myocardial involvement", "innenschichtsschaden": "subendocardial injury",
    "perikardschaden": "pericardial injury", "myokard": "myocardium", "vorderwand": "anterior wall",
    "imi": "inferior myocardial infarction", "lmi": "lateral myocardial infarction",
    "hebung": "elevation", "(hebung)": "(elevation)", "senkung": "depression", "sänkning": "depression",
    "repolarisation": "repolarization", "repolarisationsstörung": "repolarization disturbance",
    # localisation
    "inferiorer": "inferior", "inferioren": "inferior", "inferiore": "inferior", "inferior": "inferior",
    "anteroseptaler": "anteroseptal", "anteroseptalen": "anteroseptal", "anteroseptale": "anteroseptal",
    "anteroseptal": "anteroseptal", "anterolaterale": "anterolateral", "anterolateraler": "anterolateral",
    "anterolateralen": "anterolateral", "anterolateral": "anterolateral", "inferolaterale": "inferolateral",
    "inferolateralen": "inferolateral", "inferolateral": "inferolateral", "anteriore": "anterior",
    "anterioren": "anterior", "anteriorer": "anterior", "anterior": "anterior", "anteriort": "anterior",
    "hochlateralen": "high lateral", "hochlateraler": "high lateral", "hochlaterale": "high lateral",
    "laterale": "lateral", "lateralen": "lateral", "lateraler": "lateral", "lateral": "lateral",
    "septaler": "septal", "septale": "septal", "ableitungen": "leads", "extremitetsavledningarna": "limb leads",
    "rechts": "right", "links": "left", "vänster": "left", "höger": "right", "högersidigt": "right-sided",
    "vänstersidigt": "left-sided", "förmak": "atrial", "atriale": "atrial", "periphere": "limb leads",
    # qualifiers
    "normal": "normal", "normales": "normal", "normaler": "normal", "normalt": "normal", "norm": "normal",
    "(norm": "(normal", "abnorm": "abnormal", "abnormal": "abnormal", "abnormes": "abnormal",
    "abnormales": "abnormal", "abnorme": "abnormal", "abnormale": "abnormal", "avvikande": "abnormal",
    "pathologisch": "pathological", "pathologisches": "pathological", "pathologische": "pathological",
    "unspezifisches": "nonspecific", "unspezifische": "nonspecific", "unspezifischer": "nonspecific",
    "unspezifisch": "nonspecific", "ospecifikt": "nonspecific", "ospecifik": "nonspecific",
    "wahrscheinlich": "probably", "sannolikt": "probably", "möglich": "possible", "moeglich": "possible",
    "möglicherweise": "possibly", "möjligen": "possibly", "verdacht": "suspicion", "misstänkt": "suspected",
    "alt": "old", "alter": "old", "äldre": "older", "gammal": "old", "neuer": "new", "färsk": "recent",
    "chronisch": "chronic", "chronischer": "chronic", "sicher": "definite", "diskrete": "slight",
    "grenzbefund": "borderline finding", "schwierig": "difficult", "bestimmbare": "determinable",
    "bestämmbar": "determinable", "schlechte": "poor", "flach": "flat", "flache": "flat", "flaches": "flat",
    "abgeflacht": "flattened", "biphasisch": "biphasic", "negativ": "negative", "neg": "negative",
    "verlängerung": "prolongation", "förlängd": "prolonged", "fehlende": "absent", "keine": "no",
    "progression": "progression", "verschoben": "shifted", "übergang": "transition", "erkannt": "detected",
    "veränderungen": "changes", "veraenderungen": "changes", "veränderung": "change",
    "förändring": "change", "welle": "wave", "zeit": "time", "ruhe": "rest", "typ": "type", "extrem": "extreme",
    "low": "low", "voltage": "voltage", "pacemaker": "pacemaker",
    # function words
    "und": "and", "oder": "or", "sonst": "otherwise", "mit": "with", "nicht": "not", "auf": "on", "in": "in",
    "für": "for", "nach": "toward", "bis": "to", "zur": "to the", "des": "of the", "unter": "under",
    "über": "over", "es": "it", "auszuschliessen": "excluded", "anbetracht": "view", "alters": "age",
    "eller": "or", "som": "as", "vid": "at", "med": "with", "ej": "not", "kan": "may",
    "uteslutas": "be excluded", "inga": "no", "funna": "found", "eljest": "otherwise", "slag": "beats",
    "sinus": "sinus", "ekg": "ecg", "förlopp": "course", "mögl": "possible", "ålder": "age", "låga": "low",
    "för": "for", "biphas": "biphasic", "unbestätigter": "", "bericht": "report", "senkung": "depression",
}

_FOLD = str.maketrans({"Ä": "ä", "Ö": "ö", "Ü": "ü"})
_PHRASE_RE = re.compile("|".join(rf"(?<![\w-]){re.escape(p)}(?![\w-])" for p in sorted(PHRASES, key=len, reverse=True)))
_EDGE = re.compile(r"^([^\w(]*)(.*?)([^\w)]*)$")


def _lookup(core: str) -> str | None:
    for key in (core, core.replace("ue", "ü").replace("ae", "ä").replace("oe", "ö")):
        if key in WORDS:
            return WORDS[key]
    return None


def _word(token: str) -> str:
    lead, core, trail = _EDGE.match(token).groups()
    found = _lookup(core)
    if found is None and re.search(r"\w[-/]+\w", core):  # compounds such as st-senkung, t-förändring
        parts = re.split(r"([-/]+)", core)
        found = "".join(p if i % 2 else (_lookup(p) or p) for i, p in enumerate(parts))
    return token if found is None else lead + found + trail


def translate_report(text: str | None) -> str | None:
    """``text`` with German / Swedish report terms in English (lower-cased); None and blank stay None.

    >>> translate_report("Sinusrhythmus Lagetyp normal QRS(T) abnorm  inferiorer Infarkt wahrscheinlich alt")
    'sinus rhythm normal axis qrs(t) abnormal inferior infarction probably old'
    """
    if text is None or not str(text).strip():
        return None
    s = str(text).translate(_FOLD).lower()
    s = _PHRASE_RE.sub(lambda m: PHRASES[m.group(0)], s)
    out = " ".join(w for w in (_word(t) for t in s.split()) if w)
    return out or None
