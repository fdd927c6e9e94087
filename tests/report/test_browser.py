"""The report in a real headless browser (Debian's chromium): it renders, every image loads, there is
no console error and no request leaves the file; a screenshot is taken. Skips when no chromium is
installed (`.ci/run` installs it)."""

from __future__ import annotations

import pytest

from ecgfoundry.report.browser import check_page, find_chromium

pytest.importorskip("matplotlib")

needs_chromium = pytest.mark.skipif(
    find_chromium() is None,
    reason="chromium not found: install Debian's `chromium` package (`.ci/run` does) or set ECGFOUNDRY_CHROMIUM")


@needs_chromium
def test_report_renders_in_chromium(run_folder, tmp_path):
    from ecgfoundry.report.build import ReportOptions, write_report

    res = write_report(run_folder, tmp_path / "report", ReportOptions(umap=False, dpi=50, progress=False))
    shot = tmp_path / "report" / "screenshot.png"
    check = check_page(res.html, screenshot=shot)
    assert check.ok, check.summary()
    assert check.title == "ecgfoundry demo (test)" and check.loaded and check.text_length > 1000
    assert len(check.images) == len(res.figures) == 7
    assert all(i["naturalWidth"] > 0 and i["naturalHeight"] > 0 for i in check.images)
    assert check.page_size[1] > 2000  # the whole report is laid out, not just the first screen
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_chromium
def test_browser_check_catches_a_broken_page(tmp_path):
    """A page with a missing image, a script error and an external request fails the check."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><title>bad</title></head><body><p>text</p>'
                    '<img src="missing.png"><script>console.error("boom"); notDefined();</script></body></html>')
    check = check_page(page)
    assert not check.ok
    assert len(check.broken_images) == 1 and check.exceptions and any("boom" in e for e in check.console_errors)
    assert check.failed_requests
