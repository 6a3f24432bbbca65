// Helpers for the real-Hubot tests: the built binaries (rc-sim, rc-bootstrap, rc-probe) as
// processes, the real Hubot + hubot-rocketchat from tests/hubot/v{1,2}/node_modules, and a small
// DDP client (faye-websocket, the socket library asteroid itself uses) that plays the human.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const TARGET = process.env.CARGO_TARGET_DIR
  ? path.resolve(REPO, process.env.CARGO_TARGET_DIR)
  : path.join(REPO, 'target');
export const BIN = process.env.COQUELICOT_BIN_DIR || path.join(TARGET, 'debug');

export const ADMIN = 'boss';
export const ADMIN_PASS = 'Adm1n-Passw0rd!x';
export const BOT = 'hubot';
export const BOT_PASS = 'B0t-Passw0rd!xyz';
export const ROOM = 'ops';

const requireV2 = createRequire(path.join(HERE, 'v2', 'package.json'));

/** Every child started here, killed at exit whatever happens. */
const children = new Set();
process.on('exit', () => {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

export function tempDir(tag) {
  return mkdtempSync(path.join(tmpdir(), `hubot-${tag}-`));
}

/** A child process whose output is kept (bounded) and can be waited on. */
class Proc {
  constructor(cmd, args, opts) {
    this.out = '';
    this.child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        children.delete(this.child);
        this.code = code;
        this.signal = signal;
        resolve({ code, signal });
      });
    });
    const keep = (d) => {
      this.out += d.toString();
      if (this.out.length > 2_000_000) this.out = this.out.slice(-1_000_000);
    };
    this.child.stdout.on('data', keep);
    this.child.stderr.on('data', keep);
  }
  get alive() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  /** Resolves when `re` matches the output; rejects after `ms` with the output so far. */
  async waitFor(re, ms, what = String(re)) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (re.test(this.out)) return;
      await sleep(50);
    }
    throw new Error(`timed out after ${ms} ms waiting for ${what}; output:\n${this.out.slice(-4000)}`);
  }
  async stop(signal = 'SIGTERM') {
    if (this.alive) this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}

/** rc-sim on a free port; resolves once it has printed its listening line. */
export async function startSim({ args = [], env = {} } = {}) {
  const p = new Proc(path.join(BIN, 'rc-sim'), ['--port', '0', ...args], {
    env: { ...process.env, ADMIN_USERNAME: ADMIN, ADMIN_PASS, ADMIN_EMAIL: 'boss@example.org', ...env },
  });
  await p.waitFor(/"msg":"listening"/, 120_000, 'rc-sim listening');
  const port = JSON.parse(p.out.split('\n').find((l) => l.includes('"listening"'))).port;
  p.port = port;
  p.url = `http://127.0.0.1:${port}`;
  return p;
}

/** The environment the stack shares (one .env for Rocket.Chat, Hubot and the sidecars). */
export function stackEnv(url, extra = {}) {
  return {
    ROCKETCHAT_URL: url,
    ROCKETCHAT_USER: BOT,
    ROCKETCHAT_PASSWORD: BOT_PASS,
    ROCKETCHAT_ROOM: ROOM,
    ADMIN_USERNAME: ADMIN,
    ADMIN_PASS,
    ...extra,
  };
}

/** Runs a built binary to completion without blocking the event loop (the children's pipes,
 * rc-sim's included, must keep draining meanwhile). */
function runBin(name, env, args, timeoutMs = 60_000) {
  return new Promise((resolve) => {
    const child = spawn(path.join(BIN, name), args, {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export async function bootstrap(env, args = []) {
  const r = await runBin('rc-bootstrap', env, ['--timeout', '60s', ...args]);
  if (r.code !== 0) throw new Error(`rc-bootstrap failed (${r.code}): ${r.stdout}${r.stderr}`);
  return r;
}

/** rc-probe --json; returns {code, json, stdout, stderr, ms}. */
export async function probe(env, args = []) {
  const start = process.hrtime.bigint();
  const r = await runBin('rc-probe', env, ['--json', '--timeout', '8s', ...args], 30_000);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  let json = null;
  try { json = JSON.parse(r.stdout.trim().split('\n').pop()); } catch { /* not JSON */ }
  for (const secret of [BOT_PASS, ADMIN_PASS, 'Wr0ng-Passw0rd!zz']) {
    if ((r.stdout + r.stderr).includes(secret)) throw new Error(`rc-probe printed a password: ${r.stdout}${r.stderr}`);
  }
  return { ...r, json, ms };
}

/** The real Hubot of tests/hubot/<version> with the Rocket.Chat adapter. */
export function startHubot(version, env, { args = [], entrypoint = false } = {}) {
  const dir = path.join(HERE, version);
  const bin = path.join(dir, 'node_modules', '.bin');
  const cmd = entrypoint ? path.join(REPO, 'docker', 'hubot', 'entrypoint.sh') : path.join(bin, 'hubot');
  return new Proc(cmd, entrypoint ? args : ['-a', 'rocketchat', '-n', BOT, ...args], {
    cwd: dir,
    env: {
      PATH: `${bin}:${process.env.PATH}`,
      HOME: process.env.HOME || tmpdir(),
      // Hubot's web server on loopback, any free port (nothing here talks to it).
      EXPRESS_PORT: '0',
      EXPRESS_BIND_ADDRESS: '127.0.0.1',
      BIND_ADDRESS: '127.0.0.1',
      HUBOT_LOG_LEVEL: 'info',
      ...env,
    },
  });
}

/** REST call with an optional session. */
export async function rest(url, method, route, { body, auth, query } = {}) {
  const q = query ? `?${new URLSearchParams(query)}` : '';
  const headers = { 'Content-Type': 'application/json' };
  if (auth) {
    headers['X-User-Id'] = auth.userId;
    headers['X-Auth-Token'] = auth.authToken;
  }
  const r = await fetch(`${url}/api/v1/${route}${q}`, {
    method,
    headers,
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: r.status, json: await r.json().catch(() => null) };
}

export async function restLogin(url, user, password) {
  const r = await rest(url, 'POST', 'login', { body: { user, password } });
  if (r.status !== 200) throw new Error(`login as ${user}: ${r.status} ${JSON.stringify(r.json)}`);
  return { userId: r.json.data.userId, authToken: r.json.data.authToken };
}

/** A minimal DDP client (the human side of the conversation). */
export class Ddp {
  constructor(url) {
    const WebSocket = requireV2('faye-websocket');
    this.events = [];
    this.pending = new Map();
    this.next = 1;
    this.ws = new WebSocket.Client(`${url.replace(/^http/, 'ws')}/websocket`);
    this.opened = new Promise((resolve, reject) => {
      this.ws.on('open', () => this.send({ msg: 'connect', version: '1', support: ['1'] }));
      this.ws.on('close', (e) => reject(new Error(`socket closed: ${e.code}`)));
      this.ws.on('message', (e) => {
        const m = JSON.parse(e.data);
        if (m.msg === 'connected') resolve(m);
        if (m.msg === 'ping') this.send({ msg: 'pong', id: m.id });
        if (m.msg === 'result' && this.pending.has(m.id)) {
          const { res, rej } = this.pending.get(m.id);
          this.pending.delete(m.id);
          if (m.error) rej(Object.assign(new Error(m.error.message), { ddp: m.error }));
          else res(m.result);
        }
        this.events.push(m);
      });
    });
  }
  send(m) {
    this.ws.send(JSON.stringify(m));
  }
  call(method, ...params) {
    const id = String(this.next++);
    return new Promise((res, rej) => {
      this.pending.set(id, { res, rej });
      this.send({ msg: 'method', id, method, params });
      setTimeout(() => {
        if (this.pending.delete(id)) rej(new Error(`${method}: no result within 10 s`));
      }, 10_000);
    });
  }
  login(user, password) {
    return this.call('login', { user: { username: user }, password });
  }
  close() {
    this.ws.close();
  }
}

/** Posts `text` in #room as the admin over DDP; resolves with the stored message. */
export async function say(url, text) {
  const human = new Ddp(url);
  await human.opened;
  await human.login(ADMIN, ADMIN_PASS);
  const rid = await human.call('getRoomIdByNameOrId', ROOM);
  const m = await human.call('sendMessage', { rid, msg: text });
  human.close();
  return m;
}

/** The room's messages as the admin reads them over REST (channels.history). */
export async function history(url) {
  const auth = await restLogin(url, ADMIN, ADMIN_PASS);
  const info = await rest(url, 'GET', 'channels.info', { auth, query: { roomName: ROOM } });
  const h = await rest(url, 'GET', 'channels.history', { auth, query: { roomId: info.json.channel._id, count: '100' } });
  return h.json.messages;
}

/** Polls `f` (async, returns truthy when done) every 100 ms up to `ms`. */
export async function eventually(f, ms, what) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await f();
    if (last) return last;
    await sleep(100);
  }
  throw new Error(`not within ${ms} ms: ${what}; last: ${JSON.stringify(last)}`);
}

export function writeTemp(dir, name, text) {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

export function cleanup(dir) {
  rmSync(dir, { recursive: true, force: true });
}
