"""What the browser suites share: the Chromium they drive, where screenshots go, and a watch on a page's requests
and errors. The `browser` fixture is in tests/browser/conftest.py."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import ConsoleMessage, Page, Request

from tests.helpers import ROOT

CHROMIUM = "/usr/bin/chromium"
# The flags keep Chromium from phoning home; a request to anywhere but our server fails the test.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "artifacts"


class PageWatch:
    """Every request, failure and console error a page produced."""

    def __init__(self, page: Page) -> None:
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("requestfailed", lambda request: self.failed.append(_describe(request)))
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def assert_clean(self, origin: str) -> None:
        off_origin = [url for url in self.requests if not same_origin(url, origin)]
        assert off_origin == [], "requests left the server's origin"
        assert self.failed == []
        assert self.errors == []


def same_origin(url: str, origin: str) -> bool:
    """Whether the page's request for `url` stays on `origin` (data: and the like never leave the browser)."""
    if url.startswith(("data:", "blob:", "about:")):
        return True
    parts, base = urlsplit(url), urlsplit(origin)
    return (parts.scheme, parts.netloc) == (base.scheme, base.netloc)


def _describe(request: Request) -> str:
    return f"{request.method} {request.url}: {request.failure}"
