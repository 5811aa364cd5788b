"""The rollout dashboard (/ui/) in a real headless Chromium: what it draws is what the API answers, the key never
travels in an address, and nothing is fetched from anywhere but the server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Route, ViewportSize, expect

from tests.browser.support import ARTIFACTS, PageWatch, same_origin
from tests.helpers import ROOT, LiveServer

DEVICE_STATES = ["init", "started", "succeeded", "failed"]
# The viewport of the screenshot the README shows (docs/dashboard.png is a copy of the list page's).
VIEWPORT: ViewportSize = {"width": 1200, "height": 800}
# The page polls every 5 s; a change must show within two polls.
UPDATE_TIMEOUT_MS = 12_000
# Of a rollout's 12 devices, how many are claimed (started), and how many of those then succeed (two fail).
CLAIMS_AND_SUCCESSES = {"inProgress": (6, 2), "paused": (9, 5), "finished": (11, 8)}


@dataclass(frozen=True)
class Fleet:
    """Rollouts in every rollout state, each with devices in every device state, made through the API."""

    server: LiveServer
    key: str
    project: str
    rollouts: dict[str, str]  # rollout state -> rollout id

    def api(self, method: str, **args: Any) -> Any:
        return api(self.server, self.key, method, projectid=self.project, **args)


def api(server: LiveServer, key: str, method: str, **args: Any) -> Any:
    """One method on its own route, as the page calls it; insists on success."""
    response = httpx.post(
        f"{server.url}/v1/Rollout.{method}", json=args, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json() if response.content else None


@pytest.fixture(scope="module")
def fleet(live_server: LiveServer) -> Fleet:
    key = live_server.key("//dashboard-tests", "admin")
    project = f"//api.cesanta.com/project_{uuid.uuid4().hex[:8]}"
    fleet = Fleet(live_server, key, project, {})
    for state, name in [
        ("init", "Thermostats 2.2 (staged)"),
        ("inProgress", "Cameras 5.1"),
        ("paused", "Door locks 3.0"),
        ("finished", "Sensors 1.9"),
    ]:
        fleet.rollouts[state] = _rollout_in(fleet, state, name)
    return fleet


def _rollout_in(fleet: Fleet, state: str, name: str) -> str:
    """A rollout in `state` whose devices are in every device state (init only for one still in init). The paused
    one pauses by itself, at its second failure, so that it has a reason."""
    rollout = fleet.api(
        "Create",
        firmwareid=f"fw-{name.split()[-1].strip('()')}",
        deviceFilter="site=Lab",
        name=name,
        failureThreshold={"percent": 60, "minReported": 20},
        maxFailures=1 if state == "paused" else 50,
        deviceTimeout=3600,
    )["id"]
    devices = [f"{name.split()[0].lower()}-{n:02d}" for n in range(12)]
    fleet.api("AddDevices", rolloutid=rollout, devices=devices)
    if state == "init":
        return str(rollout)
    fleet.api("SetState", rolloutid=rollout, state="inProgress")
    claims, successes = CLAIMS_AND_SUCCESSES[state]
    claimed = [device["id"] for device in fleet.api("ClaimDevices", rolloutid=rollout, limit=claims)]
    # Of those started, some succeed, two fail with a reason, the rest stay started; the others stay in init.
    for device in claimed[:successes]:
        fleet.api("SetDeviceState", rolloutid=rollout, deviceid=device, state="succeeded")
    failing = claimed[successes : successes + 2]
    for device, reason in zip(failing, ["flash write error", "battery too low"], strict=True):
        fleet.api("SetDeviceState", rolloutid=rollout, deviceid=device, state="failed", reason=reason)
    if state != "inProgress":
        fleet.api("SetState", rolloutid=rollout, state=state)
    return str(rollout)


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """A fresh browser profile in which every address but the server's is unreachable."""
    context = browser.new_context(viewport=VIEWPORT)

    def only_the_server(route: Route) -> None:
        if same_origin(route.request.url, live_server.url):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    context.route("**/*", only_the_server)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def test_the_list_draws_each_rollouts_bar_and_counts_as_the_api_answers_them(page: Page, fleet: Fleet) -> None:
    watch = PageWatch(page)
    page.goto(f"{fleet.server.url}/ui/#key={fleet.key}")
    _show_project(page, fleet.project)
    for state, rollout_id in fleet.rollouts.items():
        answer = fleet.api("Get", rolloutid=rollout_id)
        assert answer["state"] == state
        row = page.locator(f'tr[data-rollout-id="{rollout_id}"]')
        expect(row).to_be_visible()
        assert row.locator("th a").inner_text() == answer["name"]
        assert row.locator(".badge").first.inner_text() == state
        assert answer["firmwareid"] in row.inner_text()
        _check_bar_and_counts(row, answer)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-list.png"))
    watch.assert_clean(fleet.server.url)


def test_the_key_leaves_the_address_at_once_and_never_travels_in_one(page: Page, fleet: Fleet) -> None:
    sent: list[tuple[str, str | None]] = []
    page.on("request", lambda request: sent.append((request.url, request.headers.get("authorization"))))
    page.goto(f"{fleet.server.url}/ui/#key={fleet.key}")
    expect(page.locator("#rollouts tbody tr").first).to_be_visible()
    assert page.url == f"{fleet.server.url}/ui/#/"
    assert fleet.key not in page.evaluate("location.href")
    assert [url for url, _ in sent if fleet.key in url] == []
    api_calls = [authorization for url, authorization in sent if "/v1/" in url]
    assert api_calls and set(api_calls) == {f"Bearer {fleet.key}"}
    assert [url for url, _ in sent if "/v1/" in url and "/v1/Rollout." not in url] == []
    # The page asked for nothing with the key in it, so the request log cannot hold it either.
    assert fleet.key not in fleet.server.output()


def test_a_rollout_page_shows_settings_devices_with_reasons_and_the_event_trail(page: Page, fleet: Fleet) -> None:
    watch = PageWatch(page)
    rollout_id = fleet.rollouts["paused"]
    page.goto(f"{fleet.server.url}/ui/#key={fleet.key}")
    _show_project(page, fleet.project)
    page.locator(f'tr[data-rollout-id="{rollout_id}"] th a').click()
    expect(page.locator("#rollout-view")).to_be_visible()
    answer = fleet.api("Get", rolloutid=rollout_id)
    expect(page.locator("#rollout-heading")).to_have_text(answer["name"])
    assert answer["reason"].startswith("paused automatically")
    summary = page.locator("#rollout-summary")
    expect(summary.locator(".badge")).to_have_text("paused")
    expect(summary).to_contain_text(answer["reason"])
    settings = page.locator("#rollout-settings dd")
    expect(settings).to_have_text(["60 % failed, once 20 reported", "1", "3600 s", "not set", "no"])
    _check_bar_and_counts(page.locator("#rollout-progress"), answer)

    devices = fleet.api("ListDevices", rolloutid=rollout_id)
    rows = page.locator("#devices tbody tr")
    expect(rows).to_have_count(len(devices))
    assert [row.get_attribute("data-state") for row in rows.all()] == [device["state"] for device in devices]
    page.get_by_label("Device state").select_option("failed")
    failed = [device for device in devices if device["state"] == "failed"]
    expect(rows).to_have_count(len(failed))
    for device in failed:
        row = page.locator(f'#devices tr[data-device-id="{device["id"]}"]')
        expect(row.locator(".reason")).to_have_text(device["reason"])

    events = fleet.api("ListEvents", rolloutid=rollout_id)
    trail = page.locator("#events tbody tr")
    expect(trail).to_have_count(len(events))
    assert [row.get_attribute("data-event-id") for row in trail.all()] == [event["id"] for event in events]
    expect(page.locator("#events")).to_contain_text("flash write error")
    expect(page.locator("#events")).to_contain_text("//dashboard-tests")

    page.get_by_label("Device state").select_option("")
    expect(rows).to_have_count(len(devices))
    page.screenshot(path=str(ARTIFACTS / "dashboard-rollout.png"), full_page=True)
    watch.assert_clean(fleet.server.url)


def test_the_page_follows_changes_while_it_is_open(page: Page, fleet: Fleet) -> None:
    rollout_id = fleet.rollouts["inProgress"]
    page.goto(f"{fleet.server.url}/ui/#key={fleet.key}")
    _show_project(page, fleet.project)
    row = page.locator(f'tr[data-rollout-id="{rollout_id}"]')
    started = fleet.api("ListDevices", rolloutid=rollout_id, state="started")[0]["id"]
    fleet.api("SetDeviceState", rolloutid=rollout_id, deviceid=started, state="succeeded")
    answer = fleet.api("Get", rolloutid=rollout_id)
    expect(row.locator('.segment[data-state="succeeded"]')).to_have_attribute(
        "data-count", str(answer["counts"]["succeeded"]), timeout=UPDATE_TIMEOUT_MS
    )
    _check_bar_and_counts(row, answer)


def test_pause_asks_first_and_then_pauses(page: Page, fleet: Fleet) -> None:
    rollout_id = fleet.api("Create", firmwareid="fw-7", deviceFilter="site=Lab", name="Pause me")["id"]
    fleet.api("SetState", rolloutid=rollout_id, state="inProgress")
    page.goto(f"{fleet.server.url}/ui/#key={fleet.key}")
    page.goto(f"{fleet.server.url}/ui/#/rollouts/{rollout_id}?project={fleet.project}")
    page.get_by_role("button", name="Pause").click()
    dialog = page.locator("dialog#confirm")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert fleet.api("Get", rolloutid=rollout_id)["state"] == "inProgress"

    page.get_by_role("button", name="Pause").click()
    dialog.get_by_role("button", name="Pause").click()
    expect(page.locator("#rollout-summary .badge")).to_have_text("paused")
    assert fleet.api("Get", rolloutid=rollout_id)["state"] == "paused"
    expect(page.get_by_role("button", name="Resume")).to_be_visible()


def test_api_errors_are_shown_in_words(page: Page, fleet: Fleet) -> None:
    page.goto(f"{fleet.server.url}/ui/#key=rk_not_a_key")
    expect(page.locator("#error")).to_contain_text("The key was not accepted")
    expect(page.locator("#error")).to_contain_text("HTTP 401")

    # A user key reaches only the projects granted to it: to it, any other project's rollout does not exist.
    user_key = fleet.server.key(f"//dashboard-user-{uuid.uuid4().hex[:6]}", "user")
    page.goto(f"{fleet.server.url}/ui/#key={user_key}")
    page.goto(f"{fleet.server.url}/ui/#/rollouts/{fleet.rollouts['init']}?project={fleet.project}")
    expect(page.locator("#error")).to_contain_text("Not found (HTTP 404)")
    expect(page.locator("#error")).to_contain_text(f"rollout '{fleet.rollouts['init']}' not found")

    page.goto(f"{fleet.server.url}/ui/#key={fleet.key}")
    page.goto(f"{fleet.server.url}/ui/#/rollouts/999999999?project={fleet.project}")
    expect(page.locator("#error")).to_contain_text("Not found (HTTP 404)")


def _show_project(page: Page, project: str) -> None:
    """Narrow the list to one project, as a user would: the live server's database is shared with other tests."""
    page.get_by_label("Project").fill(project)
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#rollouts tbody tr").first).to_have_attribute("data-project", project)


def _check_bar_and_counts(where: Locator, answer: dict[str, Any]) -> None:
    """Each state's segment carries the API's count and is as wide as its share; the numbers say the same."""
    bar = where.locator(".bar")
    expect(bar).to_have_attribute("data-total", str(answer["total"]))
    bar_box = bar.bounding_box()
    assert bar_box is not None
    total = sum(answer["counts"][state] for state in DEVICE_STATES)
    for state in DEVICE_STATES:
        count = answer["counts"][state]
        segment = bar.locator(f'.segment[data-state="{state}"]')
        expect(segment).to_have_attribute("data-count", str(count))
        assert segment.get_attribute("title") == f"{state}: {count}"
        width = segment.evaluate("element => element.getBoundingClientRect().width")
        assert width == pytest.approx(bar_box["width"] * count / total, abs=2.5), state
        number = where.locator(f'.counts li[data-state="{state}"] .count')
        expect(number).to_have_text(str(count))


def test_the_readme_screenshot_is_a_small_png_of_the_viewport() -> None:
    """docs/dashboard.png is copied by hand from artifacts/dashboard-list.png when the page changes."""
    committed = ROOT / "docs" / "dashboard.png"
    header = committed.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    assert (width, height) == (VIEWPORT["width"], VIEWPORT["height"])
    assert committed.stat().st_size < 300_000
