"""ecgfoundry.report: figures and the HTML / Markdown report of a run folder.

- :func:`~ecgfoundry.report.build.write_report`: ``report.html`` (self-contained) + ``report.md`` + PNGs;
  the run folder layout is in :mod:`ecgfoundry.report.collect`.
- :mod:`~ecgfoundry.report.paper`: a 12-lead ECG on ECG paper with masked leads and spans shaded.
- :mod:`~ecgfoundry.report.importance`: the SCAR selector's token weights before / after adversarial removal.
- :mod:`~ecgfoundry.report.figures`: token maps, AUROC / CMRS bars, UMAP, adversarial and training curves.
- :mod:`~ecgfoundry.report.browser`: check a page in headless Chromium (images, console errors, screenshot).

Command: ``ecgfoundry report --run DIR [--out DIR]``.
"""

from ecgfoundry.report.build import ReportOptions, ReportResult, write_report

__all__ = ["ReportOptions", "ReportResult", "write_report"]
