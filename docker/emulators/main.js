// TEST-ONLY: the Rocket.Chat image starts `node main.js` in /app/bundle (an override of its entrypoint,
// as compose/mongo-auth.yaml makes, ends with that command): here it starts rc-sim through the
// image's entrypoint, with the same environment, and passes signals and the exit status on.
'use strict';
const { spawn } = require('child_process');
const child = spawn('/usr/local/bin/docker-entrypoint.sh', [], { stdio: 'inherit' });
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code === null ? 128 + (signal === 'SIGKILL' ? 9 : 15) : code));
