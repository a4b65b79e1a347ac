"""The viewer in a real browser: Debian's chromium, headless, driven by selenium
through Debian's chromedriver (never a downloaded browser). It opens the viewer
of a subject on a live server, sees the graph drawn, clicks a neighbour and sees
the graph grow, and the explanation beside it. With CREDGRAPH_VIEWER_SCREENSHOT
set, it saves a screenshot there (docs/viewer.png was made so)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from credgraph.api.app import create_app
from tests.api.conftest import World

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(world.settings, gateway=world.gw)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,900",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def drawn(driver: webdriver.Chrome) -> int:
    return int(
        driver.execute_script("return +(document.getElementById('graph').dataset.nodes || 0)")
    )


def test_viewer_draws_expands_and_explains(
    server: str, world: World, browser: webdriver.Chrome
) -> None:
    url = f"{server}/ui/subjects/{world.explained}?depth=1"
    browser.get(url)
    # No key yet: the page asks for one and draws nothing.
    form = browser.find_element(By.ID, "keyform")
    assert form.is_displayed() and drawn(browser) == 0
    browser.find_element(By.ID, "key").send_keys(world.keys["viewer"])
    form.submit()
    wait = WebDriverWait(browser, 30)
    try:
        wait.until(lambda d: drawn(d) > 1)
    except Exception:
        logs = browser.get_log("browser")
        status = browser.find_element(By.ID, "status").text
        raise AssertionError(f"nothing drawn; status {status!r}; console {logs}") from None
    before = drawn(browser)
    shapes = browser.find_elements(By.CSS_SELECTOR, "#graph .node")
    assert len(shapes) == before
    fills = {s.get_attribute("fill") for s in shapes}
    assert any(f.startswith("hsl(") for f in fills)  # coloured by risk
    # the explanation of the subject beside the graph
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#detail table"))
    assert "trust score" in browser.find_element(By.ID, "detail").text
    # the subject has network contributions: its explanation lists them, paths as text
    wait.until(lambda d: d.find_elements(By.ID, "contributions"))
    why = browser.find_element(By.ID, "contributions").text
    assert world.explained in why and "[object" not in why
    # click a neighbour that is not expanded yet: the graph grows around it
    grew = False
    # (the drawing is redrawn on every change: work with keys, not element handles)
    keys = browser.execute_script(
        "return [...document.querySelectorAll(\"#graph .node[data-expanded='false']\")]"
        ".map((e) => e.dataset.key)"
    )
    assert keys, "no node left to expand"
    for key in keys:
        try:
            # a real click at the node's place (another node on top of it: try the next)
            browser.find_element(By.CSS_SELECTOR, f"#graph .node[data-key='{key}']").click()
            WebDriverWait(browser, 10).until(lambda d: drawn(d) > before)
            grew = True
            break
        except Exception:  # noqa: BLE001 - a leaf: nothing new behind it, try another
            continue
    assert grew, "clicking a node did not expand the graph"
    selected = browser.find_elements(By.CSS_SELECTOR, "#graph .node.selected")
    assert len(selected) == 1
    shot = os.environ.get("CREDGRAPH_VIEWER_SCREENSHOT")
    if shot:
        time.sleep(1)
        browser.save_screenshot(shot)
