"""The API docs in a real headless Chromium: offline, complete, and "Try it out" works."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping

import pytest
from playwright.sync_api import Browser, Locator, Page

from tests.browser.support import ARTIFACTS, PageWatch
from tests.helpers import LiveServer

METHODS = ["AddDevices", "Create", "Delete", "Get", "List", "ListDevices", "SetDeviceState", "SetState"]


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 2000})
    yield context.new_page()
    context.close()


def test_swagger_ui_lists_every_method_and_loads_nothing_from_outside(page: Page, live_server: LiveServer) -> None:
    watch = PageWatch(page)
    page.goto(f"{live_server.url}/docs", wait_until="networkidle")
    for method in METHODS:
        operation = page.locator(f"#operations-Rollout-Rollout_{method}")
        operation.wait_for()
        assert f"/v1/Rollout.{method}" in operation.inner_text()
    assert "Returns info about a particular rollout." in page.locator("#operations-Rollout-Rollout_Get").inner_text()
    assert "Creates new rollout." in page.locator("#operations-Rollout-Rollout_Create").inner_text()
    watch.assert_clean(live_server.url)


def test_try_it_out_creates_a_rollout_and_lists_it(page: Page, live_server: LiveServer) -> None:
    watch = PageWatch(page)
    page.goto(f"{live_server.url}/docs", wait_until="networkidle")
    project = f"//api.cesanta.com/project_{uuid.uuid4().hex[:8]}"
    _authorize(page, live_server.key("//browser-tests", "admin"))

    create = _expand(page, "Create")
    create_args = {"projectid": project, "firmwareid": "fw-9", "deviceFilter": "room=Hall", "name": "Browser rollout"}
    answer = _try_it_out(create, create_args)
    assert answer["code"] == "200"
    rollout_id = json.loads(answer["body"])["id"]
    ARTIFACTS.mkdir(exist_ok=True)
    create.screenshot(path=str(ARTIFACTS / "docs-create-operation.png"))

    listing = _expand(page, "List")
    answer = _try_it_out(listing, {"projectid": project})
    assert answer["code"] == "200"
    assert [item["id"] for item in json.loads(answer["body"])] == [rollout_id]
    assert "Browser rollout" in answer["body"]
    watch.assert_clean(live_server.url)


def test_redoc_renders_offline(page: Page, live_server: LiveServer) -> None:
    watch = PageWatch(page)
    page.goto(f"{live_server.url}/redoc", wait_until="networkidle")
    page.get_by_role("heading", name="Creates new rollout.").first.wait_for()
    watch.assert_clean(live_server.url)


def _authorize(page: Page, key: str) -> None:
    """The docs' Authorize button: the key then goes with every "Try it out" request."""
    page.locator(".auth-wrapper .authorize").click()
    dialog = page.locator(".modal-ux")
    dialog.locator("input").first.fill(key)
    dialog.locator("button.authorize").click()
    dialog.locator("button.close-modal").click()


def _expand(page: Page, method: str) -> Locator:
    operation = page.locator(f"#operations-Rollout-Rollout_{method}")
    operation.locator(".opblock-summary").first.click()
    operation.locator(".try-out__btn").wait_for()
    return operation


def _try_it_out(operation: Locator, body: Mapping[str, object]) -> dict[str, str]:
    operation.locator(".try-out__btn").click()
    editor = operation.locator("textarea.body-param__text")
    editor.fill(json.dumps(body))
    operation.locator(".execute").click()
    response = operation.locator(".responses-wrapper .live-responses-table .response").first
    response.wait_for()
    code = response.locator(".response-col_status").inner_text().strip()
    text = response.locator(".response-col_description pre.microlight").first.inner_text()
    return {"code": code, "body": text}
