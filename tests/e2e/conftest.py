"""Browser tests: Playwright drives Debian's Chromium (/usr/bin/chromium), headless."""

import os
import shutil

import pytest

CHROMIUM = os.environ.get("SUBMETER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/install --test (installs Debian's chromium)"
        )
    # Playwright's sync API runs an event loop in this thread while the browser is open (so the
    # fixture is per module: other tests may need asyncio.run); fixtures that touch the
    # database run here too.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(
        locale="zh-CN", accept_downloads=True, viewport={"width": 1400, "height": 900}
    )
    page = context.new_page()
    yield page
    context.close()
