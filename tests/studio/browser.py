"""Driving the studio in a real browser: Debian's Chromium through Selenium (no browser is ever
downloaded), mouse strokes on the sketchpads, clicks, waits and screenshots. Used by the browser
test and by ``bench/studio.py`` (the README's screenshots and latencies)."""

from __future__ import annotations

import itertools
import math
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = ("chromedriver", "chromium-driver")
Stroke = Sequence[tuple[float, float]]  # points in [-1, 1]^2 of the drawing area, y down


def missing_browser() -> str | None:
    """Why no browser test can run here (None: it can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -r requirements.txt)"
    if not any(shutil.which(name) for name in CHROMIUM):
        return "no Chromium here: apt-get install chromium chromium-driver (Debian's packages)"
    if not any(shutil.which(name) for name in DRIVER):
        return "no chromedriver here: apt-get install chromium-driver"
    return None


def chromium(width: int = 1400, height: int = 1000):
    """A headless Chromium from the system's packages."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = next(shutil.which(n) for n in CHROMIUM if shutil.which(n))
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    service = Service(next(shutil.which(n) for n in DRIVER if shutil.which(n)))
    return webdriver.Chrome(service=service, options=options)


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def wait_for(condition: Callable[[], object], timeout: float = 60, what: str = "the page") -> object:
    """Poll ``condition`` until it is truthy; an AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def draw(driver, canvas_id: str, strokes: Sequence[Stroke], half: float = 125) -> None:
    """Draw ``strokes`` with the mouse on the sketchpad ``canvas_id`` (pressed, moved, released;
    ``half``: half the drawing area's side in screen pixels)."""
    from selenium.webdriver.common.action_chains import ActionChains

    canvas = wait_for(lambda: css(driver, f"#{canvas_id} canvas")[-1], what=f"the canvas #{canvas_id}")
    for stroke in strokes:
        points = [(round(x * half), round(y * half)) for x, y in stroke]
        chain = ActionChains(driver, duration=10).move_to_element_with_offset(canvas, *points[0]).click_and_hold()
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            chain = chain.move_by_offset(x1 - x0, y1 - y0)
        chain.release().perform()
    time.sleep(0.5)  # the sketchpad sends its value after the stroke


def click(driver, elem_id: str) -> None:
    wait_for(lambda: css(driver, f"#{elem_id}")[0], what=f"#{elem_id}").click()


def open_tab(driver, name: str) -> None:
    tab = wait_for(
        lambda: next(b for b in css(driver, "button[role='tab']") if b.text.strip() == name), what=f"the tab {name}"
    )
    tab.click()
    time.sleep(0.5)


def gallery_captions(driver, elem_id: str) -> list[str]:
    """The captions of the pictures a gallery shows."""
    return [c.text.strip() for c in css(driver, f"#{elem_id} .caption-label") if c.text.strip()] or [
        c.get_attribute("alt") or "" for c in css(driver, f"#{elem_id} img")
    ]


def text(driver, elem_id: str) -> str:
    found = css(driver, f"#{elem_id}")
    return found[0].text if found else ""


def answer(driver, elem_id: str, after: int, timeout: float = 120) -> str:
    """Wait for the message ``elem_id`` to carry an answer numbered above ``after`` (the studio
    numbers its answers) and return its text."""
    import re

    def newer() -> str | None:
        found = re.findall(r"answer (\d+):", text(driver, elem_id))
        return text(driver, elem_id) if found and int(found[-1]) > after else None

    return wait_for(newer, timeout, f"a new answer in #{elem_id}")  # type: ignore[return-value]


WATCH = """
const [button, message, after, done] = arguments;
const box = document.getElementById(message);
const stamp = {clicked: null, answered: null};
document.getElementById(button).addEventListener("click", () => { stamp.clicked = performance.now(); }, {once: true});
new MutationObserver((_, observer) => {
  const found = [...box.innerText.matchAll(/answer (\\d+):/g)];
  if (found.length && Number(found[found.length - 1][1]) > after) { stamp.answered = performance.now(); observer.disconnect(); }
}).observe(box, {subtree: true, childList: true, characterData: true});
window.__zooStamp = stamp;
done();
"""


def timed_click(driver, button: str, message: str, timeout: float = 120) -> tuple[float, str]:
    """Click ``button`` and wait for a new answer in ``message``: the milliseconds between the
    click and the answer as the page itself measured them (``performance.now()`` in the browser,
    so no WebDriver round trip is counted), and the answer's text."""
    before = answer_number(text(driver, message))
    driver.execute_async_script(WATCH, button, message, before)
    click(driver, button)
    reply = answer(driver, message, before, timeout)
    stamp = wait_for(
        lambda: driver.execute_script("const s = window.__zooStamp; return s.answered && s;"), 10, "the page's clock"
    )
    return stamp["answered"] - stamp["clicked"], reply


def answer_number(message: str) -> int:
    import re

    found = re.findall(r"answer (\d+):", message)
    return int(found[-1]) if found else 0


def screenshot(driver, path: Path, width: int = 1400) -> Path:
    """The whole page (the window is stretched to the page's height, then put back)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = driver.get_window_size()
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(int(height) + 140, 4000))
    time.sleep(0.5)
    driver.save_screenshot(str(path))
    driver.set_window_size(size["width"], size["height"])
    return path


def ellipse(cx: float, cy: float, rx: float, ry: float, points: int = 24) -> list[tuple[float, float]]:
    return [
        (cx + rx * math.cos(2 * math.pi * i / points), cy + ry * math.sin(2 * math.pi * i / points))
        for i in range(points + 1)
    ]


# Hand-drawn doodles as mouse strokes (coordinates in [-1, 1], y down): a cat's face and a house.
CAT = [
    ellipse(0.0, 0.15, 0.6, 0.5),  # head
    [(-0.5, -0.15), (-0.4, -0.75), (-0.1, -0.33)],  # left ear
    [(0.1, -0.33), (0.4, -0.75), (0.5, -0.15)],  # right ear
    ellipse(-0.22, 0.02, 0.06, 0.06, 8),  # eyes
    ellipse(0.22, 0.02, 0.06, 0.06, 8),
    [(-0.08, 0.25), (0.0, 0.32), (0.08, 0.25)],  # nose
    [(-0.15, 0.35), (-0.75, 0.25)],  # whiskers
    [(-0.15, 0.42), (-0.75, 0.5)],
    [(0.15, 0.35), (0.75, 0.25)],
    [(0.15, 0.42), (0.75, 0.5)],
]
HOUSE = [
    [(-0.55, -0.05), (-0.55, 0.7), (0.55, 0.7), (0.55, -0.05), (-0.55, -0.05)],  # walls
    [(-0.7, 0.0), (0.0, -0.65), (0.7, 0.0)],  # roof
    [(-0.12, 0.7), (-0.12, 0.3), (0.12, 0.3), (0.12, 0.7)],  # door
    [(0.25, 0.1), (0.45, 0.1), (0.45, 0.28), (0.25, 0.28), (0.25, 0.1)],  # window
]
STROKE = [[(-0.6, -0.4), (0.0, 0.5), (0.6, -0.4)], [(-0.5, 0.3), (0.5, 0.3)]]  # two strokes: a V and a bar
