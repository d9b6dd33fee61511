// The web console under console.url-prefix (started by console.sh with url-prefix: /akvo/),
// behind a reverse proxy that strips the prefix, as Akvorado expects it: a small Node proxy
// serves /akvo/... from akvo and answers 404 to anything else, so that a URL that forgot the
// prefix (an asset, an API call, a link) fails the test.
// Env: AKVO_URL (akvo itself), ARTIFACTS (screenshots), CHROMIUM (browser binary).
import { createRequire } from "node:module";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../web/package.json"));
const { chromium } = require("playwright-core");

const upstream = new URL(process.env.AKVO_URL);
const prefix = "/akvo/";
const outside = []; // requests that missed the prefix
const proxy = http.createServer((req, res) => {
  if (!req.url.startsWith(prefix)) {
    outside.push(req.url);
    res.writeHead(404, { "Content-Type": "text/plain" }).end("outside the prefix");
    return;
  }
  const forward = http.request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url.slice(prefix.length - 1), headers: req.headers },
    (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    },
  );
  forward.on("error", (e) => res.writeHead(502).end(String(e)));
  req.pipe(forward);
});
await new Promise((ok) => proxy.listen(0, "127.0.0.1", ok));
const base = `http://127.0.0.1:${proxy.address().port}${prefix}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
let failed = 0;
async function step(name, fn) {
  try {
    await fn();
    console.log(`ok: ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL: ${name}: ${e.stack ?? e}`);
  }
}

await step("url-prefix: index.html carries <base href> and relative assets", async () => {
  const html = await (await fetch(`${base}visualize/some-state`)).text();
  assert.match(html, /<base href="\/akvo\/">/);
  const asset = /src="(\.\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(asset, "a relative script");
  assert.equal((await fetch(new URL(asset, base))).status, 200);
});

await step("url-prefix: home, its widgets and API calls under the prefix", async () => {
  await page.goto(base);
  await page.getByTestId("widget-flow-rate").getByTestId("value").waitFor({ timeout: 10000 });
  assert.equal(await page.evaluate(() => document.baseURI), base);
  await page.screenshot({ path: path.join(process.env.ARTIFACTS, "prefix-home.png"), fullPage: true });
});

await step("url-prefix: navigation keeps the prefix, the graph draws, a reload works", async () => {
  await page.getByRole("link", { name: "Visualize" }).first().click();
  await page.waitForURL(`${base}visualize**`);
  await page.locator('[data-testid="graph"] canvas').first().waitFor({ timeout: 10000 });
  await page.getByTestId("apply").click();
  await page.waitForURL(new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}visualize/v1-`));
  await page.reload();
  await page.locator('[data-testid="graph"] canvas').first().waitFor({ timeout: 10000 });
  await page.screenshot({ path: path.join(process.env.ARTIFACTS, "prefix-visualize.png"), fullPage: true });
});

await step("url-prefix: documentation links and anchors stay on the page", async () => {
  await page.getByRole("link", { name: "Documentation" }).first().click();
  await page.waitForURL(`${base}docs**`);
  await page.getByTestId("docs-sidebar").getByText("Web console", { exact: false }).first().click();
  await page.waitForURL(`${base}docs/web-console`);
  const toc = page.getByTestId("docs-sidebar").locator("ul ul a").first();
  const id = (await toc.getAttribute("href")).split("#")[1];
  assert.equal(await toc.getAttribute("href"), `${prefix}docs/web-console#${id}`);
  await toc.click();
  await page.waitForURL(`${base}docs/web-console#${id}`);
  // An anchor inside the page (a heading's) and a link to another page.
  await page.getByTestId("doc").locator(`[id="${id}"] a`).click();
  await page.waitForURL(`${base}docs/web-console#${id}`);
  const other = page.getByTestId("doc").locator('a[href^="docs/"]').first();
  const target = (await other.getAttribute("href")).split("#")[0];
  await other.click();
  await page.waitForURL(new RegExp(`/akvo/${target}`));
  await page.getByTestId("doc").locator("h1").waitFor();
});

await step("url-prefix: nothing asked outside the prefix, no browser error", async () => {
  assert.deepEqual(outside, []);
  assert.deepEqual(errors, []);
});

await browser.close();
proxy.close();
process.exit(failed ? 1 : 0);
