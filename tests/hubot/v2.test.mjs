// The real Hubot 3.5.0 + hubot-rocketchat 2.0.0 (@rocket.chat/sdk 0.1, asteroid 0.6.1) against
// rc-sim's DDP, with the built rc-bootstrap and rc-probe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BOT, BOT_PASS, ROOM, startSim, stackEnv, bootstrap, probe, startHubot, say, history,
  eventually, restLogin, rest, tempDir, cleanup, sleep,
} from './lib.mjs';

const CONNECTED = /\[reactive\] Listening for change events/;

/** rc-sim + rc-bootstrap; returns {sim, env, dir}. */
async function stack(t, { simArgs = [], simEnv = {} } = {}) {
  const sim = await startSim({ args: simArgs, env: simEnv });
  const dir = tempDir('v2');
  const env = stackEnv(sim.url, { RC_PROBE_TOKEN_CACHE: `${dir}/token` });
  await bootstrap(env, ['--webhook-url-file', `${dir}/webhook-url`]);
  t.after(async () => {
    await sim.stop();
    cleanup(dir);
  });
  return { sim, env, dir };
}

test('v2 connects, joins, answers @hubot help in the room; rc-probe healthy only while it runs', async (t) => {
  const { sim, env } = await stack(t);
  const before = await probe(env);
  assert.equal(before.code, 1, before.stdout + before.stderr);
  assert.match(before.json.reason, /bot account OK but Hubot is not connected \(hubot is offline; last login /);

  const hubot = startHubot('v2', env);
  t.after(() => hubot.stop());
  await hubot.waitFor(CONNECTED, 30_000, 'the adapter subscribed');
  assert.match(hubot.out, /\[joinRoom\] Calling/);

  await say(sim.url, `@${BOT} help`);
  const reply = await eventually(async () => {
    const msgs = await history(sim.url);
    return msgs.find((m) => m.u.username === BOT && /ping - Reply with pong|help/i.test(m.msg));
  }, 15_000, 'hubot answers help in #ops');
  assert.match(reply.msg, /help/);
  await say(sim.url, `@${BOT} ping`);
  await eventually(async () => (await history(sim.url)).find((m) => m.u.username === BOT && m.msg === 'PONG'),
    15_000, 'hubot answers ping');

  const ok = await probe(env);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.equal(ok.json.hubot, 'connected');
  assert.match(ok.json.reason, /hubot can post in #ops; Hubot connected/);

  // Stopping Hubot closes its websocket: the next probe (no delay) says it is gone.
  await hubot.stop();
  const stopped = Date.now();
  const after = await probe(env);
  assert.equal(after.code, 1, after.stdout);
  assert.match(after.json.reason, /Hubot is not connected/);
  assert.ok(Date.now() - stopped < 5000, 'unhealthy on the first probe after the stop');
});

test('v2 frozen (SIGSTOP): missed heartbeats make it offline within three heartbeat periods', async (t) => {
  const { env } = await stack(t, { simEnv: { RC_SIM_DDP_HEARTBEAT: '1s' } });
  const hubot = startHubot('v2', env);
  t.after(async () => {
    if (hubot.alive) hubot.child.kill('SIGCONT');
    await hubot.stop();
  });
  await hubot.waitFor(CONNECTED, 30_000, 'the adapter subscribed');
  assert.equal((await probe(env)).code, 0);
  hubot.child.kill('SIGSTOP');
  const frozen = Date.now();
  await eventually(async () => (await probe(env)).code === 1, 10_000, 'probe unhealthy while Hubot is frozen');
  const took = Date.now() - frozen;
  // Heartbeat 1 s (Meteor's ticks): pinged after 1-2 s of silence, closed 1 s later; plus one probe run.
  assert.ok(took < 6000, `offline after ${took} ms`);
  // Thawed, ddp.js reconnects and resumes its login: healthy again without a restart.
  hubot.child.kill('SIGCONT');
  await eventually(async () => (await probe(env)).code === 0, 15_000, 'healthy again after SIGCONT');
});

test('v2 with a wrong bot password stays up logged out; rc-probe says why', async (t) => {
  const { env } = await stack(t);
  const wrong = { ...env, ROCKETCHAT_PASSWORD: 'Wr0ng-Passw0rd!zz' };
  const hubot = startHubot('v2', wrong);
  t.after(() => hubot.stop());
  await hubot.waitFor(/Unable to login/, 30_000, 'the adapter reports the failed login');
  // Rocket.Chat's loginErrorMessageOverride (7.10, rc-sim's default line): one 401 for any
  // failed login handler, never Meteor's "Incorrect password".
  assert.match(hubot.out, /User not found \[401\]/);
  assert.doesNotMatch(hubot.out, /Incorrect password/);
  await sleep(1000);
  assert.ok(hubot.alive, 'Hubot 3 keeps running after a failed login');
  const r = await probe(wrong);
  assert.equal(r.code, 3, r.stdout);
  assert.match(r.json.reason, /login as hubot refused/);
  // Even with the right password the probe sees that Hubot is not connected.
  const right = await probe(env);
  assert.equal(right.code, 1, right.stdout);
  assert.match(right.json.reason, /Hubot is not connected/);
});

test('v2 whose bot has a verified email (email 2FA) stays up logged out; rc-probe says totp-required', async (t) => {
  const { sim, env } = await stack(t);
  const admin = await restLogin(sim.url, env.ADMIN_USERNAME, env.ADMIN_PASS);
  const info = await rest(sim.url, 'GET', 'users.info', { auth: admin, query: { username: BOT } });
  const upd = await rest(sim.url, 'POST', 'users.update', {
    auth: admin,
    body: { userId: info.json.user._id, data: { verified: true } },
  });
  assert.equal(upd.status, 200, JSON.stringify(upd.json));
  const hubot = startHubot('v2', env);
  t.after(() => hubot.stop());
  await hubot.waitFor(/Unable to login/, 30_000, 'the adapter reports the failed login');
  assert.match(hubot.out, /totp-required/);
  await sleep(1000);
  assert.ok(hubot.alive, 'Hubot 3 keeps running after totp-required');
  const r = await probe(env, ['--no-token-cache']);
  assert.equal(r.code, 3, r.stdout);
  assert.match(r.json.reason, /totp-required/);
});

test('v2 token invalidated while it runs (other sessions logged out): rc-probe unhealthy', async (t) => {
  const { sim, env } = await stack(t);
  const hubot = startHubot('v2', env);
  t.after(() => hubot.stop());
  await hubot.waitFor(CONNECTED, 30_000, 'the adapter subscribed');
  assert.equal((await probe(env)).code, 0);
  const mine = await restLogin(sim.url, BOT, BOT_PASS);
  const r = await rest(sim.url, 'POST', 'users.removeOtherTokens', { auth: mine });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  // The server closes Hubot's connection; ddp.js reconnects, its resume login is refused.
  await eventually(async () => (await probe(env)).code === 1, 10_000, 'probe unhealthy after the token removal');
  const last = await probe(env);
  assert.match(last.json.reason, /Hubot is not connected/);
  assert.ok(hubot.alive, 'Hubot 3 keeps running, logged out');
});

test('v2 started 25 s before Rocket.Chat answers (adapter connect timeout 20 s) stays up logged out', async (t) => {
  const port = await freePort();
  const dir = tempDir('late');
  const env = stackEnv(`http://127.0.0.1:${port}`, { RC_PROBE_TOKEN_CACHE: `${dir}/token` });
  const hubot = startHubot('v2', env);
  t.after(async () => {
    await hubot.stop();
    cleanup(dir);
  });
  const sim = await startSim({ args: ['--port', String(port), '--listen-delay', '25s'] });
  t.after(() => sim.stop());
  await bootstrap(env);
  await hubot.waitFor(/Asteroid connection timeout/, 30_000, 'the adapter gives up connecting');
  assert.match(hubot.out, /Unable to connect/);
  await sleep(2000);
  assert.ok(hubot.alive, 'Hubot 3 keeps running after the connect timeout');
  const r = await probe(env);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.json.reason, /bot account OK but Hubot is not connected/);
});

/** A port free right now (rc-sim binds it only after its --listen-delay). */
async function freePort() {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

test('a GitLab push through the published webhook reaches the room and the subscription', async (t) => {
  const { sim, env, dir } = await stack(t);
  const hubot = startHubot('v2', env);
  t.after(() => hubot.stop());
  await hubot.waitFor(CONNECTED, 30_000, 'the adapter subscribed');
  const { readFileSync } = await import('node:fs');
  const hook = readFileSync(`${dir}/webhook-url`, 'utf8').trim();
  const push = {
    object_kind: 'push', event_name: 'push', ref: 'refs/heads/main',
    before: '95790bf891e76fee5e1747ab589903a6a1f80f22', after: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
    user_name: 'Jane Doe', user_username: 'jane',
    project: { name: 'demo', path_with_namespace: 'team/demo', web_url: 'https://gitlab.example.com/team/demo' },
    commits: [{ id: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7', message: 'Fix the thing\n', title: 'Fix the thing',
      url: 'https://gitlab.example.com/team/demo/-/commit/da15608', author: { name: 'Jane Doe' } }],
    total_commits_count: 1,
  };
  const r = await fetch(hook, {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Gitlab-Event': 'Push Hook' },
    body: JSON.stringify(push), signal: AbortSignal.timeout(10_000),
  });
  assert.equal(r.status, 200, await r.text());
  const posted = await eventually(async () => (await history(sim.url)).find((m) => /team\/demo|demo/.test(m.msg)
    || JSON.stringify(m.attachments || '').includes('demo')), 10_000, 'the push in #ops');
  // The bot's own subscription received it (the SDK logs every stream event before its filters;
  // it then ignores the message because the webhook posts as the bot itself).
  await hubot.waitFor(new RegExp(`\\[received\\] Message in room ${posted.rid}`), 10_000, 'the stream event');
  assert.equal(posted.u.username, BOT);
  void ROOM;
});
