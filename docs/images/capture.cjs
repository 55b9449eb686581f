// Retakes the two screenshots of docs/images/ from a real run (see docs/reports.md,
// "Screenshots"). Needs Debian's chromium and `npm install playwright-core speedscope` in the
// directory it is run from (say /tmp/shots); nothing is fetched from the network.
//
//   cd /tmp/shots
//   node /path/to/pkernel/docs/images/capture.cjs report /tmp/demo-report/report.html planned-vs-observed.png
//   node /path/to/pkernel/docs/images/capture.cjs trace /tmp/demo-trace.json trace-in-speedscope.png 209
//
// `report`: the "Planned vs observed" section of report.html, full width, 1000 px wide.
// `trace`: the trace JSON loaded into speedscope's "Time Order" view through its file input,
// zoomed 5 steps around x = ANCHOR px of the whole run (209: the demo's 9th major frame),
// with the mouse on the first window there. Shrink the PNGs with
// `pngquant --quality=70-95 --strip` and `optipng -o5`.
'use strict';
const fs = require('fs');
const path = require('path');
// playwright-core and speedscope come from the node_modules of the current directory.
const local = require('module').createRequire(path.join(process.cwd(), 'capture'));
const { chromium } = local('playwright-core');

const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function browser(width, height) {
  const dir = fs.mkdtempSync('/tmp/pkernel-shots-');
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium', headless: true, args: FLAGS,
    viewport: { width, height },
  });
  return { ctx, page: await ctx.newPage(), dir };
}

async function report(html, out) {
  const { ctx, page, dir } = await browser(1000, 900);
  await page.goto('file://' + path.resolve(html));
  const box = await page.locator('section#observed').boundingBox();
  await page.screenshot({
    path: out, fullPage: true,
    clip: { x: 0, y: Math.max(0, box.y - 8), width: 1000, height: box.height + 16 },
  });
  await ctx.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

async function trace(json, out, anchor) {
  const { ctx, page, dir } = await browser(1000, 200);
  const warnings = [];
  page.on('console', (m) => {
    if (m.type() === 'warning' && !/GL Driver/.test(m.text())) warnings.push(m.text());
  });
  const app = local.resolve('speedscope/dist/release/index.html');
  await page.goto('file://' + app);
  await page.locator('input[type=file]').first().setInputFiles(path.resolve(json));
  await page.waitForTimeout(2000);
  await page.mouse.move(anchor, 150);
  await page.keyboard.down('Control');
  for (let i = 0; i < 5; i++) {
    await page.mouse.wheel(0, -20);
    await page.waitForTimeout(30);
  }
  await page.keyboard.up('Control');
  await page.mouse.move(300, 152);
  await page.waitForTimeout(500);
  await page.screenshot({ path: out });
  await ctx.close();
  fs.rmSync(dir, { recursive: true, force: true });
  // speedscope warns when events of one thread do not nest (e.g. overlapping windows).
  if (warnings.length) throw new Error('speedscope import warnings:\n' + warnings.join('\n'));
}

const [what, input, out, anchor] = process.argv.slice(2);
const run = what === 'report' ? report(input, out)
  : what === 'trace' ? trace(input, out, Number(anchor || 2))
  : Promise.reject(new Error('usage: capture.cjs report|trace INPUT OUT.png [ANCHOR]'));
run.catch((e) => { console.error(e.message || e); process.exit(1); });
