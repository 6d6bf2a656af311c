// What every dashboard flow shares: headless Chromium (Debian's, never a downloaded one),
// sign-in with a dev TEST KEY wallet the way a person does it, screenshots, and the result line.
//
// A flow prints one JSON object on stdout (what it saw) and exits 0; on any failure it prints
// {"error": ...} with a screenshot of the page as it was, and exits 1.
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { chromium } from "playwright-core";

export const STEP_TIMEOUT = 20_000;

/** Launch Chromium and open a page; `errors` collects page errors and console errors. */
export async function openBrowser(outDir) {
  mkdirSync(outDir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.FAIRWHEEL_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // Root in a container has no user namespaces for Chromium's sandbox; the pages are the
    // test server's own.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(STEP_TIMEOUT);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    // A 4xx the page handles (it shows the reason) is logged by Chromium as a failed resource.
    if (msg.type() === "error" && !/Failed to load resource/.test(msg.text())) errors.push(`console: ${msg.text()}`);
  });
  page.on("dialog", (dialog) => dialog.accept());
  return { browser, context, page, errors };
}

/** A full-page screenshot `NAME.png` in `outDir`; returns its path. */
export async function shot(page, outDir, name) {
  const path = join(outDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** A promise of the page's next navigation; awaited later, and never an unhandled rejection
 * if the flow fails before it is awaited. */
export function navigation(page) {
  const next = page.waitForNavigation();
  next.catch(() => {});
  return next;
}

/** Sign in with the TEST KEY wallet `name` from the header's wallet menu (as a person does). */
export async function signIn(page, url, name, path = "/") {
  await page.goto(url + path);
  const value = await page.$$eval("#dev-wallets option", (options, who) => {
    const found = options.find((o) => o.textContent.includes(`· ${who} (`));
    return found ? found.value : null;
  }, name);
  if (!value) throw new Error(`no TEST KEY wallet named ${name} in the menu`);
  await page.selectOption("#wallet-choice", value);
  const reloaded = navigation(page);
  await page.click('[data-action="login"]');
  await reloaded;
  await page.waitForSelector('[data-action="logout"]');
  const shown = await page.getAttribute(".wallet .addr", "title");
  if (!shown || shown.toLowerCase() !== value.toLowerCase()) throw new Error(`signed in as ${shown}, not ${value}`);
  return value;
}

/** The text of the page's status line (what the last action said). */
export const statusText = (page) => page.textContent("#status").then((t) => (t || "").trim());

/** Run a flow: `body({page, errors, outDir})` returns the result; print it as one JSON line. */
export async function runFlow(name, body) {
  const [url, outDir, ...rest] = process.argv.slice(2);
  if (!url || !outDir) {
    console.error(`usage: node ${name}.mjs URL OUT_DIR [ARGS…]`);
    process.exit(2);
  }
  const session = await openBrowser(outDir);
  const { browser, page, errors } = session;
  try {
    const result = await body({ ...session, url, outDir, args: rest });
    console.log(JSON.stringify({ flow: name, ...result, errors }));
    await browser.close();
    process.exit(0);
  } catch (err) {
    let screenshot = null;
    try { screenshot = await shot(page, outDir, `${name}-failure`); } catch (e) { /* the page is gone */ }
    const status = await statusText(page).catch(() => "");
    console.log(JSON.stringify({ flow: name, error: String(err && err.stack || err), status, screenshot, errors }));
    await browser.close();
    process.exit(1);
  }
}

/** The pool plots on the page (web/plots.py), as drawn: per figure its chart's title, its
 * rendered size, how many marks it has, and per column its segments' values (base units). */
export async function readPlots(page, pool = 1) {
  return page.$$eval(`section.plots[data-pool="${pool}"] figure[data-plot]`, (figures) => figures.map((f) => {
    const svg = f.querySelector("svg.chart");
    const box = svg.getBoundingClientRect();
    const columns = {};
    for (const g of svg.querySelectorAll("g.column")) {
      columns[g.dataset.category] = {
        total: g.dataset.total,
        parts: Object.fromEntries(Array.from(g.querySelectorAll("rect")).map((r) => [r.dataset.series, r.dataset.value])),
      };
    }
    const drawn = Array.from(svg.querySelectorAll("rect[data-value], circle[data-value]"))
      .filter((m) => { const b = m.getBoundingClientRect(); return b.width > 0 && b.height > 0; }).length;
    return {
      plot: f.dataset.plot, title: svg.getAttribute("aria-label"), width: box.width, height: box.height,
      drawn, empty: svg.textContent.includes("no data yet"), columns,
      bars: Object.fromEntries(Array.from(svg.querySelectorAll("rect[data-label]")).map((r) => [r.dataset.label, r.dataset.value])),
      caption: (f.querySelector("figcaption") || { textContent: "" }).textContent.replace(/\s+/g, " ").trim(),
    };
  }));
}

/** Collect every distinct text of `selector` inside `root` as it changes (a live status line);
 * read them back with `seenTexts(page, key)`. */
export async function watchTexts(page, key, root, selector) {
  await page.evaluate(({ key, root, selector }) => {
    const seen = (window.__seen = window.__seen || {})[key] = [];
    const box = document.querySelector(root);
    const note = () => {
      const node = box.querySelector(selector);
      const text = node ? node.textContent.trim() : "";
      if (text && seen[seen.length - 1] !== text) seen.push(text);
    };
    new MutationObserver(note).observe(box, { subtree: true, childList: true, characterData: true });
  }, { key, root, selector });
}

export const seenTexts = (page, key) => page.evaluate((k) => (window.__seen || {})[k] || [], key);
