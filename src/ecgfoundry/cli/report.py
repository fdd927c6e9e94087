"""``ecgfoundry report``: a self-contained HTML report (and a Markdown twin with PNGs) of a run folder:
what was run, a 12-lead ECG on ECG paper with the masked leads and spans shaded, the SCAR selector's
token importance before and after adversarial removal, AUROC and CMRS per missingness type (SCAR
against the baseline), the UMAP of the embeddings, the benchmark tables and the training curves."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLE = """examples:
  ecgfoundry report --run runs/demo                      # writes runs/demo/report.html and report.md
  ecgfoundry report --run runs/demo --out runs/demo-report --layout 3x4 --check-browser

the run folder (every part optional; folders are recognised by their content):
  RUN/provenance.json   what was run: {"seed", "data", "label_set", "steps": [{"name", "command", "seconds"}]}
  RUN/pretrain/NAME/    ecgfoundry pretrain --out RUN/pretrain/NAME
  RUN/eval/NAME/        ecgfoundry evaluate --model RUN/pretrain/NAME --out RUN/eval/NAME
  RUN/bench/            ecgfoundry bench --out RUN/bench
"""


def register(sub) -> None:
    p = sub.add_parser("report", help="HTML + Markdown report of a run folder (figures, tables, what was run)",
                       description=__doc__, epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="run folder (e.g. runs/demo)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: the run folder)")
    p.add_argument("--data", type=Path, default=None,
                   help="dataset or cache folder for the ECG figures (default: from provenance.json / metrics.json)")
    p.add_argument("--label-set", default=None, help="label set for the record labels (default: the evaluation's)")
    p.add_argument("--seed", type=int, default=None, help="record choice and masks (default: the evaluation's seed)")
    p.add_argument("--layout", choices=("12x1", "3x4"), default="12x1",
                   help="ECG paper layout: one row per lead, or the standard 3x4 + rhythm strip (default 12x1)")
    p.add_argument("--no-umap", action="store_true", help="do not compute a UMAP when the benchmark has none")
    p.add_argument("--umap-points", type=int, default=600, help="test records in a computed UMAP (default 600)")
    p.add_argument("--dpi", type=int, default=110, help="figure resolution (default 110)")
    p.add_argument("--title", default=None, help="report title")
    p.add_argument("--check-browser", action="store_true",
                   help="open the report in headless chromium: every image loads, no console errors; "
                        "writes report-screenshot.png")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ecgfoundry.cli.main import UsageError
    from ecgfoundry.report.build import ReportOptions, write_report

    try:
        opts = ReportOptions(data=str(args.data) if args.data else None, label_set=args.label_set, seed=args.seed,
                             layout=args.layout, umap=not args.no_umap, umap_points=args.umap_points, dpi=args.dpi,
                             title=args.title, progress=not args.no_progress)
    except ValueError as exc:
        raise UsageError(str(exc), hint="see `ecgfoundry report --help`") from None
    if not args.run.is_dir():
        raise UsageError(f"{args.run}: no such run folder", hint="pass the folder `make demo` or your runs wrote, "
                         "e.g. --run runs/demo")
    result = write_report(args.run, args.out, opts)
    print(f"wrote {result.html} ({result.html.stat().st_size / 1e6:.1f} MB, self-contained) and {result.markdown} "
          f"with {len(result.figures)} figures in {result.seconds:.1f} s")
    for note in result.notes:
        print(f"note: {note}")
    if args.check_browser:
        from ecgfoundry.report.browser import BrowserUnavailable, check_page

        shot = result.html.with_name("report-screenshot.png")
        try:
            check = check_page(result.html, screenshot=shot)
        except BrowserUnavailable as exc:
            raise UsageError(str(exc), hint="install it with `apt-get install chromium`, or drop --check-browser") \
                from None
        print(check.summary())
        return 0 if check.ok else 1
    return 0
