"""Real-browser tests: Debian's Chromium, driven by Playwright, against pytest-django's
live server.

One Chromium for the whole folder, a fresh browser context (cookies, storage) per test.
Every test fails when the browser logs a console error or a script throws an uncaught
error. Every page a test opens with `page.goto` is also checked where it lands (see
`check_page`): screenshots at a desktop's and a phone's width, kept in test-artifacts/,
and no horizontal scrolling on the phone.
"""

import contextlib
import os
import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Error,
    WebError,
    expect,
    sync_playwright,
)

BROWSER_TESTS_DIR = Path(__file__).resolve().parent
ARTIFACTS_DIR = BROWSER_TESTS_DIR.parents[1] / "test-artifacts"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Waits end as soon as the page shows the state; the ceiling only matters on a slow machine.
expect.set_options(timeout=10_000)


def find_chromium() -> str | None:
    """Debian's Chromium: the tests may not download a browser of their own."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Runs before `-m` deselects, so `-m "not browser"` leaves this whole folder out.
    for item in items:
        if BROWSER_TESTS_DIR in item.path.parents:
            item.add_marker(pytest.mark.browser)


# --- Browser errors: collected per test, fail the test ----------------------------------

BROWSER_ERRORS = pytest.StashKey["BrowserErrors"]()
# How Chromium logs a resource that answered with an error status.
FAILED_LOAD = re.compile(
    r"Failed to load resource: the server responded with a status of (?P<status>\d+)"
)
# How htmx logs a response it does not swap.
HTMX_ERROR_STATUS = re.compile(r"Response Status Error Code (?P<status>\d+) from")


class BrowserErrors:
    """Console errors and uncaught page errors of every context a test opens."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.contexts: list[BrowserContext] = []
        self.expected_statuses: set[int] = set()

    def expect_http_status(self, status: int) -> None:
        """Accept responses with `status` in this test. Chromium logs every resource that
        answers 4xx or 5xx as a console error (and htmx logs the ones it does not swap),
        and some answers are expected: the app returns 422 for a form with errors, on
        purpose."""
        self.expected_statuses.add(status)

    def watch(self, context: BrowserContext) -> None:
        self.contexts.append(context)
        context.on("console", self._on_console)
        context.on("weberror", self._on_web_error)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        failed_load = FAILED_LOAD.match(message.text) or HTMX_ERROR_STATUS.match(message.text)
        status = int(failed_load["status"]) if failed_load else None
        if status in self.expected_statuses:
            return
        where = url or (message.page.url if message.page else "?")
        self.messages.append(f"console error: {message.text} (at {where})")

    def _on_web_error(self, web_error: WebError) -> None:
        error, page_url = web_error.error, web_error.page.url if web_error.page else "?"
        self.messages.append(f"uncaught page error: {error.name}: {error.message} (on {page_url})")

    def take(self) -> list[str]:
        """Everything collected so far, after the browser's last pending events."""
        for context in self.contexts:
            for page in context.pages:
                # A round trip delivers the events sent before it; a page that is closing
                # or navigating has delivered its events already.
                with contextlib.suppress(Error):
                    page.evaluate("0")
        messages, self.messages = self.messages, []
        return messages


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Fail a test that left browser errors (a failure of the test, not of a teardown)."""
    collector = item.stash.get(BROWSER_ERRORS, None)
    try:
        result = yield
    except BaseException:
        # The test's own failure stays the reported one; the errors help explain it.
        _report_browser_errors(item, collector)
        raise
    errors = _report_browser_errors(item, collector)
    if errors:
        pytest.fail("The browser reported errors:\n" + "\n".join(errors), pytrace=False)
    return result


def _report_browser_errors(item: pytest.Item, collector: BrowserErrors | None) -> list[str]:
    errors = collector.take() if collector else []
    if errors:
        item.add_report_section("call", "browser errors", "\n".join(errors))
    return errors


# --- Browser, contexts, pages ------------------------------------------------------------


@pytest.fixture(scope="package")
def browser():
    """One headless Chromium for all the browser tests.

    Package-scoped rather than session-scoped: while Playwright runs, its event loop counts
    as running in the main thread, which would change how every test collected after this
    folder sees Django (async-unsafe checks, async_to_sync). The folder is one package, so
    this is still one browser per run.
    """
    chromium = find_chromium()
    if chromium is None:
        message = (
            "Browser tests need Debian's Chromium (chromium or chromium-browser on PATH); "
            "install the 'chromium' package, e.g. with scripts/ensure-chromium.sh."
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} CI must run the browser tests.", pytrace=False)
        pytest.skip(message)

    # Playwright's sync API runs an asyncio event loop in the main thread, so Django sees a
    # "running event loop" there and raises SynchronousOnlyOperation on the ORM calls the
    # tests make between browser steps (creating data, checking it). Those calls are plain
    # synchronous code and nothing else runs on that loop, so allowing them is safe; the
    # setting lasts only as long as Playwright does.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium_browser = playwright.chromium.launch(
                executable_path=chromium, headless=True, args=CHROMIUM_ARGS
            )
            yield chromium_browser
            chromium_browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_errors(request) -> BrowserErrors:
    collector = BrowserErrors()
    request.node.stash[BROWSER_ERRORS] = collector
    return collector


@pytest.fixture
def new_page(request, browser, live_server, browser_errors):
    """Open a page in a new browser context, e.g. new_page(viewport={"width": 390, ...}).

    Its `goto` checks every page it opens (`check_page`), so no test can forget to."""
    contexts: list[BrowserContext] = []
    shots = Screenshots(ARTIFACTS_DIR / safe_file_name(request.node.name))

    def open_page(**context_options):
        context = browser.new_context(base_url=live_server.url, **context_options)
        context.set_default_timeout(10_000)
        browser_errors.watch(context)
        contexts.append(context)
        page = context.new_page()
        goto = page.goto

        def checked_goto(url: str, **options):
            response = goto(url, **options)
            check_page(page, shots.next_name(url))
            return response

        page.goto = checked_goto
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    """A desktop-sized page in a fresh context, signed in as nobody."""
    return new_page(viewport={"width": 1280, "height": 900})


@pytest.fixture
def sign_in(live_server):
    """Give a page's context a session of `user`, as if they had used the login form
    (which test_sign_in.py does for real)."""

    def sign_in_as(page, user) -> None:
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
        )

    return sign_in_as


@pytest.fixture
def owner_page(page, sign_in, owner):
    """A page signed in as the owner of the "acme" organization."""
    sign_in(page, owner)
    return page


# --- Every page a test visits: screenshots at both widths, no sideways scrolling ---------

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
HORIZONTAL_OVERFLOW = """() => {
    const root = document.documentElement;
    if (root.scrollWidth <= root.clientWidth) return null;
    // Name the widest elements, to say what to fix.
    const wide = [...document.body.querySelectorAll("*")]
        .filter(el => el.checkVisibility())
        .filter(el => el.getBoundingClientRect().right > root.clientWidth + 0.5)
        .filter(el => !el.closest(".table-wrap") || el.matches(".table-wrap"))
        .slice(0, 5)
        .map(el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
             + (el.className && typeof el.className === "string"
                ? "." + el.className.trim().split(/\\s+/).join(".") : ""));
    return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, wide};
}"""


class Screenshots:
    """Names a test's screenshots in the order its pages were visited."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def next_name(self, url: str) -> Path:
        self.count += 1
        if self.count == 1 and self.folder.exists():
            shutil.rmtree(self.folder)  # the previous run's pictures of this test
        return self.folder / f"{self.count:02d}-{safe_file_name(url)}"


def safe_file_name(text: str) -> str:
    text = re.sub(r"^https?://[^/]+", "", text)
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:80] or "root"


def check_page(page, path: Path) -> None:
    """Screenshot the page as it is now at 1440x900 and at 390x844 (`<path>-1440.png`,
    `<path>-390.png`), and fail if the phone has to scroll sideways. The page's own
    viewport is restored afterwards. Console errors are checked for every page anyway
    (`BrowserErrors`); call this after a click that opens a new page, if it matters."""
    page.wait_for_load_state("load")
    original = page.viewport_size
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        for size in (DESKTOP, PHONE):
            page.set_viewport_size(size)
            page.screenshot(path=f"{path}-{size['width']}.png", full_page=True, caret="initial")
        overflow = page.evaluate(HORIZONTAL_OVERFLOW)
    finally:
        if original:
            page.set_viewport_size(original)
    assert overflow is None, (
        f"{page.url} scrolls sideways on a {PHONE['width']}px phone: {overflow}"
    )


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR


def wait_for_htmx(page) -> None:
    """Wait until htmx has finished its request, swap and settle.

    Right after a swap htmx settles the new elements' attributes for a few milliseconds;
    typing into a freshly swapped form during that window can be undone.
    """
    busy = page.locator(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")
    expect(busy).to_have_count(0)
