"""Evaluation: honest metrics, zero-shot and linear probes, the missingness stress test with CMRS,
and adversarial robustness.

Modules (import what you need; nothing heavy is imported here):

- ``metrics``: macro AUROC / AUPRC over evaluable classes, F1 at validation thresholds, accuracy,
  record-level bootstrap CIs, per-class tables.
- ``prompts``: the user-editable prompt file (``ecgfoundry/data/prompts.json``).
- ``zero_shot``: prompt-ensembled class embeddings and cosine scores.
- ``stratify``: iterative stratification for multi-label subsampling.
- ``linear_probe``: a linear classifier on frozen embeddings, 1 / 10 / 100 % of the training split.
- ``missingness``: lead-only, temporal-only and joint masks, random and hard.
- ``cmrs``: the Counterfactual Missingness Resolution Score and Platt scaling.
- ``adversarial``: FGSM and PGD.
- ``predict``: a torch model as a batched numpy probability function.
- ``reference``: the full-view 1-D ResNet reference classifier F (train, save, load).
- ``stress``: metrics and CMRS under every missingness type x mode (rand / hard).
- ``protocol``: the whole ``ecgfoundry evaluate`` run (zero-shot, stress test, probes, attacks,
  ``metrics.json`` + ``report.md``).
"""
