// The rollout dashboard: plain JavaScript with no build step and no libraries. It calls only the public API of the
// server that served it (POST ../v1/Rollout.<Method>), with the key the user gave, kept in sessionStorage.
"use strict";

const KEY_STORAGE = "rollout-dashboard-key";
const POLL_MS = 5000;
const LIST_PAGE = 50;
const DEVICE_PAGE = 50;
const EVENT_PAGE = 100;
const DEVICE_STATES = ["init", "started", "succeeded", "failed"];
// What each HTTP status means to someone looking at the page; the server's status_msg follows it.
const STATUS_WORDS = {
  0: "The server cannot be reached",
  400: "The request was refused",
  401: "The key was not accepted (missing, mistyped or revoked)",
  403: "This key may not do that",
  404: "Not found",
  409: "Not possible in the rollout's current state",
  413: "Too much at once",
  429: "Too many requests",
  500: "The server failed",
  503: "The server is busy; it will be tried again",
  504: "The server took too long",
};

const $ = (id) => document.getElementById(id);

// --- The key ----------------------------------------------------------------------------------------------------

function currentKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

/** `#key=...` in the address: keep the key for this tab, then take it out of the address bar and history. */
function takeKeyFromFragment() {
  const fragment = location.hash.replace(/^#/, "");
  if (!fragment.startsWith("key=")) {
    return;
  }
  const key = new URLSearchParams(fragment).get("key");
  if (key && key.trim()) {
    sessionStorage.setItem(KEY_STORAGE, key.trim());
  }
  history.replaceState(null, "", `${location.pathname}${location.search}#/`);
}

function showKeyState() {
  const hasKey = currentKey() !== "";
  $("key-form").hidden = hasKey;
  $("key-state").hidden = !hasKey;
}

// --- The API ----------------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(httpStatus, message) {
    super(message);
    this.httpStatus = httpStatus;
  }

  /** In words: what the status means, then what the server said. */
  describe() {
    const words = STATUS_WORDS[this.httpStatus] || "The request failed";
    const code = this.httpStatus ? ` (HTTP ${this.httpStatus})` : "";
    return `${words}${code}: ${this.message}`;
  }
}

/** One method of the public API on its own route; the answer is the bare result, an error {status, status_msg}. */
async function callApi(method, args) {
  const key = currentKey();
  if (!key) {
    throw new ApiError(401, "no key is set; enter one at the top of the page");
  }
  let response;
  try {
    response = await fetch(`../v1/Rollout.${method}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
      body: JSON.stringify(args),
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
  } catch (failure) {
    throw new ApiError(0, String(failure.message || failure));
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const said = body && typeof body.status_msg === "string" ? body.status_msg : text || response.statusText;
    throw new ApiError(response.status, said);
  }
  return body;
}

// --- Building the page ------------------------------------------------------------------------------------------

/** An element with attributes and children; text goes in as text, never as HTML. */
function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children) {
    element.append(child instanceof Node ? child : document.createTextNode(child ?? ""));
  }
  return element;
}

function timeElement(iso) {
  if (!iso) {
    return el("span", {}, "");
  }
  const date = new Date(iso);
  const shown = Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
  return el("time", { datetime: iso, title: iso }, shown);
}

function stateBadge(state) {
  return el("span", { class: `badge state-${state}`, "data-state": state }, state);
}

function rolloutHref(rollout) {
  const project = new URLSearchParams({ project: rollout.projectid || "" });
  return `#/rollouts/${encodeURIComponent(rollout.id)}?${project}`;
}

/** The devices by state as one bar: each state a segment as wide as its share, its exact count in data-count. */
function progressBar(rollout) {
  const counts = rollout.counts || {};
  const sum = DEVICE_STATES.reduce((total, state) => total + (counts[state] || 0), 0);
  const label = DEVICE_STATES.map((state) => `${state} ${counts[state] || 0}`).join(", ");
  const bar = el("div", { class: "bar", role: "img", "aria-label": `${label}; ${rollout.total} devices`, "data-total": rollout.total });
  for (const state of DEVICE_STATES) {
    const count = counts[state] || 0;
    const segment = el("span", {
      class: `segment segment-${state}`,
      "data-state": state,
      "data-count": count,
      title: `${state}: ${count}`,
    });
    // Through the CSSOM, which the page's Content-Security-Policy allows (a style attribute it would refuse).
    segment.style.width = sum ? `${(count / sum) * 100}%` : "0%";
    bar.append(segment);
  }
  return bar;
}

function countList(rollout) {
  const counts = rollout.counts || {};
  const list = el("ul", { class: "counts" });
  for (const state of DEVICE_STATES) {
    list.append(
      el("li", { "data-state": state }, el("span", { class: `swatch segment-${state}`, "aria-hidden": "true" }), `${state} `,
        el("strong", { class: "count", "data-count": counts[state] || 0 }, String(counts[state] || 0))),
    );
  }
  list.append(el("li", { class: "total" }, "total ", el("strong", {}, String(rollout.total ?? 0))));
  return list;
}

function facts(list, entries) {
  list.replaceChildren();
  for (const [term, value] of entries) {
    list.append(el("dt", {}, term), el("dd", {}, value));
  }
}

function setRows(table, rows, empty) {
  table.tBodies[0].replaceChildren(...rows);
  table.hidden = rows.length === 0;
  $(empty).hidden = rows.length !== 0;
}

// --- Errors and freshness ---------------------------------------------------------------------------------------

function showError(id, failure) {
  const box = $(id);
  if (!failure) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.textContent = failure instanceof ApiError ? failure.describe() : `Something went wrong: ${failure}`;
  box.hidden = false;
}

function markUpdated() {
  const paused = document.hidden ? " (updates paused while the tab is hidden)" : "";
  $("updated").textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${POLL_MS / 1000} s${paused}.`;
}

// --- Routes -----------------------------------------------------------------------------------------------------

/** `#/?project=..&state=..` is the list, `#/rollouts/<id>?project=..` a rollout. */
function currentRoute() {
  const fragment = location.hash.replace(/^#/, "");
  const [path, query] = fragment.split("?", 2);
  const params = new URLSearchParams(query || "");
  const match = /^\/rollouts\/([^/]+)$/.exec(path);
  if (match) {
    return { view: "rollout", id: decodeURIComponent(match[1]), project: params.get("project") || "" };
  }
  return { view: "list", project: params.get("project") || "", state: params.get("state") || "" };
}

function routeKey(route) {
  return JSON.stringify(route);
}

// --- The list of rollouts ---------------------------------------------------------------------------------------

const listPages = { route: "", afters: [undefined] };

async function renderList(route, isCurrent) {
  if (listPages.route !== routeKey(route)) {
    listPages.route = routeKey(route);
    listPages.afters = [undefined];
  }
  $("project-input").value = document.activeElement === $("project-input") ? $("project-input").value : route.project;
  $("list-state").value = route.state;
  const page = listPages.afters.length - 1;
  const args = { limit: LIST_PAGE + 1 };
  if (route.project) args.projectid = route.project;
  if (route.state) args.state = route.state;
  if (listPages.afters[page] !== undefined) args.after = listPages.afters[page];
  const rollouts = await callApi("List", args);
  if (!isCurrent()) return;
  // With one project chosen, a column repeating it on every row says nothing.
  $("rollouts").classList.toggle("one-project", Boolean(route.project));
  const shown = rollouts.slice(0, LIST_PAGE);
  setRows($("rollouts"), shown.map(rolloutRow), "rollouts-empty");
  $("rollouts-prev").disabled = page === 0;
  $("rollouts-next").disabled = rollouts.length <= LIST_PAGE;
  $("rollouts-next").dataset.after = shown.length ? shown[shown.length - 1].id : "";
  $("rollouts-page").textContent = `Page ${page + 1}`;
}

function rolloutRow(rollout) {
  const name = rollout.name || `Rollout ${rollout.id}`;
  return el(
    "tr",
    { "data-rollout-id": rollout.id, "data-project": rollout.projectid },
    el("th", { scope: "row" }, el("a", { href: rolloutHref(rollout) }, name)),
    el("td", { class: "mono project-col" }, rollout.projectid || ""),
    el("td", {}, stateBadge(rollout.state)),
    el("td", { class: "mono nowrap" }, rollout.firmwareid),
    el("td", {}, progressBar(rollout)),
    el("td", {}, countList(rollout)),
    el("td", {}, timeElement(rollout.updatedAt)),
  );
}

// --- One rollout ------------------------------------------------------------------------------------------------

const devicePages = { route: "", state: "", afters: [undefined] };
const eventTrail = { route: "", items: [], complete: false };
// Each state a caller may move a rollout to from the one it is in, as the buttons offer it.
const ACTIONS = {
  init: [["finished", "Finish"]],
  inProgress: [["paused", "Pause"], ["finished", "Finish"]],
  paused: [["inProgress", "Resume"], ["finished", "Finish"]],
  finished: [],
};

async function renderRollout(route, isCurrent) {
  const scope = { projectid: route.project, rolloutid: route.id };
  const [rollout] = await Promise.all([callApi("Get", scope), renderDevices(route, scope, isCurrent), renderEvents(route, scope, isCurrent)]);
  if (!isCurrent()) return;
  const name = rollout.name || `Rollout ${rollout.id}`;
  $("rollout-heading").textContent = name;
  document.title = `${name} - Rollouts`;
  $("rollout-view").dataset.rolloutId = rollout.id;
  facts($("rollout-summary"), [
    ["ID", rollout.id],
    ["Project", rollout.projectid || route.project],
    ["State", stateBadge(rollout.state)],
    ["Reason", rollout.reason || "none"],
    ["Firmware", rollout.firmwareid],
    ["Device filter", rollout.deviceFilter],
    ["Created", timeElement(rollout.createdAt)],
    ["Updated", timeElement(rollout.updatedAt)],
  ]);
  const threshold = rollout.failureThreshold;
  const notSet = "not set";
  facts($("rollout-settings"), [
    ["Failure threshold", threshold ? `${threshold.percent} % failed, once ${threshold.minReported ?? 10} reported` : notSet],
    ["Max failures", rollout.maxFailures ?? notSet],
    ["Device timeout", rollout.deviceTimeout !== undefined ? `${rollout.deviceTimeout} s` : notSet],
    ["Max in progress", rollout.maxInProgress ?? notSet],
    ["Auto finish", rollout.autoFinish ? "yes" : "no"],
  ]);
  $("rollout-progress").replaceChildren(progressBar(rollout), countList(rollout));
  renderActions(rollout);
}

function renderActions(rollout) {
  const buttons = (ACTIONS[rollout.state] || []).map(([target, label]) => {
    const button = el("button", { type: "button", "data-target-state": target }, label);
    button.addEventListener("click", () => changeState(rollout, target, label));
    return button;
  });
  // Rebuilt only when the state changed, so a poll never takes away the focus from a button.
  const now = $("rollout-actions").dataset.forState;
  if (now !== `${rollout.id}/${rollout.state}`) {
    $("rollout-actions").dataset.forState = `${rollout.id}/${rollout.state}`;
    $("rollout-actions").replaceChildren(...buttons);
  }
}

async function changeState(rollout, target, label) {
  const name = rollout.name || `rollout ${rollout.id}`;
  const confirmed = await confirmAction(`${label} "${name}"? Its state becomes ${target}.`, label);
  if (!confirmed) return;
  try {
    await callApi("SetState", { projectid: rollout.projectid, rolloutid: rollout.id, state: target });
    showError("action-error", null);
  } catch (failure) {
    showError("action-error", failure);
  }
  await refresh();
}

function confirmAction(text, label) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = label;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    $("confirm-cancel").focus();
  });
}

async function renderDevices(route, scope, isCurrent) {
  const state = $("device-state").value;
  if (devicePages.route !== routeKey(route) || devicePages.state !== state) {
    Object.assign(devicePages, { route: routeKey(route), state, afters: [undefined] });
  }
  const page = devicePages.afters.length - 1;
  const args = { ...scope, limit: DEVICE_PAGE + 1 };
  if (state) args.state = state;
  if (devicePages.afters[page] !== undefined) args.after = devicePages.afters[page];
  const devices = await callApi("ListDevices", args);
  if (!isCurrent()) return;
  const shown = devices.slice(0, DEVICE_PAGE);
  setRows($("devices"), shown.map(deviceRow), "devices-empty");
  $("devices-prev").disabled = page === 0;
  $("devices-next").disabled = devices.length <= DEVICE_PAGE;
  $("devices-next").dataset.after = shown.length ? shown[shown.length - 1].id : "";
  $("devices-page").textContent = `Page ${page + 1}`;
}

function deviceRow(device) {
  return el(
    "tr",
    { "data-device-id": device.id, "data-state": device.state },
    el("th", { scope: "row", class: "mono" }, device.id),
    el("td", {}, stateBadge(device.state)),
    el("td", { class: "reason" }, device.reason || ""),
    el("td", { class: "mono" }, device.updateCommandId || ""),
    el("td", {}, timeElement(device.updatedAt)),
  );
}

/** The trail grows at its end: a poll asks only for events after the last one shown, once the start is loaded. */
async function renderEvents(route, scope, isCurrent, more = false) {
  if (eventTrail.route !== routeKey(route)) {
    Object.assign(eventTrail, { route: routeKey(route), items: [], complete: false });
    $("events").tBodies[0].replaceChildren();
  }
  if (!more && eventTrail.items.length && !eventTrail.complete) {
    return; // a long trail is read on with "Show more", not by every poll
  }
  const args = { ...scope, limit: EVENT_PAGE };
  const last = eventTrail.items[eventTrail.items.length - 1];
  if (last) args.after = last.id;
  const events = await callApi("ListEvents", args);
  if (!isCurrent() || eventTrail.route !== routeKey(route)) return;
  eventTrail.items.push(...events);
  eventTrail.complete = events.length < EVENT_PAGE;
  $("events").tBodies[0].append(...events.map(eventRow));
  $("events").hidden = eventTrail.items.length === 0;
  $("events-empty").hidden = eventTrail.items.length !== 0;
  $("events-more").hidden = eventTrail.complete;
}

function eventRow(event) {
  return el(
    "tr",
    { "data-event-id": event.id },
    el("td", {}, event.id),
    el("td", {}, timeElement(event.at)),
    el("td", { class: "mono" }, event.deviceid || "(the rollout)"),
    el("td", {}, stateBadge(event.from)),
    el("td", {}, stateBadge(event.to)),
    el("td", { class: "mono" }, event.by),
    el("td", { class: "reason" }, event.reason || ""),
  );
}

// --- Refreshing -------------------------------------------------------------------------------------------------

let pollTimer;
let generation = 0;

/** Render the current route now and again every POLL_MS while the tab is visible; a newer render wins. */
async function refresh() {
  clearTimeout(pollTimer);
  const mine = ++generation;
  const isCurrent = () => mine === generation;
  const route = currentRoute();
  showKeyState();
  $("list-view").hidden = route.view !== "list";
  $("rollout-view").hidden = route.view !== "rollout";
  if (!currentKey()) {
    showError("error", new ApiError(401, "no key is set; enter one at the top of the page"));
    $("key-input").focus();
    return;
  }
  try {
    await (route.view === "rollout" ? renderRollout(route, isCurrent) : renderList(route, isCurrent));
    if (isCurrent()) {
      showError("error", null);
      markUpdated();
    }
  } catch (failure) {
    if (isCurrent()) showError("error", failure);
  }
  if (isCurrent() && !document.hidden) {
    pollTimer = setTimeout(refresh, POLL_MS);
  }
}

function nextPage(pages, button) {
  pages.afters.push(button.dataset.after);
  refresh();
}

function previousPage(pages) {
  if (pages.afters.length > 1) pages.afters.pop();
  refresh();
}

function start() {
  takeKeyFromFragment();
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("key-input").value.trim();
    $("key-input").value = "";
    if (key) {
      sessionStorage.setItem(KEY_STORAGE, key);
      refresh();
    }
  });
  $("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    refresh();
  });
  $("list-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    const project = $("project-input").value.trim();
    if (project) params.set("project", project);
    if ($("list-state").value) params.set("state", $("list-state").value);
    const target = `#/?${params}`;
    if (location.hash === target) refresh();
    else location.hash = target;
  });
  $("list-state").addEventListener("change", () => $("list-filter").requestSubmit());
  $("device-filter").addEventListener("submit", (event) => event.preventDefault());
  $("device-state").addEventListener("change", () => refresh());
  $("rollouts-next").addEventListener("click", () => nextPage(listPages, $("rollouts-next")));
  $("rollouts-prev").addEventListener("click", () => previousPage(listPages));
  $("devices-next").addEventListener("click", () => nextPage(devicePages, $("devices-next")));
  $("devices-prev").addEventListener("click", () => previousPage(devicePages));
  $("events-more").addEventListener("click", async () => {
    const route = currentRoute();
    try {
      await renderEvents(route, { projectid: route.project, rolloutid: route.id }, () => true, true);
    } catch (failure) {
      showError("error", failure);
    }
  });
  window.addEventListener("hashchange", () => {
    takeKeyFromFragment();
    $("device-state").value = "";
    refresh();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      clearTimeout(pollTimer);
      markUpdated();
    } else {
      refresh();
    }
  });
  refresh();
}

start();
