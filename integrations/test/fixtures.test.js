'use strict';
// The project's own GitLab payloads (fixtures/, see its README): every event the script maps has
// one, and each renders exactly the headline recorded in fixtures/index.json, through both of
// Rocket.Chat's script engines. Run: node --test integrations/test/

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness.js');

const FILES = fs
	.readdirSync(h.FIXTURES)
	.filter((f) => f.endsWith('.json') && f !== 'index.json')
	.sort();

// Headers the script accepts that GitLab no longer documents: each is checked by replaying a
// documented fixture under it (same message expected).
const ALIASES = { 'work item hook': ['work_item.json', 'Issue Hook'], 'build hook': ['job.json', 'Job Hook'] };

test('fixtures, index.json and README.md list the same files', () => {
	assert.deepEqual(Object.keys(h.MANIFEST).sort(), FILES, 'fixtures/index.json and the .json files differ');
	const readme = fs.readFileSync(path.join(h.FIXTURES, 'README.md'), 'utf8');
	for (const f of FILES) {
		assert.ok(readme.includes('`' + f + '`'), `fixtures/README.md does not say where ${f} comes from`);
		assert.equal(typeof h.MANIFEST[f].headline, 'string', `${f}: no expected headline`);
	}
	for (const f of FILES) {
		JSON.parse(fs.readFileSync(path.join(h.FIXTURES, f), 'utf8')); // valid JSON, no comments
	}
});

test('every X-Gitlab-Event the script maps has a fixture', () => {
	const covered = new Set(Object.values(h.MANIFEST).map((e) => e.event.toLowerCase()));
	for (const header of h.scriptHeaders()) {
		assert.ok(covered.has(header) || ALIASES[header], `no fixture is posted as "${header}"`);
	}
	// And no fixture uses a header the script does not know.
	const known = new Set(h.scriptHeaders());
	for (const [file, entry] of Object.entries(h.MANIFEST)) {
		assert.ok(known.has(entry.event.toLowerCase()), `${file}: unknown header ${entry.event}`);
	}
});

test('every fixture posts exactly its recorded headline (isolated-vm wrapper)', () => {
	for (const file of FILES) {
		const r = h.post(file);
		assert.equal(r.content.text, h.MANIFEST[file].headline, file);
		assert.ok(!r.content.text.startsWith('GitLab sent'), `${file} fell back to the generic message`);
	}
});

test('vm2-style loading (`${script}; Script;`) posts the same messages', () => {
	const old = h.loadVm2Style(h.SOURCE);
	for (const file of FILES) {
		const a = h.engine.run(h.request(h.eventOf(file), h.fixture(file)));
		const b = JSON.parse(JSON.stringify(old.run(h.request(h.eventOf(file), h.fixture(file)))));
		assert.deepEqual(b, a, file);
	}
});

test('without the X-Gitlab-Event header every fixture posts the same message', () => {
	// object_kind / event_name / event_type carry the event when a proxy drops the header.
	for (const file of FILES) {
		const withHeader = h.post(file);
		const without = h.run(undefined, h.fixture(file));
		assert.deepEqual(without, withHeader, file);
	}
});

test('alias headers (Work Item Hook, Build Hook) post what the documented header posts', () => {
	for (const [alias, [file, documented]] of Object.entries(ALIASES)) {
		const a = h.run(alias.replace(/\b\w/g, (c) => c.toUpperCase()), h.fixture(file));
		assert.deepEqual(a, h.run(documented, h.fixture(file)), alias);
	}
});

// Someone else's samples (e.g. go-gitlab's testdata) when they happen to be beside the checkout:
// more shapes for free, never a requirement. The test is only registered when they are there.
const EXTRA_EVENTS = [
	[/^push/, 'Push Hook'],
	[/^tag_push/, 'Tag Push Hook'],
	[/^(confidential_)?issue/, 'Issue Hook'],
	[/merge_request/, 'Merge Request Hook'],
	[/^note/, 'Note Hook'],
	[/^pipeline/, 'Pipeline Hook'],
	[/^(job|build)/, 'Job Hook'],
	[/^deployment/, 'Deployment Hook'],
	[/^release/, 'Release Hook'],
	[/^wiki/, 'Wiki Page Hook'],
	[/^feature_flag/, 'Feature Flag Hook'],
	[/^member/, 'Member Hook'],
	[/^subgroup/, 'Subgroup Hook'],
	[/^resource_access_token/, 'Resource Access Token Hook'],
];
if (fs.existsSync(h.EXTRA_CORPUS)) {
	test(`extra corpus at ${h.EXTRA_CORPUS}: every payload posts a specific, well-formed message`, () => {
		const files = fs.readdirSync(h.EXTRA_CORPUS).filter((f) => f.endsWith('.json'));
		assert.ok(files.length > 0, `no .json in ${h.EXTRA_CORPUS}`);
		for (const f of files) {
			const hit = EXTRA_EVENTS.find(([re]) => re.test(f));
			const data = JSON.parse(fs.readFileSync(path.join(h.EXTRA_CORPUS, f), 'utf8'));
			const r = h.run(hit ? hit[1] : undefined, data);
			assert.ok(!r.content.text.startsWith('GitLab sent'), `${f}: generic message: ${r.content.text}`);
		}
	});
}
