"""What removing tokens costs an ECG-text model's alignment, and the removals that cost most.

SCAR's masker (Algorithm 1 of the SCAR paper) is trained to maximise, per record, the masked view's
ECG->text cross-entropy within its batch plus ``lambda_cons (1 - cos)`` to the full-view embedding.
Whether it should remove the known evidence depends on what removing the evidence costs compared
with other removals. This module measures that on a frozen model:

- :func:`removal_costs`: the held-out InfoNCE and the cosine to the full view when the top rho of
  every record's tokens is removed at random, evidence first, or by a masker;
- :func:`per_class_removal`: the same, and the masker's evidence ratio, class by class;
- :func:`lead_subset_costs` + :func:`best_lead_removal`: the exact lead-level maximiser of the
  masker's objective (every subset of k whole leads tried on every record) and its evidence;
- :func:`greedy_token_removal` + :func:`greedy_summary`: an approximate token-level maximiser.

The model must expose the token-level path of the ECG-text model (``encoder.embed_tokens``,
``encoder.encode_tokens(x, tobs, keep_log)``, ``pool``, ``ecg_proj``, ``text_features``, ``scale``,
``clip_loss``); a removal is applied as ``keep_log = -inf`` on the removed tokens, as the masker's
hard removal is. Token arrays are (N, M) bool, lead-major like the tokenizer.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from ecgfoundry.eval.evidence_ratio import evidence_ratio_difference, evidence_ratio_summary, localised_rows
from ecgfoundry.eval.masker_attack import removal_count, top_fraction

__all__ = ["removal_costs", "per_class_removal", "lead_subset_costs", "best_lead_removal",
           "greedy_token_removal", "greedy_summary"]


def _embed(model, x, tobs, keep_log=None):
    """L2-normalised ECG embedding of tokens ``x``: the full view, or with ``keep_log`` (-inf = removed)."""
    import torch.nn.functional as F

    if keep_log is None:
        return F.normalize(model.ecg_proj(model.pool(model.encoder.encode_tokens(x, tobs), tobs)), dim=-1)
    return F.normalize(model.ecg_proj(model.pool(model.encoder.encode_tokens(x, tobs, keep_log), tobs, keep_log)),
                       dim=-1)


def _keep_log(removed):
    import torch

    return torch.zeros(tuple(removed.shape)).masked_fill(removed, float("-inf"))


def removal_costs(model, signal, observed, texts, ev_tokens: np.ndarray, rho: float, seed: int,
                  batch_size: int = 32, masker_model=None) -> dict:
    """Held-out alignment loss when the top ``rho`` of each record's observed tokens are removed outright.

    The removal is chosen: not at all (``"none"``); at random (``"random"``); evidence first
    (``"evidence first"``: evidence tokens in random order, then the others); by the masker of
    ``masker_model`` (``"masker"``; default ``model``'s own, when it has one). For each: the InfoNCE
    over consecutive whole batches of ``batch_size`` (``align_loss``), the mean cosine of the masked
    embedding to the full-view one (``cos_to_full_view``), and ``"_per_record"`` arrays (ECG->text
    cross-entropy within the batch, cosine) for :func:`per_class_removal`, not meant to be saved.
    A masker that maximises the loss need not pick evidence when something else costs more.
    """
    import torch
    import torch.nn.functional as F

    if len(texts) < batch_size:
        raise ValueError(f"removal costs need at least one whole batch of {batch_size} records, got {len(texts)}")
    model.eval()
    rng = np.random.default_rng(seed)
    masker_model = masker_model if masker_model is not None else (model if model.has_adversary else None)

    def top(score, tobs):
        return torch.from_numpy(top_fraction(score.numpy(), tobs.numpy(), rho))

    choosers = {"none": lambda a, s, o, tobs: torch.zeros_like(tobs),
                "random": lambda a, s, o, tobs: top(torch.from_numpy(rng.random(tuple(tobs.shape))).float(), tobs),
                "evidence first": lambda a, s, o, tobs: top(
                    torch.from_numpy(ev_tokens[a:a + len(s)]).float()
                    + 0.5 * torch.from_numpy(rng.random(tuple(tobs.shape))).float(), tobs)}
    if masker_model is not None:
        def by_masker(a, s, o, tobs):
            gate, _ = masker_model.removal_gates(s, o)
            return top(gate, tobs)
        choosers["masker"] = by_masker
    out = {}
    with torch.no_grad():
        scale = model.scale()
        for name, choose in choosers.items():
            losses, cos, rows, rec_cos = [], [], [], []
            for a in range(0, len(texts) - batch_size + 1, batch_size):
                s, o = torch.from_numpy(signal[a:a + batch_size]), torch.from_numpy(observed[a:a + batch_size])
                x, tobs = model.encoder.embed_tokens(s, o)
                e_full = _embed(model, x, tobs)
                e = _embed(model, x, tobs, _keep_log(choose(a, s, o, tobs)))
                u = F.normalize(model.text_features(texts[a:a + batch_size]), dim=-1)
                losses.append(float(model.clip_loss(e, u, scale)["align"]))
                cos.append(float((e * e_full).sum(-1).mean()))
                rows.append(F.cross_entropy(scale * e @ u.T, torch.arange(len(e)), reduction="none").numpy())
                rec_cos.append((e * e_full).sum(-1).numpy())
            out[name] = {"align_loss": float(np.mean(losses)), "cos_to_full_view": float(np.mean(cos)),
                         "_per_record": {"ecg_to_text_loss": np.concatenate(rows), "cos": np.concatenate(rec_cos)}}
    return out


def per_class_removal(labels: np.ndarray, classes, ev_tokens: np.ndarray, tobs: np.ndarray, removed: np.ndarray,
                      costs: dict[str, dict]) -> dict:
    """Class by class, on the localised records of each class with at least 3 of them: the evidence
    ratio of ``removed`` (a masker's removal) and what removing the top rho at random / evidence first /
    by the masker costs each model (mean ECG->text cross-entropy within the batch, cosine to the full
    view). ``costs``: model name -> :func:`removal_costs` output, with its ``_per_record`` arrays."""
    ev = ev_tokens & tobs
    localised = ev.sum(1) < tobs.sum(1)
    n = min(len(next(iter(c.values()))["_per_record"]["cos"]) for c in costs.values())  # whole batches only
    out = {}
    for k, name in enumerate(classes):
        rows = (labels[:, k] > 0) & localised
        if rows.sum() < 3:
            continue
        base = ev[rows].sum() / tobs[rows].sum()
        hit = ev[rows][removed[rows]].mean() if removed[rows].any() else float("nan")
        entry = {"records": int(rows.sum()), "base_rate": float(base), "ratio": float(hit / base),
                 "max_possible_ratio": float(1 / base), "models": {}}
        r_n = rows[:n]
        for model, c in costs.items():
            entry["models"][model] = {
                chooser: {"ecg_to_text_loss": float(v["_per_record"]["ecg_to_text_loss"][r_n].mean()),
                          "cos": float(v["_per_record"]["cos"][r_n].mean())}
                for chooser, v in c.items() if chooser != "none"}
        out[name] = entry
    return out


def lead_subset_costs(model, signal, observed, texts, n_removed: int, lambda_cons: float,
                      batch_size: int = 32) -> tuple[list[tuple[int, ...]], np.ndarray, np.ndarray]:
    """What removing each subset of ``n_removed`` of the 12 leads costs each record, per SCAR's masker
    objective: the masked view's ECG->text cross-entropy within its batch of ``batch_size``
    (consecutive records, the last batch may be shorter) plus ``lambda_cons (1 - cos)`` to the full view.

    Returns the subsets (sorted lead-index tuples), the costs (n_subsets, N) and ``token_observed`` (N, M).
    """
    import torch
    import torch.nn.functional as F

    model.eval()
    subsets = list(itertools.combinations(range(12), n_removed))
    n = len(texts)
    with torch.no_grad():
        scale = model.scale()
        x, tobs = model.encoder.embed_tokens(torch.from_numpy(signal), torch.from_numpy(observed))
        n_time = tobs.shape[1] // 12
        e_full = _embed(model, x, tobs)
        u = F.normalize(model.text_features(texts), dim=-1)
        costs = np.zeros((len(subsets), n), np.float32)
        for j, leads in enumerate(subsets):
            lead_mask = torch.zeros(12, dtype=torch.bool)
            lead_mask[list(leads)] = True
            e = _embed(model, x, tobs, _keep_log(lead_mask.repeat_interleave(n_time)[None] & tobs))
            for a in range(0, n, batch_size):
                logits = scale * e[a:a + batch_size] @ u[a:a + batch_size].T
                ce = F.cross_entropy(logits, torch.arange(len(logits)), reduction="none")
                cos = (e[a:a + batch_size] * e_full[a:a + batch_size]).sum(-1)
                costs[j, a:a + batch_size] = (ce + lambda_cons * (1 - cos)).numpy()
    return subsets, costs, tobs.numpy()


def best_lead_removal(subsets: list[tuple[int, ...]], costs: np.ndarray, tobs: np.ndarray, ev_tokens: np.ndarray,
                      labels: np.ndarray, classes) -> dict:
    """The loss-optimal lead removal among ``subsets`` (from :func:`lead_subset_costs`), and its evidence.

    For each record the costliest subset is the best lead-level attack on the encoder; its evidence
    ratio (P(evidence | removed) / P(evidence), over the localised records and per class with at least
    3 of them) says whether an adversary that maximised the objective exactly would remove evidence.
    Compared with removing the k leads that hold the most evidence tokens of the record ("evidence
    leads"): its ratio, its cost, and the fraction of all subsets that cost more.
    """
    n = costs.shape[1]
    n_removed = len(subsets[0])
    n_time = tobs.shape[1] // 12
    ev = (ev_tokens & tobs).reshape(n, 12, n_time)
    obs = tobs.reshape(n, 12, n_time)
    best = [subsets[j] for j in costs.argmax(0)]
    by_evidence = [tuple(sorted(np.argsort(-ev[i].sum(1), kind="stable")[:n_removed].tolist())) for i in range(n)]
    index = {s: j for j, s in enumerate(subsets)}
    ev_cost = costs[[index[s] for s in by_evidence], np.arange(n)]
    costlier = (costs > ev_cost[None]).mean(0)
    localised = ev.sum((1, 2)) < obs.sum((1, 2))

    def ratio(choice, rows):
        rows = np.flatnonzero(rows)
        hit = sum(int(ev[i][list(choice[i])].sum()) for i in rows)
        removed = sum(int(obs[i][list(choice[i])].sum()) for i in rows)
        base = ev[rows].sum() / max(obs[rows].sum(), 1)
        return float(hit / max(removed, 1) / base) if base > 0 else float("nan")

    def summary(rows):
        return {"records": int(rows.sum()), "best_ratio": ratio(best, rows), "evidence_leads_ratio": ratio(by_evidence, rows),
                "best_cost": float(costs.max(0)[rows].mean()), "evidence_leads_cost": float(ev_cost[rows].mean()),
                "mean_subset_cost": float(costs[:, rows].mean()),
                "fraction_of_subsets_costlier_than_evidence_leads": float(costlier[rows].mean())}

    per_class = {}
    for k, name in enumerate(classes):
        rows = (labels[:, k] > 0) & localised
        if rows.sum() >= 3:
            per_class[name] = summary(rows)
    return {"n_removed_leads": n_removed, "n_subsets": len(subsets), "localised": summary(localised),
            "per_class": per_class}


def greedy_token_removal(model, signal, observed, texts, rows: np.ndarray, rho: float, lambda_cons: float,
                         chunk: int = 4, batch_size: int = 32, extra: dict[str, np.ndarray] | None = None) -> dict:
    """An approximate token-level maximiser of SCAR's masker objective, record by record.

    The cost of removing a set of tokens from record ``i`` is what :func:`lead_subset_costs` computes
    for whole leads: the masked view's ECG->text cross-entropy against the texts of ``i``'s batch of
    ``batch_size`` consecutive records, plus ``lambda_cons (1 - cos)`` to its full view. Starting from
    no removal, each round tries every observed token not yet removed (one batched forward pass) and
    removes the ``chunk`` that raise the cost most on their own, until ``removal_count(observed, rho)``
    tokens are gone. A far stronger attack than a trained masker, and it sees nothing but the loss.

    ``rows``: (N,) bool, the records to attack. ``extra``: other (N, M) removals to cost the same way.
    Returns ``removed`` (N, M) bool (rows outside ``rows`` empty) and per-record ``cost`` arrays (NaN
    outside ``rows``) for ``"greedy"`` and each ``extra`` key.
    """
    import torch
    import torch.nn.functional as F

    model.eval()
    n = len(texts)
    extra = extra or {}
    costs = {name: np.full(n, np.nan, np.float32) for name in ("greedy", *extra)}
    removed_out = None
    with torch.no_grad():
        scale = model.scale()
        u_all = F.normalize(model.text_features(texts), dim=-1)
        for i in np.flatnonzero(rows):
            a = (i // batch_size) * batch_size
            u = u_all[a:a + batch_size]
            x, tobs = model.encoder.embed_tokens(torch.from_numpy(signal[i:i + 1]), torch.from_numpy(observed[i:i + 1]))
            if removed_out is None:
                removed_out = np.zeros((n, tobs.shape[1]), bool)
            e_full = _embed(model, x, tobs)

            def cost(removed: "torch.Tensor") -> "torch.Tensor":
                c = removed.shape[0]
                xx, tt = x.expand(c, -1, -1), tobs.expand(c, -1)
                e = _embed(model, xx, tt, _keep_log(removed & tobs))
                ce = -torch.log_softmax(scale * e @ u.T, dim=1)[:, i - a]
                return ce + lambda_cons * (1 - (e * e_full).sum(-1))

            observed_idx = np.flatnonzero(tobs[0].numpy())
            k = removal_count(len(observed_idx), rho)
            cur = torch.zeros(1, tobs.shape[1], dtype=torch.bool)
            while int(cur.sum()) < k:
                cand = torch.from_numpy(observed_idx[~cur[0, observed_idx].numpy()])
                trial = cur.repeat(len(cand), 1)
                trial[torch.arange(len(cand)), cand] = True
                order = torch.argsort(cost(trial), descending=True, stable=True)
                cur[0, cand[order[:min(chunk, k - int(cur.sum()))]]] = True
            removed_out[i] = cur[0].numpy()
            costs["greedy"][i] = float(cost(cur)[0])
            for name, rem in extra.items():
                costs[name][i] = float(cost(torch.from_numpy(rem[i:i + 1]))[0])
    if removed_out is None:
        removed_out = np.zeros((n, 0), bool)
    return {"removed": removed_out, "cost": costs}


def greedy_summary(model, signal, observed, texts, ev: np.ndarray, tobs: np.ndarray, lambda_cons: float,
                   batch_size: int, seed: int, control_removed: np.ndarray, masker_removed: np.ndarray | None = None,
                   rho: float = 0.3, chunk: int = 4) -> dict:
    """:func:`greedy_token_removal` on the localised records, next to the model's own masker's removal
    (``masker_removed``, when it has one), evidence first and an uninformed control's removal
    (``control_removed``, e.g. the token unit of
    :func:`~ecgfoundry.eval.evidence_ratio.uninformed_removals`), all costed the same way: mean cost
    per record, evidence ratio with its bootstrap interval, and greedy minus masker (paired).
    ``tobs``: (N, M) the model's observed tokens."""
    rows = localised_rows(ev, tobs)
    rng = np.random.default_rng(seed)
    extra = {"evidence first": top_fraction(ev + 1e-3 * rng.random(ev.shape), tobs, rho),
             "signal SD": control_removed}
    if masker_removed is not None:
        extra["masker"] = masker_removed
    t0 = time.perf_counter()
    g = greedy_token_removal(model, signal, observed, texts, rows, rho, lambda_cons, chunk, batch_size, extra)
    out = {"chunk": chunk, "rho": rho, "lambda_cons": lambda_cons, "records": int(rows.sum()),
           "wall_s": round(time.perf_counter() - t0, 1),
           "mean_cost": {k: float(np.nanmean(v)) for k, v in g["cost"].items()},
           "ratio": {k: evidence_ratio_summary(ev[rows], rem[rows], tobs[rows])["localised"]
                     for k, rem in {"greedy": g["removed"], **extra}.items()}}
    if "masker" in extra:
        out["greedy_minus_masker"] = evidence_ratio_difference(ev, g["removed"], extra["masker"], tobs, rows)
    return out
