// Browser checks of the web console against a running akvo (started by console.sh).
// Env: AKVO_URL, ARTIFACTS (screenshot folder), CHROMIUM (browser binary).
// Checks that need the console API (/api/v0/console/...) are skipped, with the reason printed,
// when this akvo does not serve it yet.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../web/package.json"));
const { chromium } = require("playwright-core");

const base = process.env.AKVO_URL;
const artifacts = process.env.ARTIFACTS;
const results = [];
let failed = 0;

async function step(name, fn) {
  const t0 = Date.now();
  try {
    const r = await fn();
    if (r && r.skip) {
      results.push(`skip: ${name} (${r.skip})`);
    } else {
      results.push(`ok: ${name} (${Date.now() - t0} ms)`);
    }
  } catch (e) {
    failed++;
    results.push(`FAIL: ${name}: ${e.stack ?? e}`);
  }
  console.log(results.at(-1));
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: "light" });
const page = await context.newPage();
const consoleErrors = [];
page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
page.on("pageerror", (e) => consoleErrors.push(`page error: ${e.message}`));
const shot = (name) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });

const apiStatus = (await fetch(`${base}/api/v0/console/configuration`)).status;
const hasApi = apiStatus === 200;
const noApi = { skip: `the console API is not served by this akvo (GET /api/v0/console/configuration → ${apiStatus})` };
console.log(hasApi ? "console API present: full checks" : `console API absent (${apiStatus}): UI-only checks`);

await step("static files: hashed assets cached for a year, SPA routes get index.html", async () => {
  const index = await fetch(`${base}/visualize/some-state`);
  assert.equal(index.status, 200);
  assert.equal(index.headers.get("cache-control"), "no-cache");
  const html = await index.text();
  // Relative to <base href="/"> (console.url-prefix, none here).
  assert.match(html, /<base href="\/">/);
  const asset = /src="\.(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(asset, "index.html references a hashed script");
  const js = await fetch(`${base}${asset}`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get("content-type"), /javascript/);
  assert.equal(js.headers.get("cache-control"), "public, max-age=31536000, immutable");
  const api = await fetch(`${base}/api/v0/nothing-here`);
  assert.equal(api.status, 404);
  assert.ok((await api.json()).message);
});

await step("home: widgets show data (or the API's error in place, never a blank page)", async () => {
  await page.goto(`${base}/`);
  await page.getByTestId("widget-flow-rate").waitFor();
  if (!hasApi) {
    // Each widget says what went wrong where it stands.
    await page.getByTestId("widget-flow-rate").getByRole("alert").waitFor({ timeout: 5000 });
    const text = await page.getByTestId("widget-exporters").innerText();
    assert.match(text, /HTTP 404/);
    await shot("home-no-api");
    return noApi;
  }
  const rate = page.getByTestId("widget-flow-rate").getByTestId("value");
  await rate.waitFor({ timeout: 10000 });
  assert.match(await rate.innerText(), /\d/);
  // The widgets say what the API says (exporter names and boundaries need enrichment: without
  // it the lists are legitimately empty and the widgets say so).
  const api = async (p) => (await fetch(`${base}/api/v0/console/${p}`)).json();
  const exporters = Number(await page.getByTestId("widget-exporters").getByTestId("value").innerText());
  assert.equal(exporters, (await api("widget/exporters")).exporters.length);
  const last = page.getByTestId("widget-last-flow").getByTestId("value");
  await last.waitFor();
  assert.match(await last.innerText(), /ExporterAddress\s+127\.0\.0\.\d+/);
  await page.locator('[data-testid="widget-graph"] canvas').first().waitFor({ timeout: 10000 });
  for (const w of (await api("configuration")).homepageTopWidgets) {
    const top = (await api(`widget/top/${w}`)).top;
    const widget = page.getByTestId(`widget-top-${w}`);
    if (top.length) await widget.locator("canvas").first().waitFor({ timeout: 10000 });
    else await widget.getByText("No traffic in the last 5 minutes.").waitFor({ timeout: 10000 });
  }
  await page.waitForTimeout(500);
  await shot("home");
  // A click on the largest slice of a pie (it starts at 12 o'clock, clockwise: 3 o'clock is in
  // it when it is above 25 %) opens Visualize filtered on it.
  for (const w of ["protocol", "etype", "src-as"]) {
    const top = (await api(`widget/top/${w}`)).top;
    if (!top.length || top[0].percent < 30) continue;
    const box = await page.getByTestId(`widget-top-${w}`).locator("canvas").first().boundingBox();
    // The ring of TopWidget.vue: centered at 25 % of the width, radii 30 % to 52 %.
    const r = (Math.min(box.width, box.height) / 2) * 0.41;
    await page.mouse.click(box.x + box.width * 0.25 + r, box.y + box.height / 2);
    await page.waitForURL(/\/visualize\/v1-/, { timeout: 5000 });
    await page.getByTestId("options").waitFor();
    const filter = await page.locator('[data-testid="filter-editor"] .cm-content').innerText();
    const dimension = { protocol: "Proto", etype: "EType", "src-as": "SrcAS" }[w];
    assert.match(filter, new RegExp(`InIfBoundary = external AND ${dimension} = `), filter);
    console.log(`  ${w} slice "${top[0].name}" opened Visualize with: ${filter}`);
    break;
  }
});

await step("documentation: sidebar, rendered page, anchors, highlighted code", async () => {
  await page.goto(`${base}/docs`);
  await page.getByTestId("doc").locator("h1").waitFor();
  const links = await page.getByTestId("docs-sidebar").locator("a").allInnerTexts();
  assert.ok(links.some((l) => /web console/i.test(l)), `sidebar: ${links}`);
  await page.getByTestId("docs-sidebar").getByText("Web console", { exact: false }).first().click();
  await page.waitForURL(/\/docs\/web-console/);
  assert.ok(await page.getByTestId("doc").locator("h2[id]").count() >= 2);
  assert.ok(await page.getByTestId("doc").locator("pre code.hljs").count() >= 1, "a highlighted code block");
  await shot("docs");
});

await step("dark mode: toggled, remembered across a reload", async () => {
  await page.goto(`${base}/docs/web-console`);
  const isDark = () => page.evaluate(() => document.documentElement.classList.contains("dark"));
  assert.equal(await isDark(), false);
  await page.getByTestId("theme-toggle").click();
  assert.equal(await isDark(), true);
  await page.reload();
  await page.getByTestId("doc").waitFor();
  assert.equal(await isDark(), true);
  await shot("docs-dark");
  await page.getByTestId("theme-toggle").click(); // dark → light
  assert.equal(await isDark(), false);
  await page.getByTestId("theme-toggle").click(); // light → system (light here)
  assert.equal(await page.evaluate(() => localStorage.getItem("akvo-theme")), null);
});

await step("visualize: options live in the URL and survive a reload", async () => {
  await page.goto(`${base}/visualize`);
  await page.getByTestId("options").waitFor();
  await page.getByTestId("graph-lines").click();
  await page.getByTestId("units").selectOption("pps");
  await page.getByTestId("range-preset").selectOption({ label: "Last hour" });
  await page.getByTestId("limit").fill("7");
  await page.getByTestId("apply").click();
  await page.waitForURL(/\/visualize\/v1-/);
  const url = page.url();
  await page.reload();
  await page.getByTestId("options").waitFor();
  assert.equal(page.url(), url);
  assert.equal(await page.getByTestId("graph-lines").getAttribute("aria-pressed"), "true");
  assert.equal(await page.getByTestId("units").inputValue(), "pps");
  assert.equal(await page.getByTestId("limit").inputValue(), "7");
  assert.equal(await page.getByTestId("range-start").inputValue(), "1 hour ago");
  // Auto-refresh as Akvorado's, offered only while the range ends now.
  const refresh = await page.getByTestId("auto-refresh").locator("option").evaluateAll((os) => os.map((o) => o.value));
  assert.deepEqual(refresh, ["0", "5", "10", "30", "60", "300"]);
  await page.getByTestId("range-end").fill("2026-01-02 00:00");
  await page.getByTestId("range-end").press("Tab");
  await page.getByTestId("auto-refresh").waitFor({ state: "detached" });
  await page.getByTestId("range-end").fill("now");
  await page.getByTestId("range-end").press("Tab");
  await page.getByTestId("auto-refresh").waitFor();
  // An unknown time is refused before any request.
  await page.getByTestId("range-start").fill("next blue moon");
  await page.getByTestId("range-start").press("Tab");
  await page.getByTestId("apply").click();
  await page.getByTestId("options").getByRole("alert").waitFor();
  assert.match(await page.getByTestId("options").getByRole("alert").innerText(), /start time/);
  if (!hasApi) {
    await page.getByTestId("graph").page().getByRole("alert").first().waitFor();
    await shot("visualize-no-api");
  }
});

async function applyAndWait() {
  const response = page.waitForResponse((r) => /\/api\/v0\/console\/graph\/(line|sankey)$/.test(r.url()));
  await page.getByTestId("apply").click();
  const r = await response;
  assert.equal(r.status(), 200, `graph: ${await r.text()}`);
  await page.getByTestId("graph-loading").waitFor({ state: "detached" });
  await page.locator('[data-testid="graph"] canvas').first().waitFor();
  return r;
}

async function setFilter(text) {
  const content = page.locator('[data-testid="filter-editor"] .cm-content');
  await content.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.type(text);
}

await step("visualize: first graph within 2 s of load", async () => {
  if (!hasApi) return noApi;
  const t0 = Date.now();
  await page.goto(`${base}/visualize`);
  await page.locator('[data-testid="graph"] canvas').first().waitFor({ timeout: 10000 });
  await page.getByTestId("table").waitFor({ timeout: 10000 });
  const elapsed = Date.now() - t0;
  console.log(`  first graph rendered in ${elapsed} ms`);
  assert.ok(elapsed < 2000, `first graph took ${elapsed} ms`);
});

await step("visualize: Akvorado's time presets, a range ending in the future (Today) draws", async () => {
  if (!hasApi) return noApi;
  await page.goto(`${base}/visualize`);
  await page.getByTestId("options").waitFor();
  // The default graph first: its answer must not be taken for this one's.
  await page.locator('[data-testid="graph"] canvas').first().waitFor({ timeout: 10000 });
  await page.getByTestId("graph-loading").waitFor({ state: "detached" });
  const labels = await page.getByTestId("range-preset").locator("option:not([disabled])").allInnerTexts();
  for (const l of ["Last evening", "Last 5 years", "Day before yesterday", "This year", "This day last week", "Previous week", "Previous month", "Previous year"]) {
    assert.ok(labels.includes(l), `presets: ${labels}`);
  }
  await page.getByTestId("range-preset").selectOption({ label: "Today" });
  assert.equal(await page.getByTestId("range-end").inputValue(), "end of today");
  const r = await applyAndWait();
  const request = JSON.parse(r.request().postData());
  assert.ok(new Date(request.end) > new Date(), `end of today is ahead: ${request.end}`);
  assert.ok((await r.json()).rows.length >= 1, "today has traffic");
});

await step("visualize: stacked by SrcAS with InIfBoundary = external; table total equals the API's", async () => {
  if (!hasApi) return noApi;
  await page.goto(`${base}/visualize`);
  await page.getByTestId("graph-stacked").click();
  await page.getByTestId("range-preset").selectOption({ label: "Last hour" });
  for (const d of await page.getByTestId("dimensions").locator("li[data-testid^=dim-] button").all()) await d.click();
  await page.getByTestId("dimension-search").fill("SrcAS");
  await page.getByRole("option", { name: "SrcAS", exact: true }).click();
  await setFilter("InIfBoundary = external");
  const r = await applyAndWait();
  const body = await r.json();
  const request = JSON.parse(r.request().postData());
  assert.deepEqual(request.dimensions, ["SrcAS"]);
  assert.equal(request.filter, "InIfBoundary = external");
  assert.ok(body.rows.length >= 1, "some series");
  const rows = await page.getByTestId("table-row").count();
  assert.equal(rows, body.rows.length);
  const apiTotal = body.average.filter((_, i) => (body.axis?.[i] ?? 1) === 1).reduce((a, b) => a + b, 0);
  const tableTotal = Number(await page.getByTestId("table-total").getAttribute("data-value"));
  assert.ok(Math.abs(tableTotal - apiTotal) <= 1e-6 * Math.max(1, apiTotal), `table ${tableTotal} vs API ${apiTotal}`);
  // Each series' total over the range (bytes, for bits/s), as the API gives it.
  const seriesTotals = await page.getByTestId("table-series-total").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-value"))));
  assert.deepEqual(seriesTotals, body.total);
  assert.match(await page.getByTestId("table-series-total").first().innerText(), /^[\d.]+[kMGTPE]?B$/);
  // The same request straight to the API gives the same total.
  const direct = await (await fetch(`${base}/api/v0/console/graph/line`, { method: "POST", body: r.request().postData() })).json();
  assert.deepEqual(direct.average, body.average);
  await page.waitForTimeout(300);
  // The filter's completion list does not stay open over the page once applied.
  assert.equal(await page.locator(".cm-tooltip-autocomplete").count(), 0, "completion list left open");
  await shot("visualize-stacked");
  // Clicking a row highlights it, clicking a value adds it to the filter.
  await page.getByTestId("table-row").first().click();
  assert.match(await page.getByTestId("table-row").first().getAttribute("class"), /bg-teal/);
  const value = await page.getByTestId("table-value").first().innerText();
  if (value !== "Other") {
    await page.getByTestId("table-value").first().click();
    assert.match(await page.locator('[data-testid="filter-editor"] .cm-content').innerText(), /AND SrcAS = \d+/);
  }
});

await step("visualize: lines, grid, heatmap and sankey", async () => {
  if (!hasApi) return noApi;
  await setFilter("InIfBoundary = external");
  for (const g of ["lines", "grid"]) {
    await page.getByTestId(`graph-${g}`).click();
    const r = await applyAndWait();
    assert.equal(JSON.parse(r.request().postData()).points, g === "grid" ? 50 : 200);
    await page.waitForTimeout(300);
    await shot(`visualize-${g}`);
  }
  // Grid is bidirectional too (as Akvorado): the reverse series go below zero in each small graph.
  assert.equal(await page.getByTestId("bidirectional").isEnabled(), true);
  await page.getByTestId("bidirectional").check();
  const bi = await applyAndWait();
  assert.equal(JSON.parse(bi.request().postData()).bidirectional, true);
  assert.ok((await bi.json()).axis.includes(2), "reverse series");
  await page.waitForTimeout(300);
  await shot("visualize-grid-bidirectional");
  await page.getByTestId("bidirectional").uncheck();
  // Heatmap: rows × time, colored by value.
  await page.getByTestId("graph-heatmap").click();
  const hm = await applyAndWait();
  assert.equal(JSON.parse(hm.request().postData()).points, 200);
  await page.waitForTimeout(300);
  await shot("visualize-heatmap");

  // Sankey of all the traffic (the demo's flows carry AS numbers but no boundary without enrichment).
  await setFilter("");
  await page.getByTestId("graph-sankey").click();
  await page.getByTestId("dimension-search").fill("DstAS");
  await page.getByRole("option", { name: "DstAS", exact: true }).click();
  const r = await applyAndWait();
  assert.match(r.url(), /graph\/sankey$/);
  const body = await r.json();
  assert.ok(body.links.length >= 1, "sankey links");
  await page.waitForTimeout(300);
  await shot("visualize-sankey");
  // Bidirectional sankey: the reverse links come with axis 2 (drawn as a mirrored right half).
  await page.getByTestId("bidirectional").check();
  const rb = await applyAndWait();
  assert.equal(JSON.parse(rb.request().postData()).bidirectional, true);
  const bbody = await rb.json();
  assert.ok(bbody.links.some((l) => l.axis === 2), "reverse sankey links");
  assert.ok(bbody.links.some((l) => l.axis === 1), "direct sankey links");
  await page.waitForTimeout(300);
  const directions = await page.getByTestId("table-direction").allInnerTexts();
  assert.ok(directions.includes("Reverse") && directions.includes("Direct"), `directions: ${directions}`);
  await shot("visualize-sankey-bidirectional");
  await page.getByTestId("bidirectional").uncheck();
});

await step("visualize: dragging across the heatmap or the stacked graph zooms on that range", async () => {
  if (!hasApi) return noApi;
  await page.getByTestId("range-preset").selectOption({ label: "Last hour" });
  await page.getByTestId("bidirectional").uncheck();
  await setFilter("");
  for (const g of ["heatmap", "stacked"]) {
    await page.getByTestId(`graph-${g}`).click();
    const shown = JSON.parse((await applyAndWait()).request().postData());
    await page.waitForTimeout(300);
    const box = await page.locator('[data-testid="graph"] canvas').first().boundingBox();
    const y = box.y + box.height * 0.4;
    const zoomed = page.waitForResponse((r) => /\/api\/v0\/console\/graph\/line$/.test(r.url()), { timeout: 10000 });
    await page.mouse.move(box.x + box.width * 0.45, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, y, { steps: 8 });
    await page.mouse.move(box.x + box.width * 0.75, y, { steps: 8 });
    await page.mouse.up();
    const z = JSON.parse((await zoomed).request().postData());
    const [s0, e0, s1, e1] = [shown.start, shown.end, z.start, z.end].map((t) => Date.parse(t));
    // Inside the range shown and shorter (the axis may begin at a coarse table's bucket
    // before the range, so the share of the range selected is not the share of the canvas).
    assert.ok(s1 >= s0 - 60e3 && e1 <= e0 + 60e3 && e1 - s1 >= 60e3 && e1 - s1 <= (e0 - s0) * 0.75,
      `${g} zoom: ${shown.start} → ${shown.end} became ${z.start} → ${z.end}`);
    console.log(`  ${g}: dragging zoomed to ${z.start} → ${z.end}`);
    await page.getByTestId("graph-loading").waitFor({ state: "detached" });
    await shot(`visualize-${g}-zoomed`);
  }
  await page.getByTestId("range-preset").selectOption({ label: "Last hour" });
  await applyAndWait();
});

await step("filter editor: a bad filter shows the error, completion offers columns", async () => {
  if (!hasApi) return noApi;
  await setFilter("InIfBoundary = external AND");
  await page.getByTestId("filter-error").waitFor({ timeout: 5000 });
  assert.match(await page.getByTestId("filter-error").innerText(), /line 1, column/);
  await page.locator(".cm-lintRange-error, .cm-lintPoint-error").first().waitFor();
  await shot("visualize-filter-error");
  await page.keyboard.type(" SrcC");
  await page.keyboard.press("Control+Space");
  const option = page.locator(".cm-tooltip-autocomplete li").first();
  await option.waitFor({ timeout: 5000 });
  const labels = await page.locator(".cm-tooltip-autocomplete li").allInnerTexts();
  assert.ok(labels.some((l) => /SrcCountry/.test(l)), `completions: ${labels}`);
  await page.waitForTimeout(200); // CodeMirror ignores Enter just after the list opens
  await page.keyboard.press("Enter");
  assert.match(await page.locator('[data-testid="filter-editor"] .cm-content').innerText(), /AND SrcCountry $/);
});

await step("saved filters: save, reuse, delete", async () => {
  if (!hasApi) return noApi;
  await setFilter("InIfBoundary = external AND Proto = \"TCP\"");
  await page.getByTestId("saved-filters").click();
  const description = `e2e ${Date.now()}`;
  await page.getByTestId("saved-description").fill(description);
  await page.getByTestId("saved-save").click();
  const item = page.getByTestId("saved-list").getByText(description);
  await item.waitFor({ timeout: 5000 });
  await shot("visualize-saved-filters");
  await page.getByTestId("saved-filters").click(); // closes the panel
  await page.getByTestId("saved-list").waitFor({ state: "detached" });
  await setFilter("SrcAS = 1");
  await page.getByTestId("saved-filters").click();
  await page.getByTestId("saved-list").getByText(description).click();
  // The editor takes the saved filter after the click's handlers ran: poll (reading it at once
  // failed on a loaded CI machine, still showing the previous filter).
  const editor = page.locator('[data-testid="filter-editor"] .cm-content');
  const wanted = 'InIfBoundary = external AND Proto = "TCP"';
  let text = "";
  for (let i = 0; i < 50 && (text = await editor.innerText()) !== wanted; i++) await page.waitForTimeout(100);
  assert.equal(text, wanted);
  await page.getByTestId("saved-filters").click();
  await page.getByTestId("saved-list").locator("li", { hasText: description }).getByRole("button", { name: /Delete/ }).click();
  await page.getByTestId("saved-list").getByText(description).waitFor({ state: "detached", timeout: 5000 });
});

await step("no errors in the browser console", async () => {
  if (!hasApi) return noApi; // without the API every widget's 404 is logged by the browser
  assert.deepEqual(consoleErrors, []);
});

await browser.close();
console.log(`\n${results.length - failed} passed or skipped, ${failed} failed; screenshots in ${artifacts}`);
process.exit(failed ? 1 : 0);
