// rc-sim integration-script runner (NOT Rocket.Chat code). rc-sim spawns `node -e <this file>`
// once per script run, writes one JSON object on stdin and reads one JSON line from stdout.
//
// It reproduces Rocket.Chat's isolated-vm sandbox with node:vm (RocketChat/Rocket.Chat paths):
// - apps/meteor/app/integrations/server/lib/isolated-vm/getCompatibilityScript.ts: the script is
//   pasted between a `const Store = ...` prelude and an IIFE that does `new Script()` and returns
//   the Script methods that exist plus `availableFunctions`;
// - .../isolated-vm/isolated-vm.ts getIntegrationScript(): a fresh context, the wrapped script run
//   with `timeout: 3000`; any failure there becomes Error('error-evaluating-script');
// - .../isolated-vm/buildSandbox.ts: the context holds only `global` (itself), `ivm`, `s` and
//   `console` (here: `global` and `console`; see README for what is missing);
// - callScriptFunction(): arguments and result are copied (structured clone, promises awaited).
// - compileIntegrationScript.ts validateOnly(): syntax check `new vm.Script('(function(){…})')`.
//
// Input:  {"mode":"check","script":S} | {"mode":"run","script":S,"request":R,"timeoutMs":N}
// Output: {"ok":true} | {"ok":false,"stage":"syntax"|"evaluate"|"missing-method"|"run","error":{name,message,stack}}
//         | {"ok":true,"result":V,"logs":[...]}   (V is the script's result, undefined -> null)
'use strict';
const vm = require('node:vm');

const MAX_LOGS = 200;

function errInfo(e) {
	if (e && typeof e === 'object') {
		return { name: String(e.name || 'Error'), message: String(e.message || ''), stack: String(e.stack || '') };
	}
	return { name: 'Error', message: String(e), stack: '' };
}

function reply(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n', () => process.exit(0));
}

// Same text as the sandboxConsole of buildSandbox.ts pushLog(): strings as-is, others JSON.
function formatArgs(args) {
	return args
		.map((a) => {
			if (typeof a === 'string') return a;
			try {
				return JSON.stringify(a);
			} catch (_) {
				return String(a);
			}
		})
		.join(' ');
}

// getCompatibilityScript.ts, same structure (own wording): a `Store` constant holding a private
// key/value object with set(key, val) -> val and get(key); then the script text; then an IIFE
// whose value (the script's completion value) exposes the Script methods that are functions.
const METHODS = ['prepare_outgoing_request', 'process_outgoing_response', 'process_incoming_request'];
function compatibilityScript(customScript) {
	const pick = METHODS.map(
		(m) => `...(typeof instance[${JSON.stringify(m)}] === 'function' ? { ${m}: (...args) => instance.${m}(...args) } : {}),`,
	).join('\n');
	return [
		'const Store = (function () {',
		'  const data = {};',
		'  return { set(key, val) { data[key] = val; return val; }, get(key) { return data[key]; } };',
		'})();',
		'',
		customScript,
		'',
		'(function () {',
		'  const instance = new Script();',
		`  const functions = { ${pick} };`,
		'  return { ...functions, availableFunctions: Object.keys(functions) };',
		'})();',
	].join('\n');
}

async function run(input) {
	const timeout = Math.max(1, Number(input.timeoutMs) || 3000);
	const logs = [];
	const push = (level) => (...args) => {
		if (logs.length < MAX_LOGS) logs.push({ level, message: formatArgs(args) });
	};
	const sandbox = {};
	const ctx = vm.createContext(sandbox, { codeGeneration: { strings: true, wasm: false } });
	vm.runInContext('globalThis.global = globalThis;', ctx);
	sandbox.console = { log: push('log'), info: push('info'), warn: push('warn'), error: push('error'), debug: push('debug') };

	let fns;
	try {
		fns = vm.runInContext(compatibilityScript(input.script), ctx, { timeout, filename: 'integration-script.js' });
	} catch (e) {
		return reply({ ok: false, stage: 'evaluate', error: errInfo(e), logs });
	}
	if (!fns || typeof fns.process_incoming_request !== 'function') {
		// ScriptEngine.ts executeIncomingScript(): logs "Method not found", returns undefined.
		return reply({ ok: false, stage: 'missing-method', logs });
	}

	// The argument is built inside the context (ivm copies it in), so the script sees plain
	// objects of its own realm. The call runs under the same vm timeout.
	const key = '__rcsim_call_' + Math.random().toString(36).slice(2);
	sandbox[key] = { fn: fns.process_incoming_request, json: JSON.stringify({ request: input.request }) };
	let result;
	try {
		result = vm.runInContext(`(function (c) { return c.fn(JSON.parse(c.json)); })(globalThis.${key})`, ctx, { timeout });
	} catch (e) {
		delete sandbox[key];
		return reply({ ok: false, stage: 'run', error: errInfo(e), logs });
	}
	delete sandbox[key];
	try {
		if (result && typeof result.then === 'function') {
			result = await result; // callScriptFunction(): result: { promise: true }
		}
		// result: { copy: true } -> structured clone; functions, symbols etc. make it throw.
		const copied = structuredClone(result);
		const text = JSON.stringify({ ok: true, result: copied === undefined ? null : copied, logs });
		process.stdout.write(text + '\n', () => process.exit(0));
	} catch (e) {
		return reply({ ok: false, stage: 'run', error: errInfo(e), logs });
	}
}

function check(input) {
	try {
		new vm.Script(`(function(){${input.script}})`);
		reply({ ok: true });
	} catch (e) {
		reply({ ok: false, stage: 'syntax', error: errInfo(e) });
	}
}

let raw = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
	raw += d;
});
process.stdin.on('end', () => {
	let input;
	try {
		input = JSON.parse(raw);
	} catch (e) {
		return reply({ ok: false, stage: 'input', error: errInfo(e) });
	}
	if (input.mode === 'check') return check(input);
	return run(input).catch((e) => reply({ ok: false, stage: 'run', error: errInfo(e) }));
});
