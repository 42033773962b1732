// A real Prometheus server (Debian package `prometheus`) scrapes the /metrics
// of a running `jiritsu serve` every second with an ops token while events are
// ingested over HTTP; the test then asserts through Prometheus's HTTP query
// API that the lag and ingestion series exist and move:
//   * the accepted-ingestion counter as scraped equals what the 202 answers
//     reported, and was lower at an earlier scrape;
//   * the per-partition lag series (records and event-time seconds) exist,
//     the total lag was above 0 at some scrape during ingestion and is 0 once
//     the runner caught up; the runner's processed counter grew.
// Skips (exit 77) when the prometheus binary is absent.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { Serve, check, fail, freePort, generateEvents, skip, sleep, tempDir, waitFor, which } from './serve_fixture.mjs';

const prometheusBinary = process.env.PROMETHEUS || which('prometheus');
if (!prometheusBinary) skip('prometheus not found (Debian package prometheus; ops/setup installs it)');

const dir = tempDir('jiritsu-prometheus-');
const serve = new Serve({ dir });
let prometheus = null;

async function query(base, expr, time) {
  const url = base + '/api/v1/query?query=' + encodeURIComponent(expr) + (time ? '&time=' + time : '');
  const response = await fetch(url);
  const body = await response.json();
  if (body.status !== 'success') throw new Error('query ' + expr + ': ' + JSON.stringify(body));
  return body.data.result;  // instant vector: [{metric, value: [t, "v"]}]
}

const scalar = (result) => (result.length ? Number(result[0].value[1]) : null);

async function main() {
  const started = Date.now();
  const events = generateEvents(dir, { employees: 400, months: 24 });
  await serve.start();
  const opsToken = serve.token('prometheus', 'ops');
  const tokenFile = path.join(dir, 'ops.token');
  fs.writeFileSync(tokenFile, opsToken, { mode: 0o600 });

  const promPort = await freePort();
  const promBase = 'http://127.0.0.1:' + promPort;
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: jiritsu',
    '    scrape_interval: 1s',
    '    scrape_timeout: 1s',
    '    metrics_path: /metrics',
    '    authorization:',
    '      type: Bearer',
    '      credentials_file: ' + tokenFile,
    '    static_configs:',
    "      - targets: ['127.0.0.1:" + serve.port + "']",
    '',
  ].join('\n'));
  const promLog = fs.openSync(path.join(dir, 'prometheus.log'), 'w');
  prometheus = spawn(prometheusBinary, [
    '--config.file=' + path.join(dir, 'prometheus.yml'),
    '--storage.tsdb.path=' + path.join(dir, 'tsdb'),
    '--web.listen-address=127.0.0.1:' + promPort,
    '--log.level=warn',
  ], { stdio: ['ignore', promLog, promLog] });
  let promExit = null;
  prometheus.on('exit', (code) => { promExit = code; });

  // Prometheus up and scraping jiritsu with the token (up == 1).
  await waitFor('Prometheus to scrape jiritsu (log: ' + path.join(dir, 'prometheus.log') + ')', 30000, async () => {
    if (promExit !== null) fail('prometheus exited with ' + promExit + ': ' + fs.readFileSync(path.join(dir, 'prometheus.log'), 'utf8'));
    return scalar(await query(promBase, 'up{job="jiritsu"}')) === 1;
  }, 250);
  console.log('prometheus scrapes jiritsu on port ' + serve.port);

  // Ingest in batches while it scrapes; keep going (ids rewritten after the
  // first round, so nothing is a duplicate) until a scrape saw a non-zero
  // lag, at most ~25 s.
  let accepted = 0;
  let round = 0;
  const ingestDeadline = Date.now() + 25000;
  let sawLag = false;
  while (Date.now() < ingestDeadline && !(sawLag && round >= 1)) {
    const batch = round === 0 ? events : events.map((e) => e.replace(/"id":"([^"]*)"/, '"id":"$1-r' + round + '"'));
    for (let i = 0; i < batch.length; i += 1000) {
      const { status, body } = await serve.post(batch.slice(i, i + 1000));
      if (status === 429) { await sleep(200); i -= 1000; continue; }
      if (status !== 202) fail('POST /v1/events answered ' + status + ': ' + body.slice(0, 300));
      accepted += JSON.parse(body).accepted;
      await sleep(50);
    }
    sawLag = (scalar(await query(promBase, 'max_over_time(jiritsu_consumer_lag_records_total[5m])')) || 0) > 0;
    ++round;
  }
  console.log('ingested ' + accepted + ' events over HTTP in ' + round + ' round(s)');

  // Ingest counter as scraped == what the 202 answers said.
  const acceptedExpr = 'sum(jiritsu_ingest_events_total{outcome="accepted"})';
  await waitFor('the scraped accepted counter to reach ' + accepted, 15000,
    async () => scalar(await query(promBase, acceptedExpr)) === accepted, 500);
  check(true, 'Prometheus sees ' + acceptedExpr + ' = ' + accepted);
  const earliest = scalar(await query(promBase, 'min_over_time(' + acceptedExpr + '[5m:1s])'));
  check(earliest !== null && earliest < accepted,
    'the ingest series moved: ' + earliest + ' at an early scrape, ' + accepted + ' now');
  const types = await query(promBase, 'jiritsu_ingest_events_total{outcome="accepted"}');
  check(types.length >= 5, 'accepted events per type: ' + types.length + ' series');

  // Lag series.
  const lagSeries = await query(promBase, 'jiritsu_consumer_lag_records');
  check(lagSeries.length >= 4, 'jiritsu_consumer_lag_records has a series per partition (' + lagSeries.length + ')');
  const lagSeconds = await query(promBase, 'jiritsu_consumer_lag_seconds');
  check(lagSeconds.length >= 1, 'jiritsu_consumer_lag_seconds exists (' + lagSeconds.length + ' series)');
  const maxLag = scalar(await query(promBase, 'max_over_time(jiritsu_consumer_lag_records_total[5m])'));
  check(maxLag > 0, 'the lag moved: a scrape during ingestion saw ' + maxLag + ' records of lag');
  await waitFor('the scraped lag to return to 0', 30000,
    async () => scalar(await query(promBase, 'jiritsu_consumer_lag_records_total')) === 0, 500);
  check(true, 'the scraped lag returned to 0 once the runner caught up');
  const processed = scalar(await query(promBase, 'increase(jiritsu_events_processed_total[5m])'));
  check(processed > 0, 'the runner processed events while scraped (increase ' + processed + ')');
  // A loaded CI run once scraped lag 0 while positions were 31 807 of 32 975:
  // the lag was read against the sampler's stale end offsets (fixed in
  // RunnerMonitor: ends take the runtime's newer reports too). Ends are
  // still sampled, so wait for a scrape where positions cover every event.
  let position = null;
  await waitFor('the scraped consumer positions to cover the ' + accepted + ' accepted events', 15000, async () => {
    position = scalar(await query(promBase, 'sum(jiritsu_consumer_position)'));
    return position >= accepted;
  }, 500);
  check(position >= accepted, 'consumer positions (' + position + ') cover the accepted events (' + accepted + ')');
  console.log('prometheus_test passed in ' + ((Date.now() - started) / 1000).toFixed(1) + ' s');
}

try {
  await main();
} catch (error) {
  if (!process.exitCode) console.error(error);
  process.exitCode = 1;
} finally {
  if (prometheus && prometheus.exitCode === null) prometheus.kill('SIGTERM');
  await serve.stop();
  if (process.exitCode) {
    console.error('kept for inspection: ' + dir);
  } else {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
