// The real Hubot 2.19.0 + hubot-rocketchat 1.0.12 (CoffeeScript, asteroid 0.6.1): what the
// unmaintained upstream image runs. Its failure modes differ from 2.0.0's: it exits on a failed
// login, and it logs in again with the password after every reconnect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BOT, BOT_PASS, startSim, stackEnv, bootstrap, probe, startHubot, say, history,
  eventually, restLogin, rest, tempDir, cleanup,
} from './lib.mjs';

const SUBSCRIBED = /Successfully subscribed to messages/;

async function stack(t) {
  const sim = await startSim();
  const dir = tempDir('v1');
  const env = stackEnv(sim.url, { RC_PROBE_TOKEN_CACHE: `${dir}/token` });
  await bootstrap(env);
  t.after(async () => {
    await sim.stop();
    cleanup(dir);
  });
  return { sim, env };
}

test('v1 connects, joins, answers in the room; rc-probe healthy while it runs, unhealthy once stopped', async (t) => {
  const { sim, env } = await stack(t);
  const hubot = startHubot('v1', env);
  t.after(() => hubot.stop());
  await hubot.waitFor(SUBSCRIBED, 30_000, 'the adapter subscribed');
  await say(sim.url, `@${BOT} ping`);
  await eventually(async () => (await history(sim.url)).find((m) => m.u.username === BOT && m.msg === 'PONG'),
    15_000, 'hubot answers ping');
  const ok = await probe(env);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.equal(ok.json.hubot, 'connected');
  await hubot.stop();
  const after = await probe(env);
  assert.equal(after.code, 1, after.stdout);
  assert.match(after.json.reason, /Hubot is not connected/);
});

test('v1 with a wrong bot password exits 1 (its own "die on login error" hack)', async (t) => {
  const { env } = await stack(t);
  const hubot = startHubot('v1', { ...env, ROCKETCHAT_PASSWORD: 'Wr0ng-Passw0rd!zz' });
  t.after(() => hubot.stop());
  const { code } = await Promise.race([
    hubot.exited,
    new Promise((_, rej) => setTimeout(() => rej(new Error(`still running:\n${hubot.out}`)), 30_000)),
  ]);
  assert.equal(code, 1);
  // Rocket.Chat's loginErrorMessageOverride (7.10): 401 "User not found", not "Incorrect password".
  assert.match(hubot.out, /Unable to Login: .*User not found/);
  assert.doesNotMatch(hubot.out, /Incorrect password/);
});

test('v1 logs in again with its password after its token is removed (recovers by itself)', async (t) => {
  const { sim, env } = await stack(t);
  const hubot = startHubot('v1', env);
  t.after(() => hubot.stop());
  await hubot.waitFor(SUBSCRIBED, 30_000, 'the adapter subscribed');
  const mine = await restLogin(sim.url, BOT, BOT_PASS);
  const r = await rest(sim.url, 'POST', 'users.removeOtherTokens', { auth: mine });
  assert.equal(r.status, 200);
  // The server closes the session; on `reconnected` 1.0.12 runs its whole login chain again.
  await eventually(async () => (hubot.out.match(/Successfully subscribed to messages/g) || []).length >= 2,
    20_000, 'a second login after the reconnect');
  await eventually(async () => (await probe(env)).code === 0, 10_000, 'healthy again');
});

test('v1 whose bot has a verified email (email 2FA) exits 1 on totp-required', async (t) => {
  const { sim, env } = await stack(t);
  const admin = await restLogin(sim.url, env.ADMIN_USERNAME, env.ADMIN_PASS);
  const info = await rest(sim.url, 'GET', 'users.info', { auth: admin, query: { username: BOT } });
  const upd = await rest(sim.url, 'POST', 'users.update', {
    auth: admin,
    body: { userId: info.json.user._id, data: { verified: true } },
  });
  assert.equal(upd.status, 200, JSON.stringify(upd.json));
  const hubot = startHubot('v1', env);
  t.after(() => hubot.stop());
  const { code } = await Promise.race([
    hubot.exited,
    new Promise((_, rej) => setTimeout(() => rej(new Error(`still running:\n${hubot.out}`)), 30_000)),
  ]);
  assert.equal(code, 1);
  assert.match(hubot.out, /Unable to Login: .*totp-required/);
});

test('v1 started 20 s before Rocket.Chat answers logs in once it does (no connect timeout)', async (t) => {
  const net = await import('node:net');
  const port = await new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  const dir = tempDir('v1late');
  const env = stackEnv(`http://127.0.0.1:${port}`, { RC_PROBE_TOKEN_CACHE: `${dir}/token` });
  const hubot = startHubot('v1', env);
  t.after(async () => {
    await hubot.stop();
    cleanup(dir);
  });
  // 20 s: ddp.js retries at about 0, 0.3, 1.2, 3, 6, 10.5, 16.8, 25.2 s; the bootstrap must be
  // done before the attempt that succeeds (a login before the bot exists would exit 1).
  const sim = await startSim({ args: ['--port', String(port), '--listen-delay', '20s'] });
  t.after(() => sim.stop());
  await bootstrap(env);
  assert.ok(hubot.alive, `v1 still waiting:\n${hubot.out}`);
  // asteroid's reconnect emits `reconnected`, on which 1.0.12 runs its login chain.
  await hubot.waitFor(SUBSCRIBED, 40_000, 'the adapter subscribed after the late start');
  await eventually(async () => (await probe(env)).code === 0, 10_000, 'healthy');
});
