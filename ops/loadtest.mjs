// Load test of `jiritsu serve` with wrk (Debian package wrk). Not part of CI.
//
//   ops/loadtest [--employees 1000] [--months 12] [--duration 20] [--connections 16]
//                [--overload-duration 40] [--overload-connections 64] [--threads 2]
//                [--rate 1000] [--org-rate 100] [--mode full|paced] [--json FILE]
//
// Starts serve (embedded log, temp dir, [server] threads = 32, [query]
// refresh_ms = 1000) with
// `jiritsu gen` data ingested over HTTP, waits until the views settled, then:
//   1. queries: wrk, --connections keep-alive connections, closed loop (each
//      connection sends its next request when the answer arrived; the rate is
//      what the server sustains), hr token, req/s and p50/p90/p99 latency of
//      two mixes: employee (step status and engagement of random employees:
//      point reads) and org (KPIs and engagement roll-ups of the root org
//      units and their children: aggregations over the subtree);
//   1b. paced queries (issue 7's "p99 at 1 000 requests/s"): the same two
//      mixes at a fixed offered rate (--rate for employee queries, --org-rate
//      for org queries) instead of as fast as possible: each of the
//      --connections connections waits connections/rate seconds between
//      requests (wrk's delay()), so the server is not saturated and the
//      percentiles measure a request, not a queue. wrk times each request
//      from when it was sent (a late send is not counted as latency: fine
//      while the achieved rate equals the offered one, which is printed);
//   2. ingestion: wrk POSTing batches of 100 generated events (ids rewritten
//      per request, so every event is new) at --connections: events/s from
//      the server's accepted counter, p50/p99 per batch;
//   3. overload: batches of 1000 events at --overload-connections for
//      --overload-duration seconds: how many answers were 429 (queue full, Retry-After), and the
//      RSS of the serve process sampled every 250 ms (max vs. before).
// --mode paced stops after 1b (no closed-loop, ingestion or overload runs).
// Prints a summary and, with --json, writes the figures.
// Environment: JIRITSU_BINARY (default <repo>/build/jiritsu), WRK (default wrk).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.JIRITSU_BINARY = process.env.JIRITSU_BINARY || path.join(root, 'build/jiritsu');
const { Serve, SERVICE_TOKEN, generateEvents, tempDir, waitFor } = await import(path.join(root, 'tests/e2e/serve_fixture.mjs'));

const args = { employees: 1000, months: 12, duration: 20, 'overload-duration': 40, connections: 16, 'overload-connections': 64, threads: 2,
  rate: 1000, 'org-rate': 100, mode: 'full', json: '' };
for (let i = 2; i < process.argv.length; i += 2) {
  const name = process.argv[i].replace(/^--/, '');
  if (!(name in args) || i + 1 >= process.argv.length) {
    console.error('usage: ops/loadtest [--employees N] [--months N] [--duration S] [--connections N] ' +
      '[--overload-duration S] [--overload-connections N] [--threads N] [--rate R] [--org-rate R] [--mode full|paced] [--json FILE]');
    process.exit(2);
  }
  args[name] = name === 'json' || name === 'mode' ? process.argv[i + 1] : Number(process.argv[i + 1]);
}
if (!['full', 'paced'].includes(args.mode) || !(args.rate > 0) || !(args['org-rate'] > 0)) {
  console.error('ops/loadtest: --mode must be full or paced, --rate and --org-rate positive numbers');
  process.exit(2);
}
const wrk = process.env.WRK || 'wrk';
if (spawnSync('sh', ['-c', 'command -v "$0"', wrk]).status !== 0) {
  console.error('ops/loadtest: wrk not found (Debian: apt-get install wrk)');
  process.exit(2);
}

const dir = tempDir('jiritsu-loadtest-');
const serve = new Serve({ dir, threads: 32, refreshMs: 1000 });  // production-like: queries reopen the views once a second

function rssKiB(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync('/proc/' + pid + '/status', 'utf8'));
  return match ? Number(match[1]) : 0;
}

// The wrk Lua scripts: Authorization header, request mix or POST bodies,
// status counting per thread, and a JSON summary line from done().
const COMMON_DONE = `
local threads = {}
function setup(thread) table.insert(threads, thread); thread:set("thread_id", #threads) end
function done(summary, latency, requests)
  local c202, c429, other = 0, 0, 0
  for _, t in ipairs(threads) do
    c202 = c202 + (t:get("c202") or 0); c429 = c429 + (t:get("c429") or 0); other = other + (t:get("other") or 0)
  end
  io.write(string.format('WRK-JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"ok":%d,"status_429":%d,"other":%d,"socket_errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    c202, c429, other, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
function response(status, headers, body)
  if status == 200 or status == 202 then c202 = (c202 or 0) + 1
  elseif status == 429 then c429 = (c429 or 0) + 1
  else other = (other or 0) + 1 end
end
`;

// delayMs > 0: each connection waits that long before each request (paced).
function queryScript(token, paths, delayMs = 0) {
  return `
local paths = {${paths.map((p) => JSON.stringify(p)).join(',')}}
local n = 0
function init(args) math.randomseed(os.time() + n) end
function request()
  n = n + 1
  return wrk.format("GET", paths[math.random(#paths)], {["Authorization"] = "Bearer ${token}"})
end
` + (delayMs > 0 ? `function delay() return ${delayMs} end
` : '') + COMMON_DONE;
}

function ingestScript(token, bodyFile) {
  return `
local file = io.open("${bodyFile}", "r")
local template = file:read("*a")
file:close()
local n = 0
local prefix = ""
-- Unique per thread and run (each wrk thread has its own Lua state and the
-- same unseeded math.random, so the thread id set in setup() tells them apart).
function init(args) prefix = "t" .. tostring(thread_id) .. "-" .. tostring(os.time()) end
function request()
  n = n + 1
  local body = template:gsub('"id":"', '"id":"' .. prefix .. "-" .. n .. "-")
  return wrk.format("POST", "/v1/events", {["Authorization"] = "Bearer ${token}", ["Content-Type"] = "application/json"}, body)
end
` + COMMON_DONE;
}

function runWrk(name, script, connections, durationS, onTick) {
  const scriptPath = path.join(dir, name + '.lua');
  fs.writeFileSync(scriptPath, script);
  return new Promise((resolve) => {
    const child = spawn(wrk, ['-t', String(args.threads), '-c', String(connections), '-d', durationS + 's', '--timeout', '10s',
      '-s', scriptPath, serve.base], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = onTick ? setInterval(onTick, 250) : null;
    child.on('exit', () => {
      if (timer) clearInterval(timer);
      const match = /WRK-JSON (\{.*\})/.exec(out);
      if (!match) {
        console.error(out);
        throw new Error('wrk ' + name + ' printed no summary');
      }
      resolve(JSON.parse(match[1]));
    });
  });
}

async function acceptedTotal(token) {
  const text = await serve.get('/metrics', token);
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('jiritsu_ingest_events_total{') && line.includes('outcome="accepted"')) total += Number(line.split(' ').pop());
  }
  return total;
}

const ms = (us) => (us / 1000).toFixed(2);

async function main() {
  const events = generateEvents(dir, { employees: args.employees, months: args.months });
  await serve.start();
  const loadStarted = Date.now();
  const accepted = await serve.ingestAll(events);
  const hr = serve.token('loadtest', 'hr');
  const ops = serve.token('loadtest-ops', 'ops');
  await waitFor('the views to catch up', 300000, async () => (await serve.get('/v1/lag', hr)).total_lag_records === 0, 500);
  const loadS = (Date.now() - loadStarted) / 1000;
  console.log(`setup: ${accepted} events ingested over HTTP and projected in ${loadS.toFixed(1)} s`);
  // Queries measured on final views: lag 0 comes before the KPIs (facts interval).
  await serve.settled(hr, { timeoutMs: 300000 });

  const roots = (await serve.get('/v1/org-units', hr)).root_org_units;
  const view = await serve.get('/v1/view-time', hr);
  const month = Number(view.view_time.slice(5, 7));
  const fy = 'FY' + (month >= 4 ? view.view_time.slice(0, 4) : Number(view.view_time.slice(0, 4)) - 1);
  const employees = [...new Set(events.map((e) => /"subject":"([^"]*)"/.exec(e)?.[1]).filter((s) => s && /^E/.test(s)))];
  const orgs = [];
  for (const r of roots) orgs.push(r, ...(await serve.get('/v1/org-units/' + r, hr)).children);
  const employeePaths = [];
  for (const e of employees.slice(0, 500)) employeePaths.push('/v1/employees/' + e + '/step-status', '/v1/employees/' + e + '/engagement');
  const orgPaths = [];
  for (const o of orgs) orgPaths.push('/v1/org-units/' + o + '/kpis?period=' + fy, '/v1/org-units/' + o + '/engagement');
  console.log(`queries: employee = step status and engagement of ${Math.min(500, employees.length)} employees; ` +
    `org = KPIs (${fy}) and engagement roll-up of ${orgs.length} org units (roots and their children)`);

  const results = { setup: { events: accepted, seconds: loadS }, wrk_threads: args.threads, duration_s: args.duration, rss_kib: {} };
  results.rss_kib.after_setup = rssKiB(serve.pid());
  for (const [name, paths, rate] of [['employee', employeePaths, args.rate], ['org', orgPaths, args['org-rate']]]) {
    const delayMs = Math.max(1, Math.round((args.connections * 1000) / rate));
    const q = await runWrk('paced-' + name, queryScript(hr, paths, delayMs), args.connections, args.duration);
    const achieved = q.requests / (q.duration_us / 1e6);
    results['paced_' + name] = { connections: args.connections, offered_rps: rate, delay_ms: delayMs, rps: achieved, ...q };
    console.log(`${name} queries paced at ${rate} req/s offered (${args.connections} connections, ${delayMs} ms between requests each): ` +
      `${achieved.toFixed(0)} req/s achieved, p50 ${ms(q.p50_us)} ms, p90 ${ms(q.p90_us)} ms, p99 ${ms(q.p99_us)} ms, ` +
      `max ${ms(q.max_us)} ms, non-200 ${q.other + q.status_429}, socket errors ${q.socket_errors}`);
  }
  if (args.mode === 'paced') {
    if (args.json) fs.writeFileSync(args.json, JSON.stringify(results, null, 2) + '\n');
    return;
  }
  for (const [name, paths] of [['employee', employeePaths], ['org', orgPaths]]) {
    const q = await runWrk('query-' + name, queryScript(hr, paths), args.connections, args.duration);
    results['query_' + name] = { connections: args.connections, rps: q.requests / (q.duration_us / 1e6), ...q };
    console.log(`${name} queries: ${args.connections} connections, ${results['query_' + name].rps.toFixed(0)} req/s, p50 ${ms(q.p50_us)} ms, ` +
      `p90 ${ms(q.p90_us)} ms, p99 ${ms(q.p99_us)} ms, non-200 ${q.other + q.status_429}, socket errors ${q.socket_errors}`);
  }
  results.rss_kib.after_queries = rssKiB(serve.pid());

  // Ingestion: 100 events per request.
  const fresh = generateEvents(dir, { employees: 200, months: 6, seed: 99 });
  const batchFile = path.join(dir, 'batch100.json');
  fs.writeFileSync(batchFile, '[' + fresh.slice(0, 100).join(',') + ']');
  const before = await acceptedTotal(ops);
  const i = await runWrk('ingest', ingestScript(SERVICE_TOKEN, batchFile),
    args.connections, args.duration);
  const after = await acceptedTotal(ops);
  results.ingest = { connections: args.connections, batch_events: 100, events_per_s: (after - before) / (i.duration_us / 1e6), ...i };
  console.log(`ingestion: ${args.connections} connections x 100-event batches, ${results.ingest.events_per_s.toFixed(0)} events/s accepted, ` +
    `p50 ${ms(i.p50_us)} ms, p99 ${ms(i.p99_us)} ms per batch, 429 ${i.status_429}, other ${i.other}`);
  await waitFor('the runner to catch up after ingestion', 300000, async () => (await serve.get('/v1/lag', hr)).total_lag_records === 0, 500);

  // Overload: 1000-event batches at many connections; RSS sampled.
  const bigFile = path.join(dir, 'batch1000.json');
  fs.writeFileSync(bigFile, '[' + fresh.slice(0, 1000).join(',') + ']');
  results.rss_kib.after_ingestion = rssKiB(serve.pid());
  const rssBefore = rssKiB(serve.pid());
  let rssMax = rssBefore;
  const rssSamples = [];
  const o = await runWrk('overload', ingestScript(SERVICE_TOKEN, bigFile),
    args['overload-connections'], args['overload-duration'], () => {
      const rss = rssKiB(serve.pid());
      rssSamples.push(rss);
      rssMax = Math.max(rssMax, rss);
    });
  const rssAfter = rssKiB(serve.pid());
  // RSS at each fifth of the run: a plateau means bounded.
  const fifths = [1, 2, 3, 4, 5].map((k) => rssSamples[Math.min(rssSamples.length - 1, Math.floor((k * rssSamples.length) / 5) - 1)]);
  const acceptedOverload = (await acceptedTotal(ops)) - after;
  results.overload = { connections: args['overload-connections'], batch_events: 1000, rss_before_kib: rssBefore, rss_max_kib: rssMax,
    rss_after_kib: rssAfter, rss_samples: rssSamples.length, rss_fifths_kib: fifths, events_accepted: acceptedOverload, ...o };
  console.log(`overload: ${args['overload-connections']} connections x 1000-event batches: ${o.ok} accepted (202), ${o.status_429} refused with 429, ` +
    `other ${o.other}, socket errors ${o.socket_errors}; serve RSS ${(rssBefore / 1024).toFixed(0)} MiB before, ` +
    `max ${(rssMax / 1024).toFixed(0)} MiB during (${rssSamples.length} samples; at each fifth of the run: ` +
    `${fifths.map((k) => (k / 1024).toFixed(0)).join(', ')} MiB), ${(rssAfter / 1024).toFixed(0)} MiB after; ${acceptedOverload} events accepted`);
  console.log(`serve RSS: ${(results.rss_kib.after_setup / 1024).toFixed(0)} MiB after setup, ` +
    `${(results.rss_kib.after_queries / 1024).toFixed(0)} MiB after the queries, ${(results.rss_kib.after_ingestion / 1024).toFixed(0)} MiB after ingestion`);
  if (args.json) fs.writeFileSync(args.json, JSON.stringify(results, null, 2) + '\n');
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await serve.stop();
  if (!process.exitCode) fs.rmSync(dir, { recursive: true, force: true });
  else console.error('kept for inspection: ' + dir);
}
