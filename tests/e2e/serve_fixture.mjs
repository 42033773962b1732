// A `jiritsu serve` process with generated data, for the end-to-end tests
// (prometheus_test.mjs, dashboard_test.mjs) and ops/loadtest: a temporary
// directory, a configuration file (port 0: any free port, read back from the
// "listening on" line), tokens minted with `jiritsu token`, and ingestion of
// `jiritsu gen` events over HTTP in batches.
//
// Environment: JIRITSU_BINARY (the jiritsu binary under test).
// Exit code 77 means "skipped" (ctest SKIP_RETURN_CODE).
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const SKIP = 77;
export const SERVICE_TOKEN = 'e2e-source-token';
const SECRET = 'e2e-secret-0123456789abcdef0123456789';

export function skip(message) {
  console.log('SKIP: ' + message);
  process.exit(SKIP);
}

export function fail(message) {
  console.error('FAIL: ' + message);
  process.exitCode = 1;
  throw new Error(message);
}

export function check(condition, message) {
  if (!condition) fail(message);
  console.log('ok: ' + message);
}

export function which(program) {
  const result = spawnSync('sh', ['-c', 'command -v "$0"', program], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : null;
}

export function jiritsuBinary() {
  const binary = process.env.JIRITSU_BINARY;
  if (!binary || !fs.existsSync(binary)) fail('JIRITSU_BINARY must name the jiritsu binary, got ' + binary);
  return binary;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor(what, timeoutMs, probe, intervalMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    await sleep(intervalMs);
  }
  fail('timed out after ' + timeoutMs + ' ms waiting for ' + what + (last instanceof Error ? ': ' + last.message : ''));
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// Generated events (JSON texts, one per event) without the schema-invalid
// lines (a batch with one invalid event is refused whole).
export function generateEvents(dir, { employees = 150, months = 18, seed = 7 } = {}) {
  const out = path.join(dir, 'events.jsonl');
  const result = spawnSync(jiritsuBinary(), ['gen', '--employees', String(employees), '--months', String(months),
    '--seed', String(seed), '--invalid-share', '0', '--out', out], { encoding: 'utf8' });
  if (result.status !== 0) fail('jiritsu gen failed: ' + result.stderr);
  return fs.readFileSync(out, 'utf8').split('\n').filter((line) => line.trim() !== '');
}

export class Serve {
  // options: dir, staticDir, port (0), overrides (extra TOML lines per section).
  constructor(options) {
    this.options = options;
    this.dir = options.dir;
    this.config = path.join(this.dir, 'serve.toml');
    this.logPath = path.join(this.dir, 'serve.log');
    const extra = options.extra || {};
    const section = (name, lines) => '[' + name + ']\n' + lines.concat(extra[name] || []).join('\n') + '\n\n';
    fs.writeFileSync(this.config,
      section('server', ['listen_address = "127.0.0.1"', 'port = ' + (options.port || 0), 'threads = ' + (options.threads || 8)]
        .concat(options.staticDir ? ['static_dir = "' + options.staticDir + '"'] : [])) +
      section('log', ['store_dir = "' + path.join(this.dir, 'store') + '"', 'partitions = 4']) +
      section('runtime', ['checkpoint_ms = 200']) +
      section('ingest', ['max_batch_events = 1000']) +
      section('query', ['refresh_ms = ' + (options.refreshMs ?? 200)]) +
      section('health', ['lag_sample_ms = 250']) +
      section('auth', ['issuer = "https://idp.e2e"', 'audience = "jiritsu-e2e"']) +
      '[[auth.keys]]\nkid = "e2e"\nalgorithm = "HS256"\nsecret = "' + SECRET + '"\n\n' +
      '[[auth.service_credentials]]\nname = "e2e-source"\nsources = ["/*"]\n' +
      'token_sha256 = "' + sha256Hex(SERVICE_TOKEN) + '"\n');
  }

  async start() {
    const log = fs.openSync(this.logPath, 'w');
    this.child = spawn(jiritsuBinary(), ['serve', '--config', this.config], { stdio: ['ignore', log, log] });
    this.exited = null;
    this.child.on('exit', (code, signal) => { this.exited = { code, signal }; });
    const port = await waitFor('jiritsu serve to listen (log: ' + this.logPath + ')', 30000, () => {
      if (this.exited) fail('jiritsu serve exited: ' + fs.readFileSync(this.logPath, 'utf8'));
      const match = /listening on http:\/\/[^:]+:(\d+)/.exec(fs.readFileSync(this.logPath, 'utf8'));
      return match ? Number(match[1]) : null;
    }, 50);
    this.port = port;
    this.base = 'http://127.0.0.1:' + port;
    return this;
  }

  pid() { return this.child.pid; }

  token(sub, role) {
    const result = spawnSync(jiritsuBinary(), ['token', '--config', this.config, '--sub', sub, '--role', role, '--ttl', '3600'],
      { encoding: 'utf8' });
    if (result.status !== 0) fail('jiritsu token failed: ' + result.stderr);
    return result.stdout.trim();
  }

  async get(pathname, token) {
    const response = await fetch(this.base + pathname, { headers: token ? { Authorization: 'Bearer ' + token } : {} });
    const text = await response.text();
    if (!response.ok) throw new Error('GET ' + pathname + ': HTTP ' + response.status + ' ' + text);
    return pathname === '/metrics' ? text : JSON.parse(text);
  }

  // POSTs one batch; returns {status, body}.
  async post(events) {
    const response = await fetch(this.base + '/v1/events', {
      method: 'POST',
      headers: { Authorization: 'Bearer ' + SERVICE_TOKEN, 'Content-Type': 'application/json' },
      body: '[' + events.join(',') + ']',
    });
    const text = await response.text();
    return { status: response.status, body: text };
  }

  // Ingests every event in batches; returns the number accepted.
  async ingestAll(events, batch = 1000) {
    let accepted = 0;
    for (let i = 0; i < events.length; i += batch) {
      const { status, body } = await this.post(events.slice(i, i + batch));
      if (status !== 202) fail('POST /v1/events answered ' + status + ': ' + body.slice(0, 500));
      accepted += JSON.parse(body).accepted;
    }
    return accepted;
  }

  // Waits until the views are final for what was ingested: no lag on any
  // partition (the facts topic included), no employee whose facts wait
  // (facts_interval_ms holds them back after the employee views moved), and
  // the same positions and view time for `quietMs`. Lag 0 alone is not
  // enough: the KPIs follow the employee views by the facts deferral, and a
  // page that loaded in between showed older KPIs than the API answered later.
  async settled(token, { timeoutMs = 60000, quietMs = 2500 } = {}) {
    let since = 0;
    let signature = '';
    return waitFor('the views to settle (lag 0, no facts waiting, positions still for ' + quietMs + ' ms)', timeoutMs,
      async () => {
        const lag = await this.get('/v1/lag', token);
        const waiting = /^jiritsu_facts_waiting (\S+)$/m.exec(await this.get('/metrics', token));
        const viewTime = (await this.get('/v1/view-time', token)).view_time;
        const now = JSON.stringify([lag.partitions.map((p) => [p.topic, p.partition, p.position]), viewTime]);
        const quiet = lag.runner === 'running' && lag.total_lag_records === 0 && waiting !== null && Number(waiting[1]) === 0;
        if (!quiet || now !== signature) {
          signature = now;
          since = Date.now();
          return false;
        }
        return Date.now() - since >= quietMs;
      }, 250);
  }

  async stop() {
    if (!this.child || this.exited) return;
    this.child.kill('SIGTERM');
    const deadline = Date.now() + 15000;
    while (!this.exited && Date.now() < deadline) await sleep(50);
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

function sha256Hex(text) {
  return crypto.createHash('sha256').update(text).digest('hex');
}
