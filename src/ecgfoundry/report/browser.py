"""Open an HTML file in headless Chromium and check it: the page renders, every ``<img>`` loaded
(``naturalWidth > 0``), no console errors or uncaught exceptions, no failed or external requests;
optionally save a screenshot.

No extra Python dependency: Chromium is driven over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: the browser reads commands from fd 3 and writes replies and events to
fd 4, each message a JSON object followed by a NUL byte). Debian's ``chromium`` package is enough;
:func:`find_chromium` also looks for ``chromium-browser`` / ``google-chrome`` and the
``ECGFOUNDRY_CHROMIUM`` environment variable.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BrowserUnavailable", "PageCheck", "find_chromium", "check_page"]

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
_LOCAL_SCHEMES = ("data:", "file:", "about:", "blob:", "chrome:", "devtools:")


class BrowserUnavailable(RuntimeError):
    """No Chromium / Chrome executable was found, or it could not be started."""


def find_chromium() -> str | None:
    """Path of a Chromium-family browser: ``$ECGFOUNDRY_CHROMIUM``, then the usual names on PATH."""
    env = os.environ.get("ECGFOUNDRY_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for name in _NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageCheck:
    """What the browser saw."""

    url: str
    title: str = ""
    loaded: bool = False
    images: list[dict[str, Any]] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    text_length: int = 0
    page_size: tuple[int, int] = (0, 0)
    screenshot: Path | None = None
    browser: str = ""

    @property
    def broken_images(self) -> list[dict[str, Any]]:
        return [i for i in self.images if not i.get("complete") or not i.get("naturalWidth")]

    @property
    def ok(self) -> bool:
        return (self.loaded and self.text_length > 0 and not self.broken_images and not self.console_errors
                and not self.exceptions and not self.failed_requests and not self.external_requests)

    def summary(self) -> str:
        lines = [f"browser check of {self.url} ({self.browser}): {'OK' if self.ok else 'FAILED'}",
                 f"  title {self.title!r}; page {self.page_size[0]} x {self.page_size[1]} px; "
                 f"{self.text_length} characters of text",
                 f"  images: {len(self.images)} ({len(self.broken_images)} broken)"]
        for name, items in (("console errors", self.console_errors), ("exceptions", self.exceptions),
                            ("failed requests", self.failed_requests), ("external requests", self.external_requests)):
            lines.append(f"  {name}: {len(items)}" + "".join(f"\n    {x}" for x in items[:10]))
        if self.screenshot:
            lines.append(f"  screenshot: {self.screenshot}")
        return "\n".join(lines)


class _Devtools:
    """A DevTools protocol connection over Chromium's debugging pipe."""

    def __init__(self, proc: subprocess.Popen, to_browser: int, from_browser: int):
        self.proc, self.w, self.r = proc, to_browser, from_browser
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the browser did not answer in time")
            ready, _, _ = select.select([self.r], [], [], min(left, 0.5))
            if not ready:
                if self.proc.poll() is not None:
                    raise BrowserUnavailable(f"the browser exited (code {self.proc.returncode})")
                continue
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise BrowserUnavailable("the browser closed the debugging pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self.w, data):]
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str, timeout: float) -> bool:
        if any(e["method"] == method for e in self.events):
            return True
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self._read(deadline)
            except TimeoutError:
                return False
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    return True


def _launch(exe: str, profile: str) -> tuple[subprocess.Popen, int, int, Any]:
    cmd_r, cmd_w = os.pipe()   # we write commands, the browser reads them on fd 3
    evt_r, evt_w = os.pipe()   # the browser writes on fd 4, we read

    def child_fds():  # runs in the child between fork and exec
        a = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
        b = fcntl.fcntl(evt_w, fcntl.F_DUPFD, 10)
        os.dup2(a, 3)
        os.dup2(b, 4)
        os.close(a)
        os.close(b)

    args = [exe, "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", "--mute-audio", f"--user-data-dir={profile}", "about:blank"]
    log = tempfile.TemporaryFile()
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=False,
                                preexec_fn=child_fds)
    except OSError as exc:
        for fd in (cmd_r, cmd_w, evt_r, evt_w):
            os.close(fd)
        raise BrowserUnavailable(f"{exe} could not be started ({exc})") from None
    os.close(cmd_r)
    os.close(evt_w)
    return proc, cmd_w, evt_r, log


def _collect(dt: _Devtools, check: PageCheck, session: str) -> None:
    for e in dt.events:
        if e.get("sessionId") not in (None, session):
            continue
        method, p = e["method"], e.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            check.console_errors.append(text[:300])
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            check.exceptions.append(str(d.get("exception", {}).get("description") or d.get("text"))[:300])
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            check.console_errors.append(str(p["entry"].get("text"))[:300])
        elif method == "Network.loadingFailed" and not p.get("canceled"):
            check.failed_requests.append(f"{p.get('errorText')} ({p.get('type')})")
        elif method == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not url.startswith(_LOCAL_SCHEMES):
                check.external_requests.append(url[:200])


def check_page(path: str | Path, screenshot: str | Path | None = None, width: int = 1280, height: int = 900,
               full_page: bool = True, timeout: float = 60.0, executable: str | None = None) -> PageCheck:
    """Load ``path`` in headless Chromium and report what it saw (see module docstring).

    Parameters
    ----------
    path : HTML file
    screenshot : PNG path, optional
        Where to save a screenshot (the whole page when ``full_page``, else the first viewport).
    width, height : int
        Viewport in CSS pixels.
    timeout : float, seconds
        For the page load.
    executable : str, optional
        Browser to use (default :func:`find_chromium`).

    Raises
    ------
    BrowserUnavailable
        No browser found, or it failed to start.
    """
    path = Path(path).resolve()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    exe = executable or find_chromium()
    if not exe:
        raise BrowserUnavailable("no chromium / chrome executable found (set ECGFOUNDRY_CHROMIUM or install "
                                 "Debian's `chromium` package)")
    url = path.as_uri()
    check = PageCheck(url)
    with tempfile.TemporaryDirectory(prefix="ecgfoundry-chromium-") as profile:
        proc, w, r, log = _launch(exe, profile)
        dt = _Devtools(proc, w, r)
        try:
            check.browser = dt.send("Browser.getVersion", timeout=timeout).get("product", exe)
            target = dt.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = dt.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                dt.send(f"{domain}.enable", session=session)
            dt.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                           "deviceScaleFactor": 1, "mobile": False}, session)
            dt.events.clear()
            dt.send("Page.navigate", {"url": url}, session)
            check.loaded = dt.wait_for("Page.loadEventFired", timeout)
            js = """Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null))).then(() =>
                JSON.stringify({title: document.title, text: document.body ? document.body.innerText.length : 0,
                  images: Array.from(document.images).map(i => ({src: i.src.slice(0, 48), complete: i.complete,
                    naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight}))}))"""
            res = dt.send("Runtime.evaluate", {"expression": js, "awaitPromise": True, "returnByValue": True},
                          session, timeout=timeout)
            if "exceptionDetails" in res:
                check.exceptions.append(str(res["exceptionDetails"].get("text")))
            else:
                info = json.loads(res["result"]["value"])
                check.title, check.text_length, check.images = info["title"], info["text"], info["images"]
            metrics = dt.send("Page.getLayoutMetrics", session=session)
            size = metrics.get("cssContentSize") or metrics.get("contentSize") or {}
            check.page_size = (int(size.get("width", 0)), int(size.get("height", 0)))
            if screenshot is not None:
                params: dict[str, Any] = {"format": "png"}
                if full_page and check.page_size[1] > 0:
                    params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": check.page_size[0],
                                                                    "height": check.page_size[1], "scale": 1})
                shot = dt.send("Page.captureScreenshot", params, session, timeout=timeout)
                screenshot = Path(screenshot)
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                screenshot.write_bytes(base64.b64decode(shot["data"]))
                check.screenshot = screenshot
            dt.wait_for("__settle__", 0.3)  # late console messages
            _collect(dt, check, session)
            try:
                dt.send("Browser.close", timeout=5)
            except (RuntimeError, TimeoutError, BrowserUnavailable):
                pass
        except BrowserUnavailable as exc:
            log.seek(0)
            tail = log.read()[-800:].decode(errors="replace")
            raise BrowserUnavailable(f"{exe}: {exc}; its output ends with: {tail}") from None
        finally:
            os.close(w)  # the browser exits when its command pipe closes
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            os.close(r)
            log.close()
    return check
