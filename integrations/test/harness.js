'use strict';
// Shared by the tests of integrations/gitlab.js (node --test runs this file too: it defines
// helpers only, so it reports as one passing file).
//
// The script is loaded the way Rocket.Chat loads it, not through require():
//  - isolated-vm engine (current default): RocketChat/Rocket.Chat
//    apps/meteor/app/integrations/server/lib/isolated-vm/getCompatibilityScript.ts wraps the script
//    between a `const Store = ...` prelude and an IIFE that does `new Script()` and returns the
//    available functions; isolated-vm/buildSandbox.ts exposes only `global`, `ivm`, `s`, `console`;
//    isolated-vm.ts runs it with a 3000 ms timeout and copies arguments and result across the isolate
//    boundary (`{ copy: true }`), which we mimic with structuredClone.
//  - vm2 engine (older releases): lib/vm2/vm2.ts evaluates `${script}; Script;` and calls
//    `new ScriptClass().process_incoming_request({ request })`.
//
// Fixtures: the project's own GitLab payloads in ./fixtures (see fixtures/README.md), always
// present. An extra corpus of someone else's samples is used only when present: GITLAB_FIXTURES,
// or ../shared/fixtures/gitlab-webhooks beside the repository root.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const SCRIPT_PATH = path.resolve(__dirname, '..', 'gitlab.js');
const SOURCE = fs.readFileSync(SCRIPT_PATH, 'utf8');
const FIXTURES = path.join(__dirname, 'fixtures');
// file name -> { event: X-Gitlab-Event, headline: the exact first line the script posts }
const MANIFEST = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'index.json'), 'utf8'));

const REPO_ROOT = path.resolve(__dirname, '..', '..');
// Optional extra corpus: never required, so it is only looked for, never fallen back on.
const EXTRA_CORPUS = process.env.GITLAB_FIXTURES
	? path.resolve(process.env.GITLAB_FIXTURES)
	: path.resolve(REPO_ROOT, '..', 'shared', 'fixtures', 'gitlab-webhooks');

const ZERO40 = '0'.repeat(40);
const ZERO64 = '0'.repeat(64);

// ------------------------------------------------------------------ loading like Rocket.Chat

function compatibilityScript(customScript) {
	// Same shape as getCompatibilityScript.ts (isolated-vm engine).
	return `
	const Store = (function() {
		const store = {};
		return {
			set(key, val) { store[key] = val; return val; },
			get(key) { return store[key]; },
		};
	})();

	${customScript}

	(function() {
		const instance = new Script();
		const functions = {
			...(typeof instance['prepare_outgoing_request'] === 'function' ? { prepare_outgoing_request : (...args) => instance.prepare_outgoing_request(...args) } : {}),
			...(typeof instance['process_outgoing_response'] === 'function' ? { process_outgoing_response : (...args) => instance.process_outgoing_response(...args) } : {}),
			...(typeof instance['process_incoming_request'] === 'function' ? { process_incoming_request : (...args) => instance.process_incoming_request(...args) } : {}),
		};
		return { ...functions, availableFunctions: Object.keys(functions) };
	})();
`;
}

function makeConsole(logs) {
	return {
		log: (...a) => logs.push(a.join(' ')),
		info: (...a) => logs.push(a.join(' ')),
		warn: (...a) => logs.push(a.join(' ')),
		error: (...a) => logs.push(a.join(' ')),
	};
}

function loadIsolated(source) {
	const logs = [];
	// buildSandbox.ts: global, ivm, s, console — nothing else (no require, module, moment, HTTP).
	const context = vm.createContext({ console: makeConsole(logs), s: {}, ivm: {} });
	context.global = context;
	const exported = vm.runInContext(compatibilityScript(source), context, { timeout: 3000, filename: 'gitlab.js' });
	assert.deepEqual(Array.from(exported.availableFunctions), ['process_incoming_request']);
	return {
		logs,
		run(request) {
			// isolated-vm.ts: fn(params, store) with arguments and result copied.
			const result = exported.process_incoming_request(structuredClone({ request }), {});
			return result === undefined ? undefined : structuredClone(result);
		},
	};
}

function loadVm2Style(source) {
	const logs = [];
	const ScriptClass = vm.runInNewContext(`${source}; Script;`, { console: makeConsole(logs) }, { timeout: 3000 });
	const instance = new ScriptClass();
	return { logs, run: (request) => instance.process_incoming_request({ request }) };
}

const engine = loadIsolated(SOURCE);

function request(event, content, extra) {
	const headers = { 'content-type': 'application/json' };
	if (event !== undefined) {
		headers['x-gitlab-event'] = event;
	}
	return Object.assign(
		{
			url: { hash: '', search: '', query: {}, pathname: '/hooks/x/y', path: '/hooks/x/y' },
			url_raw: '/hooks/x/y',
			url_params: {},
			content: content,
			content_raw: content === undefined ? '' : JSON.stringify(content),
			headers: headers,
			body: content,
			user: { _id: 'bot', name: 'GitLab bot', username: 'gitlab.bot' },
		},
		extra || {},
	);
}

// Removes the backslash escapes the script adds so assertions can use raw GitLab values.
function plain(s) {
	return String(s).replace(/\\([*_~`])/g, '$1');
}

function allText(result) {
	const c = result.content;
	const parts = [c.text];
	for (const a of c.attachments || []) {
		parts.push(a.title || '', a.text || '', a.author_name || '');
		for (const f of a.fields || []) {
			parts.push(f.title, f.value);
		}
	}
	return plain(parts.join('\n'));
}

function walkStrings(value, visit, where) {
	if (typeof value === 'string') {
		visit(value, where);
	} else if (Array.isArray(value)) {
		value.forEach((v, i) => walkStrings(v, visit, where + '[' + i + ']'));
	} else if (value && typeof value === 'object') {
		for (const k of Object.keys(value)) {
			walkStrings(value[k], visit, where + '.' + k);
		}
	}
}

// What every posted message must satisfy, whatever the event.
function assertWellFormed(result, label) {
	assert.ok(result && typeof result === 'object', `${label}: no result`);
	assert.ok(!('error' in result), `${label}: returned an error: ${JSON.stringify(result.error)}`);
	const c = result.content;
	assert.ok(c && typeof c === 'object', `${label}: no content`);
	assert.equal(typeof c.text, 'string', `${label}: text is not a string`);
	assert.ok(c.text.trim().length > 0, `${label}: empty text`);
	assert.ok(!c.text.includes('\n'), `${label}: headline is more than one line: ${c.text}`);
	// api.ts refuses the message unless overrideDestinationChannelEnabled.
	assert.ok(!('channel' in c) && !('roomId' in c), `${label}: overrides the destination channel`);
	walkStrings(
		result,
		(s, where) => {
			assert.ok(!/\bundefined\b|\bnull\b|\[object Object\]|\bNaN\b/.test(s), `${label}: ${where} contains a placeholder: ${s}`);
		},
		'result',
	);
	if (c.attachments !== undefined) {
		assert.ok(Array.isArray(c.attachments), `${label}: attachments must be an array`);
		for (const a of c.attachments) {
			if (a.color !== undefined) {
				assert.match(a.color, /^#[0-9a-f]{6}$/i, `${label}: colour`);
			}
			for (const f of a.fields || []) {
				// DefaultAttachment.tsx calls title.replace()/value.replace() on every field.
				assert.equal(typeof f.title, 'string', `${label}: field title`);
				assert.equal(typeof f.value, 'string', `${label}: field value`);
				assert.ok(f.value.length > 0, `${label}: empty field ${f.title}`);
			}
			for (const key of ['title_link', 'author_icon', 'author_link']) {
				if (a[key] !== undefined) {
					assert.match(a[key], /^https?:\/\//, `${label}: ${key}`);
				}
			}
		}
	}
	// Every Markdown link must be well formed: [label](http...) with no unbalanced brackets inside.
	walkStrings(
		c,
		(s, where) => {
			for (const m of s.matchAll(/\]\(([^)]*)\)/g)) {
				assert.match(m[1], /^https?:\/\/[^\s()<>]+$/, `${label}: bad link target at ${where}: ${m[1]}`);
			}
		},
		'content',
	);
	return c;
}

function run(event, content, extra) {
	const result = engine.run(request(event, content, extra));
	assertWellFormed(result, `${event || '(no header)'}`);
	return result;
}


function fixture(name) {
	return JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8'));
}

// Header for a fixture, from the manifest (so a test cannot post a payload under the wrong event).
function eventOf(name) {
	const entry = MANIFEST[name];
	assert.ok(entry, `fixture ${name} is not in fixtures/index.json`);
	return entry.event;
}

// Posts fixture `name` (optionally modified by `edit`) under its documented header.
function post(name, edit) {
	const data = fixture(name);
	if (edit) {
		edit(data);
	}
	return run(eventOf(name), data);
}

// The headers the script maps, read from the script itself (its GITLAB_HEADER_KINDS table).
function scriptHeaders() {
	const context = vm.createContext({});
	return Object.keys(vm.runInContext(`${SOURCE}\n;GITLAB_HEADER_KINDS`, context));
}

module.exports = {
	SOURCE,
	FIXTURES,
	MANIFEST,
	EXTRA_CORPUS,
	ZERO40,
	ZERO64,
	engine,
	loadIsolated,
	loadVm2Style,
	request,
	fixture,
	eventOf,
	post,
	plain,
	allText,
	assertWellFormed,
	run,
	scriptHeaders,
};
