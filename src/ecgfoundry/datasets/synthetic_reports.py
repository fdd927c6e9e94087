"""Free-text reports for synthetic ECGs, in clinical English.

Each finding has several phrasings (abbreviated and spelled out, with and without measured
values); optional incidental statements and a varied order make the text differ between records
with the same labels, so a text encoder cannot learn one fixed template per label. Every statement
is true of the record: values come from the generator's own parameters, and no phrase names a
finding the record does not have ("No acute ST changes" only without ST elevation, "normal axis"
only with an axis between -30 and +90 deg).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

# {hr}, {pr}, {qrs}, {qt}, {qtc}, {axis}, {sok}, {st} are filled from the record's parameters.
_RHYTHM = {
    "sinus": ("Sinus rhythm at {hr} bpm.", "Sinus rhythm, rate {hr}/min.", "Normal sinus rhythm.",
              "Sinus rhythm with a ventricular rate of {hr} bpm.", "SR {hr}."),
    "SBRAD": ("Sinus bradycardia at {hr} bpm.", "Sinus bradycardia, rate {hr}/min.", "Sinus bradycardia.",
              "SB {hr} bpm.", "Slow sinus rhythm (sinus bradycardia), {hr} bpm."),
    "STACH": ("Sinus tachycardia at {hr} bpm.", "Sinus tachycardia, rate {hr}/min.", "Sinus tachycardia.",
              "ST {hr} bpm (sinus tachycardia).", "Rapid sinus rhythm (sinus tachycardia), {hr} bpm."),
    "AF": ("Atrial fibrillation with a ventricular rate of {hr} bpm.", "Atrial fibrillation.",
           "AF, irregularly irregular rhythm without discernible P waves.",
           "Atrial fibrillation with {response} ventricular response.",
           "Irregularly irregular rhythm with fibrillatory waves, consistent with atrial fibrillation."),
}
_FINDING = {
    "1AVB": ("First-degree AV block (PR {pr} ms).", "1st degree AV block.",
             "Prolonged PR interval ({pr} ms), first-degree atrioventricular block.",
             "First degree atrioventricular block.", "AV block I, PR {pr} ms."),
    "RBBB": ("Right bundle branch block.", "Complete RBBB (QRS {qrs} ms).",
             "Complete right bundle branch block with rSR' in V1.", "RBBB pattern.",
             "Wide QRS ({qrs} ms) with RSR' in V1 and slurred S in I and V6: right bundle branch block."),
    "LBBB": ("Left bundle branch block.", "Complete LBBB (QRS {qrs} ms).", "LBBB pattern.",
             "Complete left bundle branch block.",
             "Broad notched R waves in I, aVL and V6 with QRS {qrs} ms: left bundle branch block."),
    "LAFB": ("Left anterior fascicular block.", "Left axis deviation ({axis} deg), consistent with LAFB.",
             "LAFB.", "Left anterior hemiblock.", "Left anterior fascicular block, QRS axis {axis} deg."),
    "LVH": ("Left ventricular hypertrophy by voltage criteria.", "LVH (Sokolow-Lyon {sok} mV).",
            "Increased QRS voltage consistent with left ventricular hypertrophy.", "Voltage criteria for LVH.",
            "Left ventricular hypertrophy."),
    "ASTEMI": ("Anterior ST elevation, consistent with acute anterior STEMI.",
               "ST elevation in V1-V4 ({st} mV): acute anterior myocardial infarction.",
               "Acute anterior ST-elevation MI.", "Anterior STEMI.",
               "ST elevation in the anterior leads with reciprocal inferior depression; acute anterior infarct."),
    "ISTEMI": ("Inferior ST elevation, consistent with acute inferior STEMI.",
               "ST elevation in II, III and aVF ({st} mV): acute inferior myocardial infarction.",
               "Acute inferior ST-elevation MI.", "Inferior STEMI.",
               "Inferior ST elevation with reciprocal changes in aVL; acute inferior infarct."),
    "LSTEMI": ("Lateral ST elevation, consistent with acute lateral STEMI.",
               "ST elevation in I, aVL, V5 and V6 ({st} mV): acute lateral myocardial infarction.",
               "Acute lateral ST-elevation MI.", "Lateral STEMI.",
               "ST elevation in the lateral leads with reciprocal inferior depression; acute lateral infarct."),
    "TINV": ("T-wave inversion in {tleads}.", "Inverted T waves in {tleads}.", "T wave inversion.",
             "Negative T waves ({tleads}); nonspecific T-wave abnormality.", "TWI in {tleads}."),
    "PVC": ("Premature ventricular complexes.", "{npvc} PVC(s) with compensatory pause.",
            "Occasional ventricular premature beats.", "Ventricular extrasystoles.", "With PVCs."),
    "LOWV": ("Low QRS voltage in the limb leads.", "Low voltage QRS.", "Low limb-lead voltage.",
             "Low voltage (limb-lead QRS < 0.5 mV).", "Diffusely low QRS voltages."),
    "LQT": ("Prolonged QT interval (QTc {qtc} ms).", "Long QT.", "QT prolongation, QTc {qtc} ms.",
            "Prolonged QTc.", "Prolonged QT (QT/QTc {qt}/{qtc} ms)."),
}
_NORMAL = ("Normal ECG.", "Within normal limits.", "Normal electrocardiogram.", "No abnormality detected.")
_INCIDENTAL = (
    "Intervals: PR {pr} ms, QRS {qrs} ms, QT/QTc {qt}/{qtc} ms.",
    "QRS axis {axis} deg.",
    "QRS duration {qrs} ms.",
    "Compared with no prior tracing.",
    "Unconfirmed computer interpretation.",
)
_NO_ST = ("No acute ST changes.", "No ST elevation.")
_NORMAL_AXIS = ("Normal axis.", "Normal QRS axis.")
_NOISY = ("Baseline wander.", "Some artefact present.", "Noisy tracing.")


def _pick(options: Sequence[str], u: float) -> str:
    return options[min(int(u * len(options)), len(options) - 1)]


def build_report(present: Sequence[str], values: Mapping[str, object], u: np.ndarray,
                 noisy: bool = False) -> str:
    """One report for one record.

    Parameters
    ----------
    present : sequence of str
        Class names present in the record.
    values : mapping
        ``hr``, ``pr``, ``qrs``, ``qt``, ``qtc``, ``axis``, ``sok``, ``st``, ``tleads``, ``npvc``
        (formatted into the phrases; missing PR in AF is never asked for).
    u : ndarray of shape (>= 32,), uniform [0, 1) numbers
        The record's own random draws (so reports are reproducible from the seed).
    noisy : bool
        Whether the record is noisy enough to mention artefact.
    """
    present = set(present)
    hr = float(values["hr"])
    fmt = {k: v for k, v in values.items()}
    fmt["response"] = "rapid" if hr > 100 else ("slow" if hr < 60 else "controlled")
    k = iter(u)

    if "AF" in present:
        rhythm = _pick(_RHYTHM["AF"], next(k))
    elif "SBRAD" in present:
        rhythm = _pick(_RHYTHM["SBRAD"], next(k))
    elif "STACH" in present:
        rhythm = _pick(_RHYTHM["STACH"], next(k))
    else:
        rhythm = _pick(_RHYTHM["sinus"], next(k))
    findings = [_pick(_FINDING[c], next(k)) for c in _FINDING if c in present]
    order = np.argsort([next(k) for _ in findings]) if findings else []
    findings = [findings[i] for i in order]
    if "NORM" in present:
        findings.append(_pick(_NORMAL, next(k)))

    extra = []
    if next(k) < 0.35 and "AF" not in present:
        extra.append(_INCIDENTAL[0])
    elif next(k) < 0.25:
        extra.append(_INCIDENTAL[2])
    if next(k) < 0.25 and "LAFB" not in present:
        extra.append(_pick(_NORMAL_AXIS, next(k)) if -30 <= float(values["axis"]) <= 90 else _INCIDENTAL[1])
    if next(k) < 0.3 and not present & {"ASTEMI", "ISTEMI", "LSTEMI", "LBBB"}:
        extra.append(_pick(_NO_ST, next(k)))
    if next(k) < 0.15:
        extra.append(_pick(_INCIDENTAL[3:], next(k)))
    if noisy and next(k) < 0.5:
        extra.append(_pick(_NOISY, next(k)))

    parts = [rhythm] + findings
    if extra and next(k) < 0.2:       # sometimes the measurements come first
        parts = extra[:1] + parts + extra[1:]
    else:
        parts = parts + extra
    if next(k) < 0.15 and len(parts) > 1:   # sometimes one line with semicolons
        text = "; ".join(p.rstrip(".") for p in parts) + "."
    else:
        text = " ".join(parts)
    return text.format(**fmt)
