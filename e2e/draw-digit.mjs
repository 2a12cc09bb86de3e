// Draws digits stroke by stroke on the `lenet serve` page in Debian's Chromium (headless, driven by
// playwright-core) and reports, as one JSON object on stdout, what the page then showed: the predicted class, the
// probabilities, and for every feature-map tile how many of its pixels were painted. The xunit test
// LeNet.Gpu.Tests.Web.BrowserTests runs this script and asserts on that report.
//
//   node draw-digit.mjs --url http://127.0.0.1:PORT/ --digits 1,7 --screenshots DIR [--chromium /usr/bin/chromium]
//        [--input mouse|touch|alternate]     (alternate: the first digit by touch, the next with the mouse, …)
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function options(argv) {
  const o = { chromium: '/usr/bin/chromium', digits: '1', screenshots: '.', input: 'alternate' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in o) && key !== 'url') throw new Error(`unknown option ${argv[i]}`);
    o[key] = argv[i + 1];
  }
  if (!o.url) throw new Error('--url is required');
  return o;
}

// Strokes in the pad's unit square, each a list of points, as a person would draw the digit.
const STROKES = {
  // One stroke from top to bottom, leaning slightly as handwriting does.
  '1': [Array.from({ length: 24 }, (_, i) => ({ x: 0.53 - 0.06 * i / 23, y: 0.14 + 0.72 * i / 23 }))],
  // One closed ellipse, started at the top and drawn anticlockwise.
  '0': [Array.from({ length: 49 }, (_, i) => {
    const a = -Math.PI / 2 - 2 * Math.PI * i / 48;
    return { x: 0.5 + 0.28 * Math.cos(a), y: 0.5 + 0.34 * Math.sin(a) };
  })],
  // Two strokes: the top bar, then the long diagonal.
  '7': [
    Array.from({ length: 12 }, (_, i) => ({ x: 0.27 + 0.46 * i / 11, y: 0.18 })),
    Array.from({ length: 20 }, (_, i) => ({ x: 0.73 - 0.28 * i / 19, y: 0.18 + 0.68 * i / 19 })),
  ],
};

// With the mouse, or with a finger: raw touch events through the DevTools protocol, which the page sees as
// pointer events of type 'touch' (Playwright's own touchscreen only taps).
async function drawStrokes(page, strokes, input) {
  const box = await page.locator('#pad').boundingBox();
  const cdp = input === 'touch' ? await page.context().newCDPSession(page) : null;
  const touch = (type, points) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints: points });
  for (const stroke of strokes) {
    const at = p => ({ x: box.x + p.x * box.width, y: box.y + p.y * box.height });
    if (cdp) {
      await touch('touchStart', [at(stroke[0])]);
      for (const p of stroke.slice(1)) await touch('touchMove', [at(p)]);
      await touch('touchEnd', []);
      continue;
    }
    await page.mouse.move(at(stroke[0]).x, at(stroke[0]).y);
    await page.mouse.down();
    for (const p of stroke.slice(1)) await page.mouse.move(at(p).x, at(p).y, { steps: 2 });
    await page.mouse.up();
  }
  await cdp?.detach();
}

// Waits until the page has shown the answer for its latest picture.
async function settled(page) {
  await page.waitForFunction(() => {
    const d = document.body.dataset;
    return d.state === 'idle' && d.renderedSeq === d.drawSeq;
  }, null, { timeout: 60_000 });
}

async function report(page) {
  return page.evaluate(() => {
    const tiles = [...document.querySelectorAll('#layers canvas')].map(canvas => {
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      let painted = 0;
      const greys = new Set();
      for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0) { painted++; greys.add(data[i]); }
      return { layer: canvas.dataset.layer, map: Number(canvas.dataset.map), pixels: canvas.width * canvas.height, painted, greys: greys.size };
    });
    const predicted = document.getElementById('predicted').dataset.class;
    return {
      predicted: predicted === '' ? null : Number(predicted),
      probabilities: [...document.querySelectorAll('#bars li .p')].map(p => parseFloat(p.textContent) / 100),
      status: document.getElementById('status').textContent,
      pointer_types: (document.getElementById('pad').dataset.pointerTypes ?? '').split(',').filter(Boolean),
      tiles,
    };
  });
}

const o = options(process.argv.slice(2));
const profile = mkdtempSync(join(tmpdir(), 'lenet-e2e-chromium-'));
mkdirSync(o.screenshots, { recursive: true });
const context = await chromium.launchPersistentContext(profile, {
  executablePath: o.chromium,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run'],
  viewport: { width: 1200, height: 1100 },
  hasTouch: true,
});
const result = { model: null, device: null, digits: [], foreign_requests: [], console_errors: [] };
try {
  const page = context.pages()[0] ?? await context.newPage();
  const origin = new URL(o.url).origin;
  page.on('request', r => { if (!r.url().startsWith(origin)) result.foreign_requests.push(r.url()); });
  page.on('console', m => { if (m.type() === 'error') result.console_errors.push(m.text()); });
  page.on('pageerror', e => result.console_errors.push(String(e)));
  await page.goto(o.url);
  await page.waitForFunction(() => document.body.dataset.state === 'idle', null, { timeout: 30_000 });
  result.model = await page.textContent('#model');
  result.device = await page.textContent('#device');
  // The page records the pointer type of each stroke; the report says which kinds it saw.
  for (const [i, digit] of o.digits.split(',').entries()) {
    if (!STROKES[digit]) throw new Error(`no strokes for digit ${digit} (have ${Object.keys(STROKES)})`);
    const input = o.input === 'alternate' ? (i % 2 === 0 ? 'touch' : 'mouse') : o.input;
    await page.click('#clear');
    await drawStrokes(page, STROKES[digit], input);
    await settled(page);
    const shot = join(o.screenshots, `serve-page-digit-${digit}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    result.digits.push({ drawn: Number(digit), input, screenshot: shot, ...await report(page) });
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
