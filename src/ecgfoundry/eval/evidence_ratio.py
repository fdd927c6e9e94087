"""How often a removal of tokens takes the known evidence: the evidence ratio, its bootstrap
intervals, a trained masker's ratio, and the uninformed control it is compared with.

On data with a known evidence map (the synthetic generator's ``evidence.jsonl``, laid onto tokens by
:func:`ecgfoundry.datasets.synthetic_evidence.evidence_tokens`), a removal of tokens is scored by

    ratio = P(evidence | removed) / P(evidence),

pooled over the observed tokens of a set of records: 1 is what the budget alone gives (a random
removal), ``1 / P(evidence)`` is the most possible. Conditions such as NORM, AF or rate changes put
evidence in every lead over the whole record, so the ratio is also given over the *localised*
records, whose evidence does not cover every observed token.

A masker's ratio means little on its own: the tokens with the largest signal standard deviation
(QRS complexes) overlap many conditions' evidence, so an *uninformed control* that needs no training
(:func:`uninformed_removals`: the top rho of tokens, or whole leads, by signal SD) already exceeds 1.
The masker is compared with it at the same unit by a paired bootstrap
(:func:`evidence_ratio_difference`).

Arrays: ``ev``, ``removed``, ``tobs`` are (N, M) bool over the N records' M = 12 x n_time tokens,
lead-major like the tokenizer (``tobs``: the model's token-observed mask). Every top-rho removal uses
the toolkit's one rule, :func:`ecgfoundry.eval.masker_attack.top_fraction`.
"""

from __future__ import annotations

import numpy as np

from ecgfoundry.eval.masker_attack import top_fraction

__all__ = ["localised_rows", "evidence_ratio_ci", "evidence_ratio_difference", "evidence_ratio_summary",
           "masker_evidence_ratio", "signal_sd_scores", "uninformed_removals", "uninformed_evidence_ratio"]


def localised_rows(ev: np.ndarray, tobs: np.ndarray) -> np.ndarray:
    """(N,) bool: the records whose evidence does not cover every observed token."""
    return (ev & tobs).sum(1) < tobs.sum(1)


def _bootstrap_ratios(ev: np.ndarray, removed: np.ndarray, tobs: np.ndarray, idx: np.ndarray,
                      draws: np.ndarray) -> np.ndarray:
    """Pooled evidence ratio of each resample (rows of ``draws`` index into the records ``idx``);
    ``ev`` and ``removed`` already restricted to observed tokens."""
    per = np.stack([(ev & removed).sum(1), removed.sum(1), ev.sum(1), tobs.sum(1)], 1)[idx].astype(float)
    tot = per[draws].sum(1)                                            # (n_boot, 4)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (tot[:, 0] / tot[:, 1]) / (tot[:, 2] / tot[:, 3])


def _draws(n_records: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_records, (n_boot, n_records))


def evidence_ratio_ci(ev: np.ndarray, removed: np.ndarray, tobs: np.ndarray, rows: np.ndarray, n_boot: int = 1000,
                      seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the pooled evidence ratio over the records in ``rows``.

    Records are resampled with replacement (``n_boot`` times, ``numpy.random.default_rng(seed)``), so
    the interval reflects which records the split happens to hold. ``ev`` and ``removed`` must
    already be restricted to observed tokens. (nan, nan) when no resample removes anything.
    """
    idx = np.flatnonzero(rows)
    ratios = _bootstrap_ratios(ev, removed, tobs, idx, _draws(len(idx), n_boot, seed))
    ratios = ratios[np.isfinite(ratios)]
    if not len(ratios):  # nothing removed (or no evidence) in any resample: no ratio to bound
        return float("nan"), float("nan")
    a = (1 - level) / 2
    return float(np.quantile(ratios, a)), float(np.quantile(ratios, 1 - a))


def evidence_ratio_difference(ev: np.ndarray, removed_a: np.ndarray, removed_b: np.ndarray, tobs: np.ndarray,
                              rows: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Evidence ratio of removal ``a`` minus that of removal ``b`` on the same records.

    Returns ``difference`` (on the records in ``rows``), ``ci95`` (a paired percentile bootstrap
    interval: both ratios on the same resamples of records), ``p_not_above`` (the share of resamples
    where ``a`` is not above ``b``, a one-sided bootstrap p-value) and ``records``.
    """
    ev, removed_a, removed_b = ev & tobs, removed_a & tobs, removed_b & tobs
    idx = np.flatnonzero(rows)
    full = np.arange(len(idx))[None]
    point = float(_bootstrap_ratios(ev, removed_a, tobs, idx, full)[0] - _bootstrap_ratios(ev, removed_b, tobs, idx, full)[0])
    draws = _draws(len(idx), n_boot, seed)
    diff = _bootstrap_ratios(ev, removed_a, tobs, idx, draws) - _bootstrap_ratios(ev, removed_b, tobs, idx, draws)
    diff = diff[np.isfinite(diff)]
    a = (1 - level) / 2
    ci = (float(np.quantile(diff, a)), float(np.quantile(diff, 1 - a))) if len(diff) else (float("nan"),) * 2
    return {"difference": point, "ci95": ci, "p_not_above": float((diff <= 0).mean()) if len(diff) else float("nan"),
            "records": int(len(idx))}


def evidence_ratio_summary(ev: np.ndarray, removed: np.ndarray, tobs: np.ndarray) -> dict:
    """The evidence ratio of ``removed`` over ``"all"`` records and over the ``"localised"`` ones.

    Each entry: ``records``, ``base_rate`` P(evidence), ``evidence_among_removed``,
    ``removed_fraction``, ``ratio``, ``max_possible_ratio`` (1 / base rate) and ``ratio_ci95``
    (:func:`evidence_ratio_ci`, 1000 resamples, seed 0).
    """
    ev = ev & tobs
    removed = removed & tobs
    subsets = {"all": np.ones(len(ev), bool), "localised": localised_rows(ev, tobs)}

    def ratio(rows):
        base = ev[rows].sum() / max(tobs[rows].sum(), 1)
        hit = ev[rows][removed[rows]].mean() if removed[rows].any() else float("nan")
        return {"records": int(rows.sum()), "base_rate": float(base), "evidence_among_removed": float(hit),
                "removed_fraction": float(removed[rows].sum() / max(tobs[rows].sum(), 1)),
                "ratio": float(hit / base) if base > 0 else float("nan"), "max_possible_ratio": float(1 / base),
                "ratio_ci95": evidence_ratio_ci(ev, removed, tobs, rows)}

    return {k: ratio(rows) for k, rows in subsets.items()}


def masker_evidence_ratio(model, signal: np.ndarray, observed: np.ndarray, ev_tokens: np.ndarray,
                          batch_size: int = 128) -> dict:
    """The evidence ratio of a trained masker's removals, in eval mode (no gate noise).

    Parameters
    ----------
    model
        A model with an adversarial masker (``removal_gates(signal, observed) -> (gate, token_observed)``
        and ``cfg.masker.budget``), e.g. the ``scar`` presets.
    signal : ndarray of shape (N, 12, T), float32, mV
    observed : ndarray of shape (N, 12, T), bool
    ev_tokens : ndarray of shape (N, M), bool
        Evidence tokens (:func:`~ecgfoundry.datasets.synthetic_evidence.evidence_tokens`).

    Returns
    -------
    dict
        ``budget_rho``, ``mean_gate`` (over observed tokens), and :func:`evidence_ratio_summary` for the
        tokens with ``gate > 0.5`` (``"gate_gt_0.5"``) and for the top rho of each record's observed
        tokens by gate (``"top_rho"``); plus, for the caller's further use, ``"_removed_top"`` (N, M)
        and ``"_tobs"`` (N, M), which are not results and are meant to be dropped before saving.
    """
    import torch

    model.eval()
    gates, tobs_all = [], []
    with torch.no_grad():
        for a in range(0, len(signal), batch_size):
            gate, tobs = model.removal_gates(torch.from_numpy(signal[a:a + batch_size]),
                                             torch.from_numpy(observed[a:a + batch_size]))  # eval: no noise
            gates.append(gate.float().numpy())
            tobs_all.append(tobs.numpy())
    gate, tobs = np.concatenate(gates), np.concatenate(tobs_all)
    rho = float(model.cfg.masker.budget)
    removed_top = top_fraction(gate, tobs, rho)
    return {"budget_rho": rho, "mean_gate": float(gate[tobs].mean()), "_removed_top": removed_top, "_tobs": tobs,
            "gate_gt_0.5": evidence_ratio_summary(ev_tokens, gate > 0.5, tobs),
            "top_rho": evidence_ratio_summary(ev_tokens, removed_top, tobs)}


def signal_sd_scores(signal: np.ndarray, patch_size: int) -> dict[str, np.ndarray]:
    """Uninformed removal scores, (N, 12 * n_time) lead-major like the tokenizer.

    ``"token"``: each token's within-patch standard deviation of the signal (a last, partial patch is
    zero-padded as the tokenizer pads it); ``"lead"``: each lead's standard deviation over the record,
    repeated over its tokens. No training and no knowledge of the conditions.
    """
    from ecgfoundry.models.tokenizer import n_time_patches

    n, n_leads, t = signal.shape
    n_time = n_time_patches(t, patch_size)
    x = np.pad(signal, ((0, 0), (0, 0), (0, n_time * patch_size - t))).reshape(n, n_leads, n_time, patch_size)
    return {"token": x.std(-1).reshape(n, -1),
            "lead": np.repeat(signal.std(-1), n_time, axis=1)}


def uninformed_removals(signal: np.ndarray, tobs: np.ndarray, patch_size: int, rho: float) -> dict[str, np.ndarray]:
    """The uninformed control's (N, M) removals, ``"token"`` and ``"lead"``: the top ``rho`` of each
    record's observed tokens by :func:`signal_sd_scores` (whole leads in SD order for ``"lead"``)."""
    return {unit: top_fraction(score, tobs, rho) for unit, score in signal_sd_scores(signal, patch_size).items()}


def uninformed_evidence_ratio(signal: np.ndarray, ev_tokens: np.ndarray, tobs: np.ndarray, patch_size: int,
                              rho: float) -> dict:
    """:func:`evidence_ratio_summary` of each of :func:`uninformed_removals`, per token and per whole lead."""
    return {unit: evidence_ratio_summary(ev_tokens, removed, tobs)
            for unit, removed in uninformed_removals(signal, tobs, patch_size, rho).items()}
