// docker/hubot/entrypoint.sh with the real Hubot 3.5.0 + hubot-rocketchat 2.0.0, as processes:
// a connected bot keeps running; a bot that is up but logged out ends the entrypoint with exit 1
// (so that `restart: unless-stopped` starts a fresh container). Short watchdog periods here; the
// image defaults are 90 s grace, 30 s interval, 3 failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  BIN, BOT, BOT_PASS, startSim, stackEnv, bootstrap, probe, startHubot, restLogin, rest,
  tempDir, cleanup, sleep,
} from './lib.mjs';

const WATCH = {
  RC_PROBE: path.join(BIN, 'rc-probe'),
  HUBOT_WATCH_GRACE: '1',
  HUBOT_WATCH_INTERVAL: '1',
  HUBOT_WATCH_FAILURES: '2',
};

async function stack(t) {
  const sim = await startSim();
  const dir = tempDir('entry');
  const env = stackEnv(sim.url, { RC_PROBE_TOKEN_CACHE: `${dir}/token`, ...WATCH });
  await bootstrap(env);
  t.after(async () => {
    await sim.stop();
    cleanup(dir);
  });
  return { sim, env };
}

function exitWithin(proc, ms) {
  return Promise.race([
    proc.exited,
    new Promise((_, rej) => setTimeout(() => rej(new Error(`still running after ${ms} ms:\n${proc.out.slice(-3000)}`)), ms)),
  ]);
}

test('entrypoint: a connected bot keeps running; SIGTERM stops Hubot and the entrypoint', async (t) => {
  const { env } = await stack(t);
  const e = startHubot('v2', env, { entrypoint: true });
  t.after(() => e.stop());
  await e.waitFor(/\[reactive\] Listening for change events/, 30_000, 'the adapter subscribed');
  // Several watchdog rounds: it would have exited after 2 failures in a row. (With a 1 s grace a
  // first check may run before Hubot has connected, and a probe may time out on a loaded
  // machine: a single failure is reset by the next success.)
  await sleep(6000);
  assert.ok(e.alive, `entrypoint still running:\n${e.out}`);
  assert.doesNotMatch(e.out, /Hubot is not healthy/);
  assert.equal((await probe(env)).code, 0);
  e.child.kill('SIGTERM');
  const { code } = await exitWithin(e, 15_000);
  assert.equal(code, 0);
  const after = await probe(env);
  assert.match(after.json.reason, /Hubot is not connected/, 'Hubot went away with the entrypoint');
});

test('entrypoint: Hubot up but logged out (wrong password) ends the container with exit 1', async (t) => {
  const { env } = await stack(t);
  const e = startHubot('v2', { ...env, ROCKETCHAT_PASSWORD: 'Wr0ng-Passw0rd!zz' }, { entrypoint: true });
  t.after(() => e.stop());
  const { code } = await exitWithin(e, 30_000);
  assert.equal(code, 1, e.out);
  assert.match(e.out, /Unable to login/);
  // The first check is refused by the server; the second does not even try the password
  // again (rc-probe remembers a refused password, so probes never walk into the login block).
  assert.match(e.out, /health check failed \(1\/2\): .*login as hubot refused/);
  assert.match(e.out, /health check failed \(2\/2\): .*login as hubot not tried: this password was refused/);
  assert.match(e.out, /stopping it so that the restart policy starts it again/);
});

test('entrypoint: a lost session (token removed while running) ends the container with exit 1', async (t) => {
  const { sim, env } = await stack(t);
  const e = startHubot('v2', env, { entrypoint: true });
  t.after(() => e.stop());
  await e.waitFor(/\[reactive\] Listening for change events/, 30_000, 'the adapter subscribed');
  const mine = await restLogin(sim.url, BOT, BOT_PASS);
  assert.equal((await rest(sim.url, 'POST', 'users.removeOtherTokens', { auth: mine })).status, 200);
  const { code } = await exitWithin(e, 30_000);
  assert.equal(code, 1, e.out);
  assert.match(e.out, /bot account OK but Hubot is not connected/);
});

test('entrypoint: Hubot dying ends the entrypoint with its exit code', async (t) => {
  const { env } = await stack(t);
  const e = startHubot('v2', env, { entrypoint: true });
  t.after(() => e.stop());
  await e.waitFor(/\[reactive\] Listening for change events/, 30_000, 'the adapter subscribed');
  // The entrypoint's own child (found by parent pid, nothing else is touched).
  const ps = spawnSync('ps', ['-o', 'pid=,comm=', '--ppid', String(e.child.pid)], { encoding: 'utf8' }).stdout;
  const kids = ps.trim().split('\n').map((l) => l.trim().split(/\s+/)).filter(([, comm]) => comm !== 'sleep' && comm !== 'rc-probe');
  assert.equal(kids.length, 1, `one Hubot child: ${ps}`);
  process.kill(Number(kids[0][0]), 'SIGKILL');
  const { code } = await exitWithin(e, 10_000);
  assert.equal(code, 137, e.out);
  assert.match(e.out, /entrypoint: Hubot exited with code 137/);
});
