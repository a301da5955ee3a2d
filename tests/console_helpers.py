"""Debian's headless Chromium for every browser test: one launch, driven over the DevTools protocol (``chromium()``:
the console's walks, the chat example's tabs, the console's load timing), or run once on a URL (``run_headless``:
``--dump-dom``, ``--screenshot``).

A page is driven as a person would: find a control by its label or its text, type, press, wait for what
appears. Screenshots are saved where the test says (and copied for the README when CONSOLE_SCREENS is set).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import websockets

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NEEDS_CHROMIUM = "needs Debian's chromium package (apt-get install chromium)"
# Headless on a shared CI machine: no sandbox (containers run as root), no GPU, /tmp rather than a small /dev/shm.
HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def run_headless(url: str, *extra: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Chromium run once on ``url`` with ``extra`` flags (``--dump-dom``, ``--screenshot=…``); its output kept."""
    assert CHROMIUM is not None, NEEDS_CHROMIUM
    return subprocess.run([CHROMIUM, *HEADLESS, *extra, url], capture_output=True, text=True, timeout=timeout)


# In-page helpers: controls found by their accessible label or their text, as a person finds them.
_HELPERS = r"""
window.__t = {
  visible(el) { return !!(el && (el.offsetWidth || el.offsetHeight || el.getClientRects().length)); },
  byLabel(text, root) {
    root = root || document;
    for (const label of root.querySelectorAll('label')) {
      if (label.textContent.replace(/\s+/g, ' ').trim().startsWith(text)) {
        const el = label.control || label.querySelector('input,select,textarea');
        if (el && this.visible(el)) return el;
      }
    }
    for (const el of root.querySelectorAll('[aria-label]')) if (el.getAttribute('aria-label') === text && this.visible(el)) return el;
    return null;
  },
  byText(text, selector, root) {
    root = root || document;
    for (const el of root.querySelectorAll(selector || 'button, a')) {
      if (el.textContent.trim() === text && this.visible(el)) return el;
    }
    return null;
  },
  // performance.now() when ready() first holds, checked on every change to the page (for load timings).
  when(ready) {
    return new Promise((resolve) => {
      const check = () => { try { if (ready()) { observer.disconnect(); resolve(performance.now()); return true; } } catch (e) {} return false; };
      const observer = new MutationObserver(check);
      if (!check()) observer.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
    });
  },
  fill(el, value) {
    const proto = el.tagName === 'TEXTAREA' ? HTMLTextAreaElement.prototype :
      el.tagName === 'SELECT' ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, value);
    el.dispatchEvent(new Event('input', {bubbles: true}));
    el.dispatchEvent(new Event('change', {bubbles: true}));
    return true;
  },
};
"""


class Page:
    """One tab: evaluate, wait for, type into and press what a person sees."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        return await self.browser.call(method, self.session, **params)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    async def until(self, expression: str, timeout: float = 20.0) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            value = await self.evaluate(
                f"(() => {{ try {{ return {expression}; }} catch (e) {{ return null; }} }})()"
            )
            if value:
                return value
            await asyncio.sleep(0.05)
        errors = await self.evaluate(
            "Array.from(document.querySelectorAll('.error')).map(e => e.textContent)"
        )
        shown = (await self.text("main"))[:1500]
        raise AssertionError(f"never true in the page: {expression}; errors shown: {errors}; page: {shown}")

    async def goto(self, url: str) -> None:
        await self.call("Page.navigate", url=url)
        await self.until("document.readyState === 'complete' && !!window.__t")

    async def fill(self, label: str, value: str) -> None:
        found = await self.until(
            f"__t.byLabel({json.dumps(label)}) && __t.fill(__t.byLabel({json.dumps(label)}), {json.dumps(value)})"
        )
        assert found

    async def press(self, text: str, selector: str = "button, a") -> None:
        await self.until(
            f"__t.byText({json.dumps(text)}, {json.dumps(selector)}) && !__t.byText({json.dumps(text)}, {json.dumps(selector)}).disabled"
        )
        await self.evaluate(f"__t.byText({json.dumps(text)}, {json.dumps(selector)}).click(), true")

    async def key(self, key: str, code: str, key_code: int) -> None:
        """A real key press (keyDown and keyUp), as the keyboard sends it."""
        for kind in ("rawKeyDown", "keyUp"):
            await self.call(
                "Input.dispatchKeyEvent", type=kind, key=key, code=code, windowsVirtualKeyCode=key_code
            )
        if key == "Enter":
            await self.call("Input.dispatchKeyEvent", type="char", text="\r", key=key, code=code)

    async def focused(self) -> str:
        return str(
            await self.evaluate(
                "document.activeElement?.id || document.activeElement?.textContent.trim() || ''"
            )
        )

    async def click(self, selector: str) -> None:
        await self.until(f"!!document.querySelector({json.dumps(selector)})")
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).click(), true")

    async def check(self, label: str) -> None:
        await self.until(f"!!__t.byLabel({json.dumps(label)})")
        await self.evaluate(
            f"(() => {{ const el = __t.byLabel({json.dumps(label)}); if (!el.checked) el.click(); return true; }})()"
        )

    async def text(self, selector: str = "main") -> str:
        return str(await self.evaluate(f"document.querySelector({json.dumps(selector)})?.innerText || ''"))

    async def unlabelled(self) -> list[str]:
        """The form controls on the page that have no accessible name (a label, aria-label or aria-labelledby)."""
        found = await self.evaluate(
            "[...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]"
            ".filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')"
            " && !el.getAttribute('aria-labelledby') && !(el.tagName === 'BUTTON' && el.textContent.trim()))"
            ".map(el => el.outerHTML.slice(0, 120))"
        )
        return list(found)

    async def screenshot(self, path: Path) -> None:
        await self.evaluate("document.activeElement && document.activeElement.blur(), true")
        size = (await self.call("Page.getLayoutMetrics"))["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 3000), "scale": 1}
        shot = await self.call("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        screens = os.environ.get("CONSOLE_SCREENS")
        if screens:
            Path(screens).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(screens) / path.name)


class Browser:
    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._ids = itertools.count(1)
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for raw in self._connection:
            message = json.loads(raw)
            future = self._answers.pop(message.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(message)
            elif "method" in message:
                self.events.append(message)

    async def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        message: dict[str, Any] = {"id": call_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._answers[call_id] = future
        await self._connection.send(json.dumps(message))
        answer = await asyncio.wait_for(future, 60)
        if "error" in answer:
            raise AssertionError(f"{method}: {answer['error']}")
        return dict(answer.get("result") or {})

    async def page(self, width: int = 1400, height: int = 900) -> Page:
        target = (await self.call("Target.createTarget", url="about:blank"))["targetId"]
        session = str((await self.call("Target.attachToTarget", targetId=target, flatten=True))["sessionId"])
        page = Page(self, session)
        await page.call("Page.enable")
        await page.call("Runtime.enable")
        await page.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        await page.call("Page.addScriptToEvaluateOnNewDocument", source=_HELPERS)
        return page

    async def close(self) -> None:
        self._reader.cancel()


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium of its own (a fresh profile), closed on the way out."""
    assert CHROMIUM is not None, NEEDS_CHROMIUM
    with tempfile.TemporaryDirectory() as profile:
        process = subprocess.Popen(
            [CHROMIUM, *HEADLESS, "--hide-scrollbars", "--font-render-hinting=none",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        drain: threading.Thread | None = None
        try:
            assert process.stderr is not None
            endpoint = ""
            for line in process.stderr:
                found = re.search(r"DevTools listening on (ws://\S+)", line)
                if found:
                    endpoint = found.group(1)
                    break
            assert endpoint, "Chromium did not start its DevTools endpoint"
            drain = threading.Thread(target=process.stderr.read, daemon=True)  # never block on a full pipe
            drain.start()
            async with websockets.connect(endpoint, max_size=None) as connection:
                browser = Browser(connection)
                try:
                    yield browser
                finally:
                    await browser.close()
        finally:
            process.kill()
            process.wait(timeout=20)
            if drain is not None:
                drain.join(timeout=10)
            if process.stderr is not None:
                process.stderr.close()
