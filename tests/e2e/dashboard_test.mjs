// The dashboard in headless Chromium (Debian `chromium`, driven by
// playwright-core from npm with executablePath): `jiritsu serve` with
// generated data ingested over HTTP and static_dir = the built dashboard
// (<build>/dashboard, from dashboard/build). Once the views settled (the page
// fetches the KPIs once), the page is opened, an hr token is typed into the
// token field, and the test checks that
//   * every chart is a Chart.js chart on a canvas with painted pixels;
//   * the numbers drawn are the API's: the funnel equals the KPI line of the
//     selected org unit and period, the step chart equals
//     /v1/step-distribution, the population tile equals the KPI population,
//     and they are not zero;
//   * the lag/throughput charts grew from /metrics samples.
// A full-page screenshot goes to <build>/test-output/dashboard.png (printed).
// Skips (exit 77) when chromium, playwright-core or the built dashboard is absent.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Serve, check, fail, generateEvents, skip, tempDir } from './serve_fixture.mjs';

const buildDir = process.env.JIRITSU_BUILD_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../build');
const staticDir = path.join(buildDir, 'dashboard');
const npmDir = path.join(buildDir, 'dashboard-npm');
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(chromium)) skip('chromium not found at ' + chromium + ' (Debian package chromium; ops/setup installs it)');
if (!fs.existsSync(path.join(staticDir, 'index.html')) || !fs.existsSync(path.join(npmDir, 'node_modules/playwright-core'))) {
  skip('the dashboard is not built in ' + buildDir + ' (run dashboard/build; ops/setup does)');
}
const { chromium: playwright } = createRequire(path.join(npmDir, 'package.json'))('playwright-core');

const dir = tempDir('jiritsu-dashboard-');
const outputDir = path.join(buildDir, 'test-output');
const serve = new Serve({ dir, staticDir });
let browser = null;

const CHARTS = ['chart-lag', 'chart-throughput', 'chart-funnel', 'chart-activity', 'chart-units', 'chart-steps', 'chart-rejections'];

async function main() {
  const started = Date.now();
  const events = generateEvents(dir, { employees: 150, months: 18 });
  await serve.start();
  const accepted = await serve.ingestAll(events);
  console.log('ingested ' + accepted + ' generated events over HTTP');
  const hr = serve.token('hr-dashboard', 'hr');
  // The page loads the KPIs once, so they must be final before it opens.
  await serve.settled(hr);
  check((await serve.get('/v1/org-units', hr)).root_org_units.length > 0, 'the views settled and have org units');

  browser = await playwright.launch({
    executablePath: chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // A fresh profile per run (launch() uses a new temporary --user-data-dir).
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => { if (message.type() === 'error') pageErrors.push(message.text()); });
  const externalRequests = [];
  page.on('request', (request) => { if (!request.url().startsWith(serve.base)) externalRequests.push(request.url()); });

  await page.goto(serve.base + '/?sample_ms=500');
  check((await page.title()) === 'Jiritsu dashboard', 'the dashboard is served at / (static_dir)');
  await page.fill('#token', hr);
  await page.click('#token-form button[type=submit]');
  await page.waitForFunction(() => {
    const d = window.jiritsuDashboard;
    return d && d.ready.hr && d.samples.length >= 3;
  }, null, { timeout: 30000 });
  check(await page.evaluate(() => sessionStorage.getItem('jiritsu.token') !== null), 'the token is kept in sessionStorage');
  const status = await page.textContent('#status');
  check(!(await page.$eval('#status', (el) => el.classList.contains('error'))), 'no error in the status line: ' + status);

  // A screenshot now (kept if a check fails) and again at the end.
  fs.mkdirSync(outputDir, { recursive: true });
  const screenshot = path.join(outputDir, 'dashboard.png');
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log('screenshot: ' + screenshot);

  // Every chart: a Chart.js instance on a canvas that has painted pixels.
  const painted = await page.evaluate((ids) => ids.map((id) => {
    const chart = window.jiritsuDashboard.charts[id];
    const canvas = document.getElementById(id);
    if (!chart || !canvas || chart.canvas !== canvas) return [id, 0];
    const { width, height } = canvas;
    const pixels = canvas.getContext('2d').getImageData(0, 0, width, height).data;
    let opaque = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) ++opaque;
    return [id, opaque];
  }), CHARTS);
  for (const [id, opaque] of painted) check(opaque > 500, id + ' is a drawn Chart.js canvas (' + opaque + ' painted pixels)');

  // The numbers drawn are the API's.
  const shown = await page.evaluate(() => {
    const d = window.jiritsuDashboard;
    const data = (id) => d.charts[id].data.datasets.map((s) => s.data);
    return {
      org: document.getElementById('org').value,
      period: document.getElementById('period').value,
      population: document.getElementById('stat-population').textContent,
      funnel: data('chart-funnel')[0],
      funnelLabels: d.charts['chart-funnel'].data.labels,
      steps: data('chart-steps'),
      stepLabels: d.charts['chart-steps'].data.labels,
      lagPoints: d.charts['chart-lag'].data.labels.length,
      throughput: data('chart-throughput'),
      rejections: data('chart-rejections')[0],
    };
  });
  console.log('page shows org ' + shown.org + ', period ' + shown.period);
  const kpi = await serve.get('/v1/org-units/' + encodeURIComponent(shown.org) + '/kpis?period=' + shown.period, hr);
  const line = kpi.rolled_up.line;
  const key = (prefix) => Object.keys(line).find((k) => k.startsWith(prefix));
  const expectedFunnel = [line.interviewed, line[key('started_learning_')].count, line[key('completed_learning_')].count,
    line[key('declared_')].count, line[key('finalized_')].count];
  check(JSON.stringify(shown.funnel) === JSON.stringify(expectedFunnel),
    'the funnel equals the API line: shown ' + JSON.stringify(shown.funnel) + ', API ' + JSON.stringify(expectedFunnel));
  check(expectedFunnel[0] > 0 && expectedFunnel[1] > 0, 'the funnel has real (non-zero) numbers');
  check(Number(shown.population.replace(/\D/g, '')) === kpi.rolled_up.population && kpi.rolled_up.population > 0,
    'the population tile shows the API population ' + kpi.rolled_up.population);

  const dist = await serve.get('/v1/step-distribution?org_unit=' + encodeURIComponent(shown.org), hr);
  const programs = dist.programs.filter((p) => p.steps.some((n) => n > 0));
  check(programs.length > 0, 'the API step distribution has programmes with employees (' + programs.length + ')');
  check(JSON.stringify(shown.stepLabels) === JSON.stringify(programs.map((p) => p.name || p.program)),
    'the step chart shows the API programmes ' + JSON.stringify(shown.stepLabels));
  const depth = Math.max(...programs.map((p) => p.steps.length));
  const expectedSteps = [];
  for (let s = 0; s < depth; ++s) expectedSteps.push(programs.map((p) => p.steps[s] || 0));
  check(JSON.stringify(shown.steps) === JSON.stringify(expectedSteps), 'the step chart equals /v1/step-distribution');
  check(expectedSteps.slice(1).some((row) => row.some((n) => n > 0)), 'someone reached a step (real numbers)');

  const rejections = await serve.get('/v1/rejections?limit=500', hr);
  check(shown.rejections.reduce((a, b) => a + b, 0) === rejections.rejections.length && rejections.rejections.length > 0,
    'the rejection chart counts the API page (' + rejections.rejections.length + ' rows)');
  check(shown.lagPoints >= 3, 'the lag chart has ' + shown.lagPoints + ' samples of /metrics over time');
  check(shown.throughput[1].some((v) => Number.isFinite(v)), 'the throughput chart has rates');

  // Ingest more while the page samples /metrics: the throughput chart moves.
  let extra = 0;
  for (let round = 1; round <= 3; ++round) {
    extra += await serve.ingestAll(events.slice(0, 2000).map((e) => e.replace(/"id":"([^"]*)"/, '"id":"$1-x' + round + '"')));
    await page.waitForTimeout(600);
  }
  const ingestedRate = await page.waitForFunction(() => {
    const d = window.jiritsuDashboard;
    const best = Math.max(0, ...d.charts['chart-throughput'].data.datasets[0].data);
    return best > 0 ? best : null;
  }, null, { timeout: 15000 }).then((handle) => handle.jsonValue());
  check(ingestedRate > 0, 'after ' + extra + ' more events the throughput chart shows ' + ingestedRate.toFixed(0) + ' events/s ingested');
  await page.screenshot({ path: screenshot, fullPage: true });

  check(pageErrors.length === 0, 'no page errors' + (pageErrors.length ? ': ' + pageErrors.join('; ') : ''));
  check(externalRequests.length === 0, 'no request left the server (no CDN)' + (externalRequests.length ? ': ' + externalRequests.join(' ') : ''));

  console.log('dashboard_test passed in ' + ((Date.now() - started) / 1000).toFixed(1) + ' s');
}

try {
  await main();
} catch (error) {
  if (!process.exitCode) console.error(error);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  await serve.stop();
  if (process.exitCode) {
    console.error('kept for inspection: ' + dir);
  } else {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
