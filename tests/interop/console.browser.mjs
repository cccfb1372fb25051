// The web console in a real browser (issue 12): Debian's chromium, driven by playwright-core,
// against the real webhookd binary and real receivers on 127.0.0.1. Every page visited is
// saved as a screenshot under $CONSOLE_SCREENSHOTS (ctest: <build>/console-screenshots).
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { apiClient, startReceiver, startServer, waitFor } from "./harness.mjs";

const { chromium } = await import("playwright-core");

const screenshots = process.env.CONSOLE_SCREENSHOTS || join(process.cwd(), "console-screenshots");
mkdirSync(screenshots, { recursive: true });

// A receiver that answers 500 until `fixed` is set, then 200.
async function startFlakyReceiver() {
  const state = { fixed: false, count: 0 };
  const server = http.createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      state.count += 1;
      response.writeHead(state.fixed ? 200 : 500, { "content-type": "text/plain" });
      response.end(state.fixed ? "fixed now" : "receiver is down");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, state, stop: () => new Promise((r) => server.close(r)) };
}

// A receiver that answers every request with `body` as JSON: an inference service.
async function startJsonReceiver(body) {
  const server = http.createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, stop: () => new Promise((r) => server.close(r)) };
}

const observations = { observations: [{ code: "8867-4", display: "Heart rate", value: 72, unit: "/min" }] };

let server, receiver, flaky, inference, browser, admin;
// What the browser saw go wrong: console errors, failed requests, HTTP errors.
const problems = [];
// HTTP errors the scenario causes on purpose: the bad URL of the form, a wrong key, the other
// organization's configuration opened with an organization key.
const expectedErrors = [];

before(async () => {
  server = await startServer();
  receiver = await startReceiver();
  flaky = await startFlakyReceiver();
  inference = await startJsonReceiver(observations);
  admin = apiClient(server.baseUrl, server.adminKey);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox"],
  });
});

after(async () => {
  await browser?.close();
  await flaky?.stop();
  await inference?.stop();
  await receiver?.stop();
  await server?.stop();
});

async function newPage(width = 1280, height = 900) {
  const page = await browser.newPage({ viewport: { width, height } });
  page.setDefaultTimeout(10000);
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`));
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.request().method()} ${new URL(response.url()).pathname}`);
  });
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

async function signIn(page, key) {
  await page.goto(server.baseUrl + "/");
  assert.equal(new URL(page.url()).pathname, "/console/", "/ redirects to the console");
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Configurations" }).waitFor();
}

// The deliveries of an event as the API reports them.
async function deliveriesOf(eventId) {
  return (await admin("GET", `/events/${eventId}`, undefined, 200)).deliveries;
}

test("an admin operates configurations, events and deliveries from the console", async () => {
  const page = await newPage();
  const consoleResponse = await page.request.get(server.baseUrl + "/console/");
  const csp = consoleResponse.headers()["content-security-policy"];
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /style-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);

  await signIn(page, server.adminKey);
  assert.equal(await page.evaluate(() => document.cookie), "", "no cookie");
  assert.ok(!page.url().includes(server.adminKey), "the key is not in the URL");
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  await shot(page, "overview-empty");

  // Create through the form: a bad URL first, answered next to its field.
  await page.getByRole("link", { name: "Configurations" }).click();
  await page.getByText("No configuration matches.").waitFor();
  await page.getByRole("link", { name: "New configuration" }).click();
  await page.getByLabel("Organization", { exact: true }).fill("1");
  await page.getByLabel("Name").fill("Front desk");
  await page.getByLabel("URL").fill("ftp://example.com/hook");
  await page.getByLabel("Event type").selectOption("BookAppointment");
  expectedErrors.push("HTTP 400: POST /external-events/");
  await page.getByRole("button", { name: "Create configuration" }).click();
  const urlError = page.locator(".field.invalid #e-url");
  await urlError.waitFor();
  assert.match(await urlError.textContent(), /url/i);
  await shot(page, "config-form-field-error");

  await page.getByLabel("URL").fill(receiver.url + "/hook");
  await page.getByRole("button", { name: "Create configuration" }).click();
  await page.getByRole("heading", { name: "Configuration created" }).waitFor();
  const firstSecret = await page.locator(".secret code").textContent();
  assert.match(firstSecret, /^whsec_/);
  await page.getByRole("link", { name: "Open Front desk" }).click();
  await page.getByRole("heading", { name: "Front desk" }).waitFor();

  // Send a test event: the receiver's status, headers and body.
  await page.getByRole("button", { name: "Send test event" }).click();
  await page.getByText("The receiver accepted the test event").waitFor();
  assert.match(await page.locator(".notice.ok").textContent(), /status 200[\s\S]*"received":true/);

  // Rotate the secret: a new one, shown once.
  await page.getByRole("button", { name: "Rotate secret" }).click();
  await page.getByText("New secret; the previous one keeps signing for 24 hours.").waitFor();
  const rotated = await page.locator(".secret code").textContent();
  assert.match(rotated, /^whsec_/);
  assert.notEqual(rotated, firstSecret);
  await shot(page, "config-page");

  // Trigger an event from its event type's page, open it: the delivery and its attempt.
  await page.getByRole("link", { name: "Event types" }).click();
  await page.getByRole("link", { name: "BookAppointment" }).click();
  await page.getByLabel("Organization", { exact: true }).last().fill("1");
  await page.getByRole("button", { name: "Send the sample as an event" }).click();
  await page.getByText("Accepted:").waitFor();
  await shot(page, "event-type");
  await page.locator(".notice.ok a").click();
  await page.getByRole("heading", { name: "BookAppointment event" }).waitFor();
  await page.locator(".delivery .badge-succeeded").waitFor();
  await page.locator(".attempt").getByText("200", { exact: true }).waitFor();
  assert.match(await page.locator(".attempt pre").first().textContent(), /"received":true/);
  await shot(page, "event-succeeded");

  // A delivery that fails, retried from the console once the receiver is fixed.
  await admin("POST", "/external-events/", {
    organizationId: 1, name: "Flaky", url: flaky.url + "/flaky", eventName: "Notification", retrySchedule: [0],
  }, 201);
  const sample = await admin("GET", "/event-types/Notification", undefined, 200);
  const event = await admin("POST", "/events", { organizationId: 1, eventName: "Notification", payload: sample.sample }, 202);
  await waitFor("the Notification delivery to fail", async () => (await deliveriesOf(event.id))[0].status === "failed");
  await page.goto(`${server.baseUrl}/console/#/events/${event.id}`);
  await page.locator(".delivery .badge-failed").waitFor();
  await page.locator(".attempt").getByText("500", { exact: true }).waitFor();
  await shot(page, "event-failed");
  flaky.state.fixed = true;
  await page.getByRole("button", { name: "Retry now" }).click();
  await page.locator(".delivery .badge-succeeded").waitFor();
  await page.locator(".attempt").filter({ hasText: "manual" }).getByText("200", { exact: true }).waitFor();
  assert.equal(flaky.state.count, 2);
  await shot(page, "event-retried");

  // A FIFO configuration whose receiver is down (nothing listens on port 1): its first delivery
  // fails and waits an hour for its retry; the second waits for it, with no time of its own.
  await admin("POST", "/external-events/", {
    organizationId: 1, name: "In order", url: "http://127.0.0.1:1/down", eventName: "HealthProgramActivated",
    ordering: "fifo", retrySchedule: [0, 3600],
  }, 201);
  const program = await admin("GET", "/event-types/HealthProgramActivated", undefined, 200);
  const inLine = [];
  for (let i = 0; i < 2; i += 1) {
    inLine.push(await admin("POST", "/events", { organizationId: 1, eventName: "HealthProgramActivated", payload: program.sample }, 202));
  }
  await waitFor("the first FIFO delivery to fail once", async () => (await deliveriesOf(inLine[0].id))[0].attemptCount === 1);
  await page.goto(`${server.baseUrl}/console/#/events/${inLine[0].id}`);
  await page.locator(".delivery .badge-pending").waitFor();
  await page.locator(".delivery").getByText(/· next /).waitFor();
  await page.goto(`${server.baseUrl}/console/#/events/${inLine[1].id}`);
  await page.locator(".delivery .badge-pending").waitFor();
  await page.locator(".delivery").getByText("waits for an earlier delivery to this configuration (FIFO)", { exact: false }).waitFor();
  assert.equal(await page.getByRole("button", { name: "Retry now" }).count(), 0, "a waiting delivery offers a retry the API refuses");
  await shot(page, "event-waiting-for-its-turn");

  // An inference event: the receiver's JSON answer is the result, shown on the event's page
  // once the delivery succeeds (the page may open before it does).
  const inferenceConfig = await admin("POST", "/external-events/", {
    organizationId: 1, name: "Vitals inference", url: inference.url + "/infer", eventName: "InferenceToObservations",
  }, 201);
  const inferenceType = await admin("GET", "/event-types/InferenceToObservations", undefined, 200);
  const inferred = await admin("POST", "/events", {
    organizationId: 1, eventName: "InferenceToObservations", payload: inferenceType.sample,
  }, 202);
  await page.goto(`${server.baseUrl}/console/#/events/${inferred.id}`);
  await page.getByRole("heading", { name: "Inference result" }).waitFor();
  const result = page.locator(".inference .card");
  await result.getByText('"Heart rate"').waitFor();
  assert.match(await result.textContent(), /"observations"[\s\S]*"8867-4"[\s\S]*72/);
  assert.match(await result.textContent(), new RegExp(`configuration ${inferenceConfig.id}`));
  await shot(page, "event-inference");

  // The lists and the overview with data in them.
  await page.getByRole("link", { name: "Deliveries" }).click();
  await page.locator("table .badge-succeeded").first().waitFor();
  await page.getByLabel("Status").selectOption("succeeded");
  await page.waitForURL(/status=succeeded/);
  await shot(page, "deliveries");
  // By event type: only the inference delivery; the filter is in the URL.
  await page.getByLabel("Event type").selectOption("InferenceToObservations");
  await page.waitForURL(/eventName=InferenceToObservations/);
  await page.locator("tbody tr").first().waitFor();
  await waitFor("the list to show only the inference delivery", async () =>
    (await page.locator("tbody tr td:nth-child(2)").allTextContents()).join() === String(inferenceConfig.id));
  assert.ok(page.url().includes("status=succeeded"), "the filters combine");
  await page.getByLabel("Event type").selectOption("AppointmentToCareTaskActivityLog");
  await page.getByText("No delivery matches.").waitFor();
  await page.getByLabel("Event type").selectOption("");
  await page.locator("table .badge-succeeded").first().waitFor();
  // The organization switch narrows the list: organization 2 has no delivery yet.
  const organization = page.getByLabel("Organization (empty: all)");
  await organization.fill("2");
  await organization.blur();
  await page.waitForURL(/org=2/);
  await page.getByText("No delivery matches.").waitFor();
  await organization.fill("");
  await organization.blur();
  await page.locator("table .badge-succeeded").first().waitFor();
  // Searching configurations by name or URL, from the server, kept in the URL.
  await page.getByRole("link", { name: "Configurations" }).click();
  await page.getByRole("link", { name: "Vitals inference" }).waitFor();
  const search = page.getByLabel("Search name or URL");
  await search.fill("FLAKY");
  await search.press("Enter");
  await page.waitForURL(/q=FLAKY/);
  await page.getByRole("link", { name: "Front desk" }).waitFor({ state: "detached" });
  assert.deepEqual(await page.locator("tbody tr td:first-child").allTextContents(), ["Flaky"]);
  await shot(page, "configs-search");
  await search.fill("/infer");
  await search.press("Enter");
  await page.waitForURL(/q=%2Finfer/);
  await page.getByRole("link", { name: "Vitals inference" }).waitFor();
  assert.equal(await page.locator("tbody tr").count(), 1);
  await page.getByRole("link", { name: "Overview" }).click();
  await page.locator(".chart rect").first().waitFor();
  await page.getByRole("link", { name: "Last day" }).click();
  await page.waitForURL(/window=day/);
  await page.locator(".chart rect").first().waitFor();
  await shot(page, "overview");
  await page.getByRole("link", { name: "API keys" }).click();
  await page.getByRole("button", { name: "Create key" }).waitFor();
  await shot(page, "api-keys");
  await page.getByRole("link", { name: "Event types" }).click();
  await page.getByRole("link", { name: "InferenceToObservations" }).waitFor();
  await shot(page, "event-types");

  const narrow = await newPage(390, 844);
  await signIn(narrow, server.adminKey);
  await narrow.locator(".chart").waitFor();
  await shot(narrow, "overview-390");
  await narrow.goto(`${server.baseUrl}/console/#/events/${event.id}`);
  await narrow.locator(".delivery .badge-succeeded").waitFor();
  await shot(narrow, "event-390");
  await narrow.goto(`${server.baseUrl}/console/#/deliveries`);
  await narrow.locator("table .badge-succeeded").first().waitFor();
  await shot(narrow, "deliveries-390");
  await narrow.goto(`${server.baseUrl}/console/#/configs`);
  await narrow.getByRole("link", { name: "Front desk" }).waitFor();
  await shot(narrow, "configs-390");
  for (const path of ["#/deliveries", "#/configs", `#/events/${inferred.id}`]) {
    await narrow.goto(`${server.baseUrl}/console/${path}`);
    await narrow.locator("main h1").waitFor();
    const overflow = await narrow.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${path} is ${overflow} px wider than a 390 px screen`);
  }
  await narrow.close();
  await page.close();
});

test("an organization key never sees another organization's configuration", async () => {
  const other = await admin("POST", "/external-events/", {
    organizationId: 2, name: "Other organization hook", url: receiver.url + "/other", eventName: "BookAppointment",
  }, 201);
  const orgKey = (await admin("POST", "/api-keys", { name: "org one", organizationId: 1 }, 201)).key;
  const page = await newPage();
  await page.goto(server.baseUrl + "/console/");
  await page.getByLabel("API key").fill("whk_not_a_key");
  expectedErrors.push("HTTP 401: GET /api-keys");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").getByText("unknown or revoked API key").waitFor();
  await signIn(page, orgKey);
  await page.getByText("Organization 1").waitFor();
  assert.equal(await page.getByRole("link", { name: "API keys" }).count(), 0, "no key management");
  await page.getByRole("link", { name: "Configurations" }).click();
  await page.getByRole("link", { name: "Front desk" }).waitFor();
  assert.equal(await page.getByText("Other organization hook").count(), 0);
  await shot(page, "org-key-configs");

  expectedErrors.push(`HTTP 404: GET /external-events/${other.id}`);
  await page.goto(`${server.baseUrl}/console/#/configs/${other.id}`);
  await page.getByRole("alert").getByText(`webhook configuration ${other.id} not found`).waitFor();
  assert.equal(await page.getByText("Other organization hook").count(), 0);

  await page.goto(`${server.baseUrl}/console/#/deliveries`);
  await page.locator("table").waitFor();
  const configColumn = await page.locator("tbody tr td:nth-child(2)").allTextContents();
  assert.ok(!configColumn.includes(String(other.id)));
  await page.close();
});

// A filter is committed to the URL on Enter or blur; until then its text is the user's. A page
// that finishes loading while they type (here the event types, held back) must not erase it.
test("text typed in a filter survives the page's loads finishing", async () => {
  const page = await newPage();
  await signIn(page, server.adminKey);
  const held = [];
  const eventTypes = (url) => url.pathname === "/event-types";
  await page.route(eventTypes, (route) => held.push(route));
  await page.getByRole("link", { name: "Configurations" }).click();
  await page.getByText("Loading configurations…").waitFor({ state: "detached" });
  await waitFor("the event types requested", () => held.length > 0);
  const search = page.getByLabel("Search name or URL");
  await search.fill("front");
  for (const route of held) await route.continue();
  await page.unroute(eventTypes);
  await page.getByLabel("Event type").locator("option", { hasText: "BookAppointment" }).waitFor({ state: "attached" });
  assert.equal(await search.inputValue(), "front");
  await search.press("Enter");
  await page.waitForURL(/q=front/);
  await page.getByRole("link", { name: "Front desk" }).waitFor();

  // The same on the deliveries page, for a configuration id typed before the list arrives.
  const heldDeliveries = [];
  const deliveries = (url) => url.pathname === "/deliveries";
  await page.route(deliveries, (route) => heldDeliveries.push(route));
  await page.getByRole("link", { name: "Deliveries" }).click();
  await waitFor("the deliveries requested", () => heldDeliveries.length > 0);
  const configId = page.getByLabel("Configuration id");
  await configId.fill("1");
  for (const route of heldDeliveries) await route.continue();
  await page.unroute(deliveries);
  await page.locator("table, .empty").first().waitFor();
  assert.equal(await configId.inputValue(), "1");
  await configId.press("Enter");
  await page.waitForURL(/externalEventId=1/);

  // A filter whose answer takes a while (a rare one on a large database) says so, and marks the
  // rows still shown as the previous filter's until it arrives.
  await page.goto(`${server.baseUrl}/console/#/deliveries`);
  await page.locator("table").waitFor();
  heldDeliveries.length = 0;
  await page.route(deliveries, (route) => heldDeliveries.push(route));
  await page.getByLabel("Status").selectOption("succeeded");
  await waitFor("the filtered deliveries requested", () => heldDeliveries.length > 0);
  await page.getByText("Loading deliveries…").waitFor();
  await page.locator('.table-wrap[aria-busy="true"]').waitFor();
  for (const route of heldDeliveries) await route.continue();
  await page.unroute(deliveries);
  await page.getByText("Loading deliveries…").waitFor({ state: "detached" });
  await page.locator('.table-wrap[aria-busy="true"]').waitFor({ state: "detached" });
  assert.deepEqual(new Set(await page.locator("tbody .badge").allTextContents()), new Set(["succeeded"]));
  await page.close();
});

// Two clicks in one go, as a double click or an impatient user makes them. (Playwright's
// dblclick may retry a double click whose second half it judged intercepted, once the button
// is enabled again: a third click, later.)
async function clickTwice(button) {
  await button.evaluate((element) => {
    element.click();
    element.click();
  });
}

// A double click on an action button must not do the action twice: two events delivered to a
// customer's receiver, or a second API key that nobody saw.
test("a double click on an action sends one request", async () => {
  const doubleClick = await admin("POST", "/external-events", {
    organizationId: 3, name: "Double click", url: receiver.url + "/double", eventName: "Notification",
  }, 201);
  const page = await newPage();
  await signIn(page, server.adminKey);
  const posts = [];
  page.on("request", (request) => {
    if (request.method() === "POST") posts.push(new URL(request.url()).pathname);
  });
  const sent = (path) => posts.filter((p) => p === path || (path instanceof RegExp && path.test(p))).length;

  await page.goto(`${server.baseUrl}/console/#/event-types/Notification`);
  await page.locator("form.card").getByLabel("Organization").fill("3");
  await clickTwice(page.getByRole("button", { name: "Send the sample as an event" }));
  await page.getByText("Accepted:").waitFor();
  assert.equal(sent("/events"), 1, "one event sent");
  // What the receiver gets: one event, one delivery to its configuration.
  const deliveriesToIt = async () =>
    (await admin("GET", `/deliveries?externalEventId=${doubleClick.id}`, undefined, 200)).data;
  await waitFor("the event's delivery", async () => (await deliveriesToIt()).length > 0);
  assert.equal((await deliveriesToIt()).length, 1);

  await page.getByRole("status").getByRole("link").click();
  await page.getByText(/To configuration \d+/).waitFor();
  await page.getByRole("button", { name: "Retry now" }).waitFor();
  // A second click's request would leave before the first one's answer arrives.
  const retried = page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith("/retry"));
  await clickTwice(page.getByRole("button", { name: "Retry now" }));
  await retried;
  assert.equal(sent(/\/retry$/), 1, "one retry sent");

  const keysBefore = (await admin("GET", "/api-keys", undefined, 200)).data.length;
  await page.getByRole("link", { name: "API keys" }).click();
  await page.getByLabel("Name").fill("double click");
  await clickTwice(page.getByRole("button", { name: "Create key" }));
  await page.getByText("shown only now").waitFor();
  assert.equal(sent("/api-keys"), 1, "one key created");
  assert.equal((await admin("GET", "/api-keys", undefined, 200)).data.length, keysBefore + 1);
  await page.close();
});

// Behind a reverse proxy, an error may come as the proxy's HTML page: the console says what
// happened instead of failing to parse it.
test("an error page from a proxy is reported by its status", async () => {
  const page = await newPage();
  await signIn(page, server.adminKey);
  const listing = (url) => /^\/external-events\/?$/.test(url.pathname);
  await page.route(listing, (route) =>
    route.fulfill({ status: 502, contentType: "text/html", body: "<html><body>Bad Gateway</body></html>" }));
  expectedErrors.push("HTTP 502: GET /external-events/");
  await page.getByRole("link", { name: "Configurations" }).click();
  await page.getByRole("alert").getByText("the server answered 502").waitFor();
  await page.unroute(listing);
  await page.close();
});

// The overview refreshes every 15 s. Refreshes that fail (webhookd restarting behind a proxy)
// must not stop it: once the server answers again, the overview comes back on its own.
test("the overview keeps refreshing after its refreshes fail", async () => {
  const page = await newPage();
  await page.clock.install();
  await signIn(page, server.adminKey);
  await page.getByText("Pending now").waitFor();
  const stats = (url) => url.pathname === "/stats";
  let failed = 0;
  await page.route(stats, (route) => {
    failed += 1;
    return route.fulfill({
      status: 503, contentType: "application/problem+json",
      body: JSON.stringify({ title: "Unavailable", status: 503, detail: `webhookd is restarting (${failed})` }),
    });
  });
  expectedErrors.push("HTTP 503: GET /stats", "HTTP 503: GET /stats");
  await page.clock.runFor(15_000);
  await page.getByRole("alert").getByText("webhookd is restarting (1)").waitFor();
  await page.clock.runFor(15_000);
  await page.getByRole("alert").getByText("webhookd is restarting (2)").waitFor();
  await page.unroute(stats);
  await page.clock.runFor(15_000);
  await page.getByText("Pending now").waitFor();
  assert.equal(await page.getByRole("alert").count(), 0);
  assert.equal(failed, 2);
  await page.close();
});

// Browsers offer the Clipboard API only to secure pages (https://, localhost): a console opened
// over http:// from another host has none, and a secret shown once must still be copyable.
test("the copy buttons work without the Clipboard API", async () => {
  const page = await newPage();
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, "clipboard", { get: () => undefined });
    document.addEventListener("copy", (e) => {
      const field = e.target;
      window.copied = field.value?.substring(field.selectionStart, field.selectionEnd) ?? null;
    });
  });
  await signIn(page, server.adminKey);
  await page.getByRole("link", { name: "API keys" }).click();
  await page.getByLabel("Name").fill("copied by hand");
  await page.getByRole("button", { name: "Create key" }).click();
  const key = await page.locator(".secret code").textContent();
  await page.getByRole("button", { name: "Copy key" }).click();
  await page.getByRole("button", { name: "Copied", exact: true }).waitFor();
  assert.equal(await page.evaluate(() => window.copied), key);
  await page.close();
});

// Revoking a key cannot be undone: the console asks first, and revoking the key it is signed in
// with signs it out instead of leaving it failing on every request.
test("revoking a key asks first, and revoking one's own key signs out", async () => {
  const other = await admin("POST", "/api-keys", { name: "to revoke" }, 201);
  const mine = await admin("POST", "/api-keys", { name: "mine" }, 201);
  const listed = async (id) => (await admin("GET", "/api-keys", undefined, 200)).data.some((k) => k.id === id);
  const page = await newPage();
  await signIn(page, mine.key);
  await page.getByRole("link", { name: "API keys" }).click();
  const questions = [];
  let answer = false;
  page.on("dialog", (dialog) => {
    questions.push(dialog.message());
    return answer ? dialog.accept() : dialog.dismiss();
  });
  await page.getByRole("button", { name: "Revoke to revoke" }).click();
  await waitFor("the question", () => questions.length === 1);
  assert.match(questions[0], /Revoke “to revoke”\?/);
  assert.equal(await listed(other.id), true, "kept when the question is declined");

  answer = true;
  await page.getByRole("button", { name: "Revoke to revoke" }).click();
  await page.getByRole("button", { name: "Revoke to revoke" }).waitFor({ state: "detached" });
  assert.equal(await listed(other.id), false);

  await page.getByRole("button", { name: "Revoke mine" }).click();
  await page.getByLabel("API key").waitFor();
  assert.match(questions[2], /the key you are signed in with/);
  assert.equal(await listed(mine.id), false);
  await page.close();
});

// A reload while webhookd restarts must not throw the signed-in key away: only a refused key
// (401) signs the console out; any other failure is shown, with a way to try again.
test("a reload while the server is unavailable keeps the session", async () => {
  const page = await newPage();
  await signIn(page, server.adminKey);
  await page.getByText("Pending now").waitFor();  // the overview's request done: a reload aborts one in flight
  const keys = (url) => url.pathname === "/api-keys";
  await page.route(keys, (route) => route.fulfill({
    status: 503, contentType: "application/problem+json",
    body: JSON.stringify({ title: "Unavailable", status: 503, detail: "webhookd is starting" }),
  }));
  expectedErrors.push("HTTP 503: GET /api-keys");
  await page.reload();
  await page.getByRole("alert").getByText("webhookd is starting").waitFor();
  await page.unroute(keys);
  await page.getByRole("button", { name: "Try again" }).click();
  await page.getByRole("link", { name: "Configurations" }).waitFor();
  assert.equal(await page.getByLabel("API key").count(), 0);
  await page.close();
});

// A key revoked elsewhere while the console uses it: the next request is refused, and the
// console returns to the sign-in form saying why, instead of failing on every page.
test("a key revoked while signed in returns the console to the sign-in form", async () => {
  const doomed = await admin("POST", "/api-keys", { name: "revoked elsewhere" }, 201);
  const page = await newPage();
  await signIn(page, doomed.key);
  await page.getByText("Pending now").waitFor();
  await admin("DELETE", `/api-keys/${doomed.id}`, undefined, 204);
  // The configuration list and the event types ask at once; both are refused.
  expectedErrors.push("HTTP 401: GET /external-events/", "HTTP 401: GET /event-types");
  await page.getByRole("link", { name: "Configurations" }).click();
  await page.getByLabel("API key").waitFor();
  await page.getByRole("alert").getByText("unknown or revoked API key").waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await page.close();
});

test("no console errors or failed requests on any page, beyond the errors caused on purpose", () => {
  const httpErrors = problems.filter((p) => p.startsWith("HTTP "));
  const others = problems.filter((p) => !p.startsWith("HTTP "));
  assert.deepEqual(httpErrors.sort(), [...expectedErrors].sort());
  // Chromium logs every fetch answered with an error status as a console error.
  const unexpected = others.filter((p) => !/^console error: Failed to load resource: the server responded with a status of (400|401|404|502|503)/.test(p));
  assert.equal(others.length - unexpected.length, expectedErrors.length);
  assert.deepEqual(unexpected, []);
});
