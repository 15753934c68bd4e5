#!/usr/bin/env python3
"""Open an s3audit HTML report in headless Chromium and report what a reader would meet.

Drives Chromium through the DevTools protocol over a pipe (--remote-debugging-pipe: no
port, no websocket, Python's standard library only). Loads the report from file://,
records every network request, console error, uncaught exception and dialog, works the
findings filters, sort buttons and detail toggles, checks the print layout, and writes a
screenshot (and optionally a PDF). Prints one JSON object of observations on stdout; the
caller (tests/rules_offline.rs, scripts/demo) decides what they must be.

Exit status: 0 when the page loaded with no request but its own, no console error, no
exception and no dialog; 1 when any of those happened (the JSON says which); 2 when the
browser could not be driven at all.

    browser_check.py REPORT.html [--screenshot OUT.png] [--pdf OUT.pdf] [--search TEXT]...
"""

import argparse
import base64
import fcntl
import json
import os
import pathlib
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

# What the machine running the tests allows (no internet; no background chatter, which
# would otherwise flood the log with refused connections).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]

WIDTH = 1280


class BrowserError(Exception):
    pass


class Cdp:
    """A DevTools protocol client over Chromium's pipe: NUL-separated JSON messages, the
    browser reading commands on its fd 3 and writing answers and events on its fd 4."""

    def __init__(self, chromium, user_data_dir, timeout):
        self.timeout = timeout
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_fds():
            # In the child: its fd 3 reads our commands, its fd 4 carries its answers.
            # Duplicated out of the way first, so neither target is overwritten early.
            r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(r, 3)
            os.dup2(w, 4)
            os.close(r)
            os.close(w)

        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
            preexec_fn=wire_fds,
            # Python's own descriptors are not inherited (PEP 446); 3 and 4 are.
            close_fds=False,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._write_lock = threading.Lock()
        self._answers = {}
        self._answered = threading.Condition()
        self.events = queue.Queue()
        self._closed = False
        self.on_event = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._answered:
                    self._closed = True
                    self._answered.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._answered:
                        self._answers[msg["id"]] = msg
                        self._answered.notify_all()
                else:
                    if self.on_event:
                        self.on_event(msg)
                    self.events.put(msg)

    def send(self, method, params=None, session=None, wait=True):
        with self._write_lock:
            self._next_id += 1
            msg_id = self._next_id
            msg = {"id": msg_id, "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        if not wait:
            return None
        deadline = time.monotonic() + self.timeout
        with self._answered:
            while msg_id not in self._answers:
                if self._closed:
                    raise BrowserError(f"the browser exited during {method}: {self.browser_log()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError(f"no answer to {method} within {self.timeout} s")
                self._answered.wait(left)
            answer = self._answers.pop(msg_id)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def wait_event(self, method, session):
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no {method} within {self.timeout} s")
            try:
                msg = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if msg.get("method") == method and msg.get("sessionId") == session:
                return msg

    def browser_log(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]

    def close(self):
        try:
            self.send("Browser.close", wait=False)
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass


class Page:
    def __init__(self, cdp, session):
        self.cdp = cdp
        self.session = session

    def send(self, method, params=None):
        return self.cdp.send(method, params, session=self.session)

    def js(self, expression):
        """Evaluates an expression (awaiting a promise) and returns its value as JSON."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"script failed: {text}\n{expression}")
        return result["result"].get("value")

    def settle(self):
        self.js("new Promise(r => requestAnimationFrame(() => setTimeout(r, 30)))")


# Page-side helpers, installed once after load. They drive the page as a reader would:
# set a select and fire its change event, type into the search box, click buttons.
HELPERS = r"""
window.__check = {
  bodies: () => Array.from(document.querySelectorAll('#findings-table tbody.finding')),
  visible: () => __check.bodies().filter(b => !b.hidden && getComputedStyle(b).display !== 'none'),
  select: (id, value) => {
    const s = document.getElementById(id);
    s.value = value;
    if (s.value !== value) throw new Error('no option ' + JSON.stringify(value) + ' in #' + id);
    s.dispatchEvent(new Event('change', {bubbles: true}));
  },
  type: (value) => {
    const i = document.getElementById('f-text');
    i.value = value;
    i.dispatchEvent(new Event('input', {bubbles: true}));
  },
  options: (id) => Array.from(document.getElementById(id).options).map(o => o.value).filter(v => v !== ''),
  shown: (b) => getComputedStyle(b.querySelector('tr.detail')).display !== 'none',
  // Chooses each option of a filter in turn: how many rows show, or how many shown rows
  // do not carry the value (a filter that shows the wrong rows).
  sweep: (key) => {
    const id = 'f-' + key, counts = {};
    for (const value of __check.options(id)) {
      __check.select(id, value);
      const shown = __check.visible();
      const wrong = shown.filter(b => b.dataset[key] !== value).length;
      counts[value] = wrong ? wrong + ' shown rows do not match' : shown.length;
    }
    __check.select(id, '');
    return counts;
  },
  // Two filters at once: every status with every severity.
  pairs: () => {
    const pairs = {};
    for (const status of __check.options('f-status')) {
      for (const severity of __check.options('f-severity')) {
        __check.select('f-status', status);
        __check.select('f-severity', severity);
        pairs[status + '/' + severity] = __check.visible().length;
      }
    }
    return pairs;
  },
};
true
"""


def check_filters(page, searches):
    out = {"total": page.js("__check.bodies().length"), "counts": {}}
    for key in ("status", "severity", "rule", "bucket"):
        out["counts"][key] = page.js(f"__check.sweep({json.dumps(key)})")
    out["pairs"] = page.js("__check.pairs()")
    # What a filtered view says on screen and in print.
    out["count_text"] = page.js("document.getElementById('count').textContent")
    out["print_note"] = page.js(
        "(n => n.hidden ? null : n.textContent)(document.getElementById('print-filter'))"
    )
    page.js("document.getElementById('f-reset').click()")
    page.settle()  # the form resets its fields after the click; the page filters then
    out["after_reset"] = page.js("__check.visible().length")
    out["search"] = {}
    for text in searches:
        page.js(f"__check.type({json.dumps(text)})")
        out["search"][text] = page.js("__check.visible().length")
    page.js("__check.type('')")
    out["no_match_shown_when_empty"] = page.js(
        "(__check.type('\u2603 no finding says this \u2603'), "
        "!document.getElementById('no-match').hidden)"
    )
    page.js("__check.type('')")
    return out


def check_sorting(page):
    out = {}
    attr = {"status": "statusRank", "severity": "severityRank", "rule": "rule", "bucket": "bucket"}
    for key, data in attr.items():
        runs = []
        for _ in range(2):
            page.js(f"document.querySelector('button.sort[data-sort={key}]').click()")
            runs.append(
                page.js(
                    f"__check.bodies().map(b => b.dataset.{data})"
                )
            )
        out[key] = {
            "asc": runs[0],
            "desc": runs[1],
            "aria": page.js(
                f"document.querySelector('button.sort[data-sort={key}]').parentNode.getAttribute('aria-sort')"
            ),
        }
    return out


def check_details(page):
    out = {}
    out["closed_at_start"] = page.js("__check.bodies().filter(__check.shown).length")
    page.js("__check.bodies()[0].querySelector('button.toggle').click()")
    out["first_opens"] = page.js(
        "(b => __check.shown(b) && b.querySelector('button.toggle').getAttribute('aria-expanded') === 'true')"
        "(__check.bodies()[0])"
    )
    page.js("__check.bodies()[0].querySelector('button.toggle').click()")
    out["first_closes"] = page.js("!__check.shown(__check.bodies()[0])")
    page.js("document.getElementById('expand-all').click()")
    out["expanded"] = page.js("__check.bodies().filter(__check.shown).length")
    return out


def check_print(page):
    """The print layout: every finding's details shown, nothing clipped, no controls."""
    page.send("Emulation.setEmulatedMedia", {"media": "print"})
    page.settle()
    out = {
        "details_shown": page.js("__check.bodies().filter(__check.shown).length"),
        "controls_shown": page.js(
            "Array.from(document.querySelectorAll('.filters, .toc, button.toggle'))"
            ".filter(e => getComputedStyle(e).display !== 'none').length"
        ),
        # An element whose content is cut off: taller (or wider) than its box with overflow
        # hidden or scrolling, which a printed page cannot scroll.
        "clipped": page.js(
            "Array.from(document.querySelectorAll('body *')).filter(e => {"
            " const s = getComputedStyle(e);"
            " if (s.display === 'none' || e.closest('.sr')) return false;"
            " const y = ['hidden','auto','scroll','clip'].includes(s.overflowY) && e.scrollHeight > e.clientHeight + 1;"
            " const x = ['hidden','auto','scroll','clip'].includes(s.overflowX) && e.scrollWidth > e.clientWidth + 1;"
            " return x || y; }).map(e => e.tagName + '.' + e.className).slice(0, 20)"
        ),
    }
    page.send("Emulation.setEmulatedMedia", {"media": ""})
    return out


def screenshot(page, path):
    metrics = page.send("Page.getLayoutMetrics")
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    height = int(size["height"]) + 1
    shot = page.send(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1},
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return {"path": str(path), "width": WIDTH, "height": height}


def run(args, cdp):
    observed = {"requests": [], "console": [], "exceptions": [], "dialogs": []}

    target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    page = Page(cdp, session)

    def on_event(msg):
        if msg.get("sessionId") != session:
            return
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Network.requestWillBeSent":
            observed["requests"].append(params["request"]["url"])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            observed["console"].append(f"console.{params['type']}: {text}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            observed["console"].append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            observed["exceptions"].append(
                details.get("exception", {}).get("description") or details.get("text")
            )
        elif method == "Page.javascriptDialogOpening":
            observed["dialogs"].append(f"{params.get('type')}: {params.get('message')}")
            # Dismissed at once (from the reader thread), or the page would block.
            cdp.send("Page.handleJavaScriptDialog", {"accept": False}, session=session, wait=False)

    cdp.on_event = on_event
    for domain in ("Page", "Runtime", "Network", "Log"):
        page.send(f"{domain}.enable")
    page.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    )
    url = args.report.resolve().as_uri()
    started = time.monotonic()
    page.send("Page.navigate", {"url": url})
    cdp.wait_event("Page.loadEventFired", session)
    page.settle()
    observed["load_seconds"] = round(time.monotonic() - started, 3)
    observed["url"] = url

    page.js(HELPERS)
    observed["page"] = page.js(
        "({"
        " title: document.title,"
        " js: document.documentElement.classList.contains('js'),"
        " scripts: document.scripts.length,"
        " inline_handlers: Array.from(document.querySelectorAll('*')).filter(e =>"
        "   Array.from(e.attributes).some(a => a.name.toLowerCase().startsWith('on'))).length,"
        " foreign_elements: document.querySelectorAll('img, iframe, object, embed, link, base, form[action], svg script, svg foreignObject').length,"
        " external_urls: Array.from(document.querySelectorAll('[src], [href]')).map(e => e.getAttribute('src') || e.getAttribute('href')).filter(u => !u.startsWith('#')),"
        " sections: Array.from(document.querySelectorAll('main > section')).map(s => s.id),"
        " bars: document.querySelectorAll('svg.bar').length,"
        " keys: document.querySelectorAll('table.keys tbody tr').length,"
        " gaps: Array.from(document.querySelectorAll('.gaps li')).map(li => li.textContent),"
        " embedded_buckets: JSON.parse(document.getElementById('report-data').textContent).buckets.map(b => b.name),"
        " bucket_cells: Array.from(document.querySelectorAll('table.buckets td.name')).map(td => td.firstChild.textContent),"
        "})"
    )

    # The screenshot a person looks at: the report as it opens, the first finding's
    # details open to show evidence and remediation.
    if args.screenshot:
        page.js("__check.bodies()[0] && __check.bodies()[0].querySelector('button.toggle').click()")
        page.settle()
        observed["screenshot"] = screenshot(page, args.screenshot)
        page.js("__check.bodies()[0] && __check.bodies()[0].querySelector('button.toggle').click()")

    observed["filters"] = check_filters(page, args.search)
    observed["sort"] = check_sorting(page)
    observed["details"] = check_details(page)
    # Everything expanded: the text a reader can see, hostile strings included.
    observed["text"] = page.js("document.body.innerText")
    page.js("document.getElementById('expand-all').click()")  # collapse again for print
    observed["print"] = check_print(page)
    if args.pdf:
        pdf = page.send("Page.printToPDF", {"printBackground": False, "preferCSSPageSize": True})
        args.pdf.parent.mkdir(parents=True, exist_ok=True)
        args.pdf.write_bytes(base64.b64decode(pdf["data"]))
        observed["pdf"] = str(args.pdf)
    # Late requests (anything the page started after load) have had their chance.
    page.settle()
    observed["seconds"] = round(time.monotonic() - started, 3)
    return observed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=pathlib.Path)
    parser.add_argument("--screenshot", type=pathlib.Path)
    parser.add_argument("--pdf", type=pathlib.Path)
    parser.add_argument("--search", action="append", default=[], help="text to type into the search box")
    parser.add_argument("--chromium", default=os.environ.get("S3AUDIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    if not args.report.is_file():
        print(f"browser_check: error: {args.report} is not a file", file=sys.stderr)
        return 2
    if not (os.path.isfile(args.chromium) and os.access(args.chromium, os.X_OK)):
        print(f"browser_check: error: chromium not found at {args.chromium}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="s3audit-chromium-") as profile:
        cdp = Cdp(args.chromium, profile, args.timeout)
        try:
            observed = run(args, cdp)
        except BrowserError as e:
            print(f"browser_check: error: {e}", file=sys.stderr)
            log = cdp.browser_log()
            if log:
                print(f"browser_check: chromium said:\n{log}", file=sys.stderr)
            return 2
        finally:
            cdp.close()

    json.dump(observed, sys.stdout, indent=1)
    sys.stdout.write("\n")
    own = [u for u in observed["requests"] if u != observed["url"]]
    return 1 if (own or observed["console"] or observed["exceptions"] or observed["dialogs"]) else 0


if __name__ == "__main__":
    sys.exit(main())
