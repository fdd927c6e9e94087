"""The Markdown of the known-answer experiment (:mod:`ecgfoundry.eval.known_answers`).

:func:`render_markdown` turns the JSON report of ``benchmarks/known_answers_pretrain.py`` into
``results/pretrain_known_answers.md``: the command and data, then the three sections (loss and
zero-shot; the masker's evidence ratio against the uninformed control and the maximisers of its
objective; lead dropping at test time) and the verdict at the budget. It only formats: every figure
is in the report. The masker's evidence ratio is reported, not judged (issue 4's check 2, ratio >= 2,
was retired in issue 20).
"""

from __future__ import annotations

__all__ = ["render_markdown"]


def render_markdown(r: dict) -> str:
    """The Markdown of a known-answer report ``r`` (the JSON the benchmark writes, or the same dict
    read back). ``r["models"]`` must hold ``scar`` and ``scar-randmask-mean``."""
    return "\n".join(_preamble(r) + _alignment_section(r) + _evidence_section(r) + _removal_cost_tables(r)
                     + _maximiser_tables(r) + _lead_drop_section(r) + _verdict(r))


def _preamble(r: dict) -> list[str]:
    return [
        "# Pretraining known-answer checks (synthetic data)",
        "",
        f"Command: `{r['command'].strip()}`  ",
        f"Data: `ecgfoundry synth --n {r['n_records']} --seed {r['data_seed']}` (100 Hz, 10 s); pretraining on the "
        f"{r['n_train']} train records (folds 1-8), every figure on the {r['n_test']} held-out test records (fold 10), "
        f"measured once. The settings chosen by a search, on the validation split (fold 9; "
        f"`results/masker_schedule_search.md`), are the SCAR presets' masker logit bound and scar-leadmask's "
        f"whole-lead unit with the score-function estimator; the test split was not used for them.  ",
        f"Text paired with each ECG: {'the label descriptions (`--text-source labels`)' if r.get('text_source') == 'labels' else 'the synthetic free-text reports'}.  ",
        f"Training: encoder `{r['encoder']}`, frozen all-MiniLM-L6-v2, {r['steps']} steps, batch {r['batch_size']}, "
        f"training seed {r['train_seed']}, all other settings the `TrainConfig` defaults; torch {r['torch']}, "
        f"{r['threads']} CPU threads; training " + ", ".join(
            f"{n} {m['train_wall_s'] / 60:.1f} min" for n, m in r["models"].items() if m.get("train_wall_s") is not None)
        + f"; this evaluation pass {r['wall_s'] / 60:.1f} min (finished runs are reused, their training time kept).",
        "",
    ]


def _alignment_section(r: dict) -> list[str]:
    """Section 1: training loss, held-out InfoNCE and zero-shot AUROC, before and after training."""
    s = r["models"]["scar"]
    lines = [
        "## 1. Loss goes down; zero-shot classification beats chance",
        "",
        "| model | train loss first logged step → last 10 % | held-out InfoNCE init → trained (chance ln B = "
        f"{r['chance_infonce']:.2f}) | zero-shot macro AUROC init → trained (chance 0.5) |",
        "|---|---|---|---|",
    ]
    for name, m in r["models"].items():
        log = m["train_log"]
        lines.append(f"| {name} | {log['loss_first']:.3f} (step {log['first_logged_step']}) → "
                     f"{log['loss_end_mean_last_10pct']:.3f} | {m['init']['heldout_infonce']:.3f} → "
                     f"{m['trained']['heldout_infonce']:.3f} | {m['init']['zero_shot']['macro_auroc']:.3f} → "
                     f"**{m['trained']['zero_shot']['macro_auroc']:.3f}** |")
    pc = s["trained"]["zero_shot"]["per_class"]
    lines += ["", "Per-class zero-shot AUROC of SCAR (held-out): " +
              ", ".join(f"{c} {v:.2f}" for c, v in pc.items() if v is not None), ""]
    return lines


def _adversaries(r: dict) -> list[str]:
    return [n for n, m in r["models"].items() if "masker_evidence" in m]


def _evidence_section(r: dict) -> list[str]:
    """Section 2, first table: each masker's evidence ratio and the uninformed control's."""
    me = r["models"]["scar"]["masker_evidence"]
    adversaries = _adversaries(r)
    lines = [
        "## 2. The masker's evidence ratio, against the uninformed control",
        "",
        f"Budget ρ = {me['budget_rho']}; mean gate over observed held-out tokens: " + ", ".join(
            f"{n} {r['models'][n]['masker_evidence']['mean_gate']:.3f}" for n in adversaries)
        + " (when every gate is saturated at 1, \"top ρ\" picks tokens by index order, not by evidence). "
        "Ratio = P(evidence | removed) / P(evidence); a random masker gives 1; in brackets a 95 % "
        "percentile bootstrap interval over records (1000 resamples, seed 0). scar-leadmask (an extension, not "
        "in the paper) removes whole leads: its gate is per lead, and \"top ρ\" takes whole leads in gate order "
        "(the last one partly, in time order).",
        "",
        "| model | removed = | records | base rate of evidence tokens | evidence among removed | removed fraction | **ratio** | max possible |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in adversaries:
        mev = r["models"][name]["masker_evidence"]
        for rule, label in (("top_rho", "top ρ by gate"), ("gate_gt_0.5", "gate > 0.5")):
            for subset in ("all", "localised"):
                x = mev[rule][subset]
                lines.append(f"| {name} | {label}, {subset} records | {x['records']} | {x['base_rate']:.3f} | "
                             f"{x['evidence_among_removed']:.3f} | {x['removed_fraction']:.3f} | **{x['ratio']:.2f}**"
                             + (" [{:.2f}, {:.2f}]".format(*x["ratio_ci95"]) if "ratio_ci95" in x else "")
                             + f" | {x['max_possible_ratio']:.2f} |")
    control = r.get("uninformed_evidence")
    if control:
        for unit, label in (("token", "top ρ of tokens by signal SD"), ("lead", "whole leads by signal SD")):
            for subset in ("all", "localised"):
                x = control[unit][subset]
                lines.append(f"| *uninformed control* | {label}, {subset} records | {x['records']} | "
                             f"{x['base_rate']:.3f} | {x['evidence_among_removed']:.3f} | {x['removed_fraction']:.3f} | "
                             f"{x['ratio']:.2f} [{x['ratio_ci95'][0]:.2f}, {x['ratio_ci95'][1]:.2f}] | "
                             f"{x['max_possible_ratio']:.2f} |")
    lines += ["", "\"localised\": records whose evidence does not cover every token (conditions such as NORM, AF, "
              "SBRAD/STACH put evidence in every lead over the whole record)."
              + (" The uninformed control needs no training and knows nothing of the conditions: it removes the "
                 "tokens (or whole leads) where the signal's standard deviation is largest. QRS complexes are both "
                 "large and where many conditions' evidence lies, so this control already exceeds 1; a masker's "
                 "ratio is informative only above it." if control else ""), ""]
    return lines


def _removal_cost_tables(r: dict) -> list[str]:
    """Section 2: what each removal costs each encoder, overall and class by class."""
    lines: list[str] = []
    if all("removal_costs" in m for m in r["models"].values()):
        lines += ["What each removal costs the encoder: held-out InfoNCE of the masked view (batches of "
                  f"{r['batch_size']}) and its cosine to the full view, with the top ρ of every record's tokens removed "
                  "outright. For the random-mask model, \"masker\" is SCAR's masker transferred.", "",
                  "| model | none | random | evidence first | masker |", "|---|---|---|---|---|"]
        for name, m in r["models"].items():
            c = m["removal_costs"]
            cells = [f"{c[k]['align_loss']:.3f} (cos {c[k]['cos_to_full_view']:.3f})" if k in c else "-"
                     for k in ("none", "random", "evidence first", "masker")]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    pcl = r.get("per_class_check2")
    if pcl:
        names = list(r["models"])
        lines += ["Class by class (localised records of each class; a record with two conditions counts in both). "
                  "Ratio: SCAR's masker, top ρ by gate. Loss: ECG→text cross-entropy of the masked view within its batch, "
                  "for each model: removing the top ρ at random / evidence first / by SCAR's masker.", "",
                  "| class | records | ratio (max) | " + " | ".join(f"{n}: random / evidence / masker" for n in names) + " |",
                  "|---|---|---|" + "---|" * len(names)]
        for c, e in pcl.items():
            cells = []
            for n in names:
                mm = e["models"][n]
                cells.append(" / ".join(f"{mm[k]['ecg_to_text_loss']:.2f}" if k in mm else "-"
                                        for k in ("random", "evidence first", "masker")))
            lines.append(f"| {c} | {e['records']} | **{e['ratio']:.2f}** ({e['max_possible_ratio']:.2f}) | "
                         + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _maximiser_tables(r: dict) -> list[str]:
    """Section 2: the exact lead-level and the greedy token-level maximisers of the masker's objective."""
    s = r["models"]["scar"]
    lines: list[str] = []
    if all("best_lead_removal" in m for m in r["models"].values()):
        ks = list(s["best_lead_removal"])
        lines += ["**The loss-optimal lead removal** (every subset of k of the 12 leads tried on every record; cost = "
                  "what SCAR's masker maximises, per record: ECG→text cross-entropy within the batch + λ_cons (1 − cos) "
                  "to the full view, λ_cons = "
                  f"{s['best_lead_removal'][ks[0]]['lambda_cons']:g} for both models). Best: the costliest subset of each record; "
                  "evidence leads: the k leads holding most of the record's evidence tokens. Localised records.", "",
                  "| model | k leads removed | ratio, best subset | ratio, evidence leads | cost: best / evidence leads / "
                  "mean subset | subsets costlier than the evidence leads |", "|---|---|---|---|---|---|"]
        for name, m in r["models"].items():
            for k in ks:
                o = m["best_lead_removal"][k]["localised"]
                lines.append(f"| {name} | {k} | **{o['best_ratio']:.2f}** | {o['evidence_leads_ratio']:.2f} | "
                             f"{o['best_cost']:.2f} / {o['evidence_leads_cost']:.2f} / {o['mean_subset_cost']:.2f} | "
                             f"{100 * o['fraction_of_subsets_costlier_than_evidence_leads']:.0f} % |")
        k = ks[-1]
        per = s["best_lead_removal"][k]["per_class"]
        lines += ["", f"Class by class, SCAR's encoder, k = {k}: ratio of the best subset / of the evidence leads, "
                  "and the share of subsets that cost more than removing the evidence leads: "
                  + "; ".join(f"{c} {o['best_ratio']:.2f} / {o['evidence_leads_ratio']:.2f} "
                              f"({100 * o['fraction_of_subsets_costlier_than_evidence_leads']:.0f} %)"
                              for c, o in per.items()) + ".", ""]
    greedy = {n: m["greedy_token_removal"] for n, m in r["models"].items() if "greedy_token_removal" in m}
    if greedy:
        g0 = next(iter(greedy.values()))
        lines += [f"**A token-level maximiser of the same objective** (greedy: from no removal, each round tries every "
                  f"remaining token and removes the {g0['chunk']} that raise the record's cost most, until ρ = "
                  f"{g0['rho']} of its tokens are gone; cost as in the table above, per record). Localised records "
                  f"({g0['records']}); every removal costed the same way; ratio with its 95 % bootstrap interval. "
                  "\"masker\": the model's own masker, top ρ by gate.", "",
                  "| model | greedy: cost / ratio | masker: cost / ratio | evidence first: cost / ratio | "
                  "signal SD: cost / ratio |", "|---|---|---|---|---|"]
        for name, g in greedy.items():
            cells = []
            for k in ("greedy", "masker", "evidence first", "signal SD"):
                if k in g["ratio"]:
                    x = g["ratio"][k]
                    cells.append(f"{g['mean_cost'][k]:.2f} / **{x['ratio']:.2f}** "
                                 f"[{x['ratio_ci95'][0]:.2f}, {x['ratio_ci95'][1]:.2f}]")
                else:
                    cells.append("-")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _check3(r: dict) -> str:
    """Check 3's verdict: SCAR's embedding closer to the full view than random-mask + mean-pool's when
    the evidence leads are dropped, unless an embedding has collapsed."""
    ds = r["models"]["scar"]["evidence_lead_drop"]
    db = r["models"]["scar-randmask-mean"]["evidence_lead_drop"]
    collapsed = [n for n, m in r["models"].items() if m["evidence_lead_drop"]["cos_between_records_full_view"] > 0.9]
    if collapsed:
        return (f"cannot be judged: the full-view embeddings of different records of {', '.join(collapsed)} "
                "have a mean cosine above 0.9 (a collapsed embedding), so a high cosine says nothing about "
                "robustness")
    return "holds" if ds["cos_evidence_leads_dropped"] > db["cos_evidence_leads_dropped"] else "does NOT hold"


def _lead_drop_section(r: dict) -> list[str]:
    """Section 3: cosine to the full view with the evidence leads dropped (check 3)."""
    lines = [
        "## 3. Evidence leads dropped at test time: cosine to the full-view embedding",
        "",
        "| model | records | leads dropped (mean) | cos, evidence leads dropped | cos, as many random leads dropped | "
        "cos between different records (full view) |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in r["models"].items():
        d = m["evidence_lead_drop"]
        lines.append(f"| {name} | {d['records']} | {d['mean_leads_dropped']:.1f} | **{d['cos_evidence_leads_dropped']:.3f}** "
                     f"(sd {d['cos_evidence_leads_dropped_sd']:.3f}) | {d['cos_random_leads_dropped']:.3f} | "
                     f"{d['cos_between_records_full_view']:.3f} |")
    ds, db = r["models"]["scar"]["evidence_lead_drop"], r["models"]["scar-randmask-mean"]["evidence_lead_drop"]
    lines += ["", f"Check 3 {_check3(r)} (SCAR {ds['cos_evidence_leads_dropped']:.3f} vs random-mask + "
              f"mean-pool {db['cos_evidence_leads_dropped']:.3f}).", ""]
    return lines


def _verdict(r: dict) -> list[str]:
    s = r["models"]["scar"]
    me = s["masker_evidence"]
    verdict = _check3(r)
    log = s["train_log"]
    lines = ["## Verdict at this budget", ""]
    if log.get("first_step_mask_rate_over_0.9") is not None:
        lines += [f"- **SCAR's masker collapsed**: from step {log['first_step_mask_rate_over_0.9']} on the training "
                  f"mask rate (mean gate) is above 0.9 (last 10 %: {log['mask_rate_end_mean_last_10pct']:.3f}; budget "
                  f"ρ = {me['budget_rho']}). Removing every token costs the masker lambda_mask (mean g - ρ)^2 = "
                  f"{(1 - me['budget_rho']) ** 2:.2f} of budget penalty but gains up to ln B = {r['chance_infonce']:.2f} "
                  "of alignment loss, so with the default lambda_mask = 1 the adversary wins outright; from then on the "
                  "alignment loss stays at chance and the embedding collapses. Check 3 is therefore not met by the "
                  "default SCAR preset, and its masker's evidence ratio says nothing about evidence seeking; the budget needs to be enforced harder (e.g. a hard top-ρ gate, "
                  "a much larger lambda_mask or a constraint the masker cannot trade against the alignment gain).",
                  "- Its zero-shot AUROC above chance comes from what the encoder learned before the collapse."]
    for name, m in r["models"].items():
        ok = (m["trained"]["heldout_infonce"] < min(m["init"]["heldout_infonce"], r["chance_infonce"]) - 0.1
              and m["trained"]["zero_shot"]["macro_auroc"] > 0.6)  # below chance InfoNCE, not just below init
        lines.append(f"- Check 1 for {name}: {'met' if ok else 'NOT met'} (held-out InfoNCE "
                     f"{m['init']['heldout_infonce']:.3f} → {m['trained']['heldout_infonce']:.3f}, zero-shot macro "
                     f"AUROC {m['trained']['zero_shot']['macro_auroc']:.3f}).")
    # Reported, not judged: issue 4's check 2 (ratio >= 2) was retired in issue 20.
    ratio = me["top_rho"]["localised"]["ratio"]
    ci = me["top_rho"]["localised"].get("ratio_ci95")
    lines.append(f"- SCAR's masker: evidence ratio {ratio:.2f}"
                 + (" [95 % CI {:.2f}, {:.2f}]".format(*ci) if ci else "")
                 + " on the localised records, top ρ by gate"
                 + ("; the interval excludes 1, so the masker removes evidence more often than the budget alone"
                    if ci and ci[0] > 1 else
                    "; the interval lies below 1, so the masker removes evidence less often than the budget alone"
                    if ci and ci[1] < 1 else "")
                 + ". Reported, not a pass/fail check: the earlier threshold (ratio ≥ 2, check 2 of issue 4) "
                   "is retired (issue 20); the ratio is read against the uninformed control below.")
    compared = {n: r["models"][n]["masker_evidence"]["vs_uninformed"] for n in _adversaries(r)
                if "vs_uninformed" in r["models"][n]["masker_evidence"]}
    if compared:
        parts = []
        for name, d in compared.items():
            lo, hi = d["ci95"]
            rel = "above it" if lo > 0 else ("below it" if hi < 0 else "not distinguishable from it")
            parts.append(f"{name} minus {d['unit']}s by signal SD: {d['difference']:+.2f} [{lo:+.2f}, {hi:+.2f}], "
                         f"{rel} (share of resamples not above: {d['p_not_above']:.3f})")
        lines.append("- Against the uninformed control at the same unit (localised records; difference of evidence "
                     "ratios with a paired 95 % bootstrap interval over records): " + "; ".join(parts) + ".")
    lead = r["models"].get("scar-leadmask", {})
    if "masker_evidence" in lead:
        lr_ = lead["masker_evidence"]["top_rho"]["localised"]["ratio"]
        lo = lead.get("best_lead_removal", {})
        opt = lo.get(4, lo.get("4", {})).get("localised", {}).get("best_ratio")
        lines.append(f"- The lead-level adversary (scar-leadmask, score-function estimator): evidence ratio {lr_:.2f} on "
                     "the localised records" + (f"; the costliest 4-lead removal on its own encoder has {opt:.2f}, so "
                     + ("it reaches the ratio of the loss-optimal lead removal." if lr_ >= opt - 0.1 else
                        "it stays below the loss-optimal lead removal.") if opt is not None else "."))
    lines.append(f"- Check 3: {'met' if verdict == 'holds' else verdict} (see above).")
    drops = {n: m["evidence_lead_drop"]["cos_evidence_leads_dropped"] for n, m in r["models"].items()}
    top = max(drops, key=drops.get)
    if top != "scar":
        lines.append(f"- Evidence leads dropped, closest to the full view: {top} ({drops[top]:.3f}; scar "
                     f"{drops['scar']:.3f}, scar-randmask-mean {drops['scar-randmask-mean']:.3f}).")
    return lines + _ratio_context(r)


def _ratio_context(r: dict) -> list[str]:
    """What the masker's evidence ratio reflects: what removals cost SCAR's encoder, and what the
    maximisers of its objective remove (overall and class by class)."""
    s = r["models"]["scar"]
    lines = []
    costs = s.get("removal_costs", {})
    if "masker" in costs and "evidence first" in costs:
        mk, evf = costs["masker"]["align_loss"], costs["evidence first"]["align_loss"]
        rand = costs["random"]["align_loss"]
        lines.append(f"- What the removals cost: on SCAR's own encoder, removing what the masker picks raises the held-out "
                     f"InfoNCE to {mk:.3f}, removing the evidence first to {evf:.3f} (random: {rand:.3f}). The masker "
                     + ("does maximise the adversarial objective, and it finds removals that hurt more than taking the "
                        "evidence away, so evidence is not what an optimal adversary removes here."
                        if mk > evf + 0.02 else
                        "removes about as much as taking the evidence away does, without concentrating on the evidence."
                        if mk >= evf - 0.02 else
                        "hurts less than taking the evidence away would: an optimisation shortfall of the masker.")
                     + (" The synthetic reports also state rate, intervals and axis, which every lead carries, so the "
                        "text is not only about the localised conditions." if r.get("text_source") != "labels" else ""))
    g = s.get("greedy_token_removal")
    if g:
        gr, ef = g["ratio"]["greedy"], g["ratio"]["evidence first"]
        lines.append(f"- A token-level maximiser of SCAR's objective: the greedy removal costs SCAR's encoder "
                     f"{g['mean_cost']['greedy']:.2f} per record (its masker's removal {g['mean_cost']['masker']:.2f}, "
                     f"evidence first {g['mean_cost']['evidence first']:.2f})"
                     + (", so it is a far stronger adversary, and its " if g["mean_cost"]["greedy"]
                        > 1.5 * max(g["mean_cost"]["masker"], g["mean_cost"]["evidence first"]) else ", and its ")
                     + f"evidence ratio is {gr['ratio']:.2f} [{gr['ratio_ci95'][0]:.2f}, {gr['ratio_ci95'][1]:.2f}] "
                     f"(evidence first: {ef['ratio']:.2f}).")
    oracle = s.get("best_lead_removal")
    if oracle:
        k = list(oracle)[-1]
        o = oracle[k]["localised"]
        lines.append(
            f"- What an exact maximiser would do: the costliest removal of {k} whole leads, found by trying all "
            f"{oracle[k]['n_subsets']} subsets on every record, has an evidence ratio of {o['best_ratio']:.2f} on SCAR's "
            f"encoder (removing the evidence leads instead: {o['evidence_leads_ratio']:.2f}, yet "
            f"{100 * o['fraction_of_subsets_costlier_than_evidence_leads']:.0f} % of the subsets cost more).")
    pcl = r.get("per_class_check2") or {}
    if pcl:
        def loss(c, k):
            return pcl[c]["models"]["scar"][k]["ecg_to_text_loss"]
        missed = [c for c in pcl if loss(c, "evidence first") > loss(c, "masker") + 0.5]
        beyond = [c for c in pcl if loss(c, "masker") > loss(c, "evidence first") + 0.5]
        lines.append(
            "- Class by class (table in section 2), on SCAR's encoder: "
            + (f"for {', '.join(missed)} removing the evidence would cost more than what the masker removes, so "
               "there the masker misses a better attack (the evidence is repeated over several leads and every beat: "
               "removing any one token costs almost nothing, so the gradient on single gates does not point at it); "
               if missed else "")
            + (f"for {', '.join(beyond)} the masker's removal costs more than removing the evidence, which the "
               "encoder makes up for from the rest of the record, so the evidence is not the best attack there." if beyond
               else "there is no class where the masker's removal costs clearly more than removing the evidence."))
    lines.append("")
    return lines
