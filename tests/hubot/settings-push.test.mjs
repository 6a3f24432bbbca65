// Rocket.Chat's own JS SDK (@rocket.chat/sdk 0.1 on asteroid 0.6.1, as installed for Hubot v2)
// as an independent DDP client of rc-sim's `stream-notify-all`: an anonymous subscription to
// `public-settings-changed`, and the Show_Setup_Wizard push rc-bootstrap's 6.x admin wait relies
// on (sims/rc-sim/README.md, ledger rows "stream-notify-all" and "a public setting's change").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { HERE, startSim, eventually } from './lib.mjs';

const requireV2 = createRequire(path.join(HERE, 'v2', 'package.json'));

// asteroid 0.6.1 tries to resume a stored login at connect and leaves the q promise's "No login
// token" rejection unhandled when there is none (this client never logs in); q reports it as a
// process-wide unhandledRejection, which node:test would pin on this test. Not ours to fix.
requireV2('q').stopUnhandledRejectionTracking();

test('the SDK, not logged in, is pushed Show_Setup_Wizard leaving pending when 6.13 creates its admin', async (t) => {
  // Loaded before the server starts: rc-sim pushes only changes made after the subscription,
  // and the admin comes 3 s after listening — ample for connect + subscribe on a busy machine.
  const { driver } = requireV2('@rocket.chat/sdk');
  const quiet = () => null;
  driver.useLog({ debug: quiet, info: quiet, warn: quiet, warning: quiet, error: quiet });
  const sim = await startSim({ args: ['--version', '6.13.0', '--admin-delay', '3000ms'] });
  let asteroid;
  // The SDK's disconnect() only logs out (closing is "v2 only" in its source), and ddp.js
  // 0.5 reconnects a closed socket on a timer: turn that off and close the socket, or this
  // file's process never exits. Registered before connecting, so a failed connect cleans up too.
  t.after(async () => {
    if (asteroid && asteroid.ddp) {
      asteroid.ddp._autoreconnect = false;
      asteroid.ddp._socket.close();
    }
    await sim.stop();
  });
  asteroid = await driver.connect({ host: `127.0.0.1:${sim.port}`, useSsl: false, timeout: 10_000 });
  // asteroid.subscribe(topic, event, true): the SDK's stream call (useCollection = true), so the
  // events land in a client-side collection keyed by the "collection compatibility" document.
  await driver.subscribe('stream-notify-all', 'public-settings-changed');
  const events = asteroid.getCollection('stream-notify-all');
  const pushed = await eventually(async () => {
    const docs = events.reactiveQuery({}).result;
    return docs.find((d) => Array.isArray(d.args) && d.args[1] && d.args[1]._id === 'Show_Setup_Wizard');
  }, 15_000, 'the Show_Setup_Wizard push');
  assert.equal(pushed.eventName, 'public-settings-changed');
  assert.deepEqual(pushed.args, ['updated', { _id: 'Show_Setup_Wizard', value: 'in_progress' }]);
  // Pushed when initialData finished, not before: the admin logs in now.
  const r = await fetch(`${sim.url}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'boss', password: 'Adm1n-Passw0rd!x' }),
  });
  assert.equal(r.status, 200);
});
