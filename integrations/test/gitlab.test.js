'use strict';
// Tests for integrations/gitlab.js. Run: node --test integrations/test/
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
// Fixtures: GitLab webhook payloads shared by the project (see their README).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const SCRIPT_PATH = path.resolve(__dirname, '..', 'gitlab.js');
const SOURCE = fs.readFileSync(SCRIPT_PATH, 'utf8');
const FIXTURES = process.env.GITLAB_FIXTURES
	? path.resolve(process.env.GITLAB_FIXTURES)
	: path.resolve(__dirname, '../../../shared/fixtures/gitlab-webhooks');

// file name -> X-Gitlab-Event, as documented in the fixtures' README.md.
const FIXTURE_EVENTS = {
	'push.json': 'Push Hook',
	'tag_push.json': 'Tag Push Hook',
	'issue.json': 'Issue Hook',
	'merge_request.json': 'Merge Request Hook',
	'group_merge_request.json': 'Merge Request Hook',
	'service_merge_request.json': 'Merge Request Hook',
	'note_commit.json': 'Note Hook',
	'note_issue.json': 'Note Hook',
	'note_merge_request.json': 'Note Hook',
	'note_snippet.json': 'Note Hook',
	'pipeline.json': 'Pipeline Hook',
	'job.json': 'Job Hook',
	'build.json': 'Job Hook',
	'deployment.json': 'Deployment Hook',
	'release.json': 'Release Hook',
	'wiki_page.json': 'Wiki Page Hook',
	'feature_flag.json': 'Feature Flag Hook',
	'member.json': 'Member Hook',
	'subgroup.json': 'Subgroup Hook',
	'resource_access_token_group.json': 'Resource Access Token Hook',
	'resource_access_token_project.json': 'Resource Access Token Hook',
};

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

function fixture(name) {
	return JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8'));
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

// ------------------------------------------------------------------ fixtures

test('fixture directory exists and every fixture has a known event header', () => {
	assert.ok(fs.existsSync(FIXTURES), `GitLab fixtures not found at ${FIXTURES} (set GITLAB_FIXTURES)`);
	const files = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
	assert.ok(files.length >= Object.keys(FIXTURE_EVENTS).length, `only ${files.length} fixtures in ${FIXTURES}`);
	for (const f of files) {
		assert.ok(FIXTURE_EVENTS[f], `fixture ${f} has no X-Gitlab-Event mapping in this test`);
	}
	for (const f of Object.keys(FIXTURE_EVENTS)) {
		assert.ok(files.includes(f), `expected fixture ${f} is missing`);
	}
});

test('every fixture renders a well-formed message through the isolated-vm wrapper', () => {
	for (const [file, event] of Object.entries(FIXTURE_EVENTS)) {
		const result = engine.run(request(event, fixture(file)));
		assertWellFormed(result, file);
	}
});

test('vm2-style loading (`${script}; Script;`) gives the same messages', () => {
	const old = loadVm2Style(SOURCE);
	for (const [file, event] of Object.entries(FIXTURE_EVENTS)) {
		const a = engine.run(request(event, fixture(file)));
		const b = JSON.parse(JSON.stringify(old.run(request(event, fixture(file)))));
		assert.deepEqual(b, a, file);
	}
});

test('push: branch, commit count, author, commit list', () => {
	const data = fixture('push.json');
	const r = run('Push Hook', data);
	const branch = data.ref.replace('refs/heads/', '');
	assert.ok(plain(r.content.text).includes(branch), r.content.text);
	assert.ok(r.content.text.includes(`pushed ${data.total_commits_count} commits`), r.content.text);
	assert.ok(plain(r.content.text).includes(data.user_name), r.content.text);
	assert.ok(r.content.text.includes(data.project.path_with_namespace));
	const att = r.content.attachments[0];
	for (const c of data.commits) {
		assert.ok(att.text.includes(c.id.slice(0, 8)), `commit ${c.id} listed`);
		assert.ok(plain(att.text).includes(c.author.name), `author ${c.author.name} listed`);
	}
	const hidden = data.total_commits_count - data.commits.length;
	assert.ok(att.text.includes(`and ${hidden} more`), att.text);
	assert.ok(att.title_link.includes(`/-/compare/${data.before}...${data.after}`));
});

test('tag push: tag name and who pushed it', () => {
	const data = fixture('tag_push.json');
	const r = run('Tag Push Hook', data);
	assert.ok(r.content.text.includes('pushed tag'), r.content.text);
	assert.ok(r.content.text.includes('[v1.0.0](' + data.project.web_url + '/-/tags/v1.0.0)'), r.content.text);
	assert.ok(plain(r.content.text).includes(data.user_name));
	assert.ok(allText(r).includes(data.checkout_sha.slice(0, 8)));
});

test('issue: action, iid, title, assignee mentioned, description', () => {
	const data = fixture('issue.json');
	const r = run('Issue Hook', data);
	const attrs = data.object_attributes;
	assert.ok(r.content.text.includes(`opened issue [#${attrs.iid} `), r.content.text);
	assert.ok(plain(r.content.text).includes(attrs.title));
	assert.ok(r.content.text.includes('@' + data.assignees[0].username), 'assignee mentioned');
	assert.ok(allText(r).includes(attrs.description));
	const fields = r.content.attachments[0].fields.map((f) => f.title);
	assert.ok(fields.includes('Assignees') && fields.includes('Labels'));
});

test('merge request: iid, title, source -> target, reviewers listed', () => {
	const data = fixture('merge_request.json');
	const r = run('Merge Request Hook', data);
	const mr = data.object_attributes;
	assert.ok(r.content.text.includes(`opened merge request [!${mr.iid} `), r.content.text);
	assert.ok(plain(r.content.text).includes(mr.title));
	const att = r.content.attachments[0];
	assert.ok(plain(att.text).includes(`${mr.source_branch}\` → \`${mr.target_branch}`), att.text);
	assert.equal(att.title_link, mr.url);
	const reviewers = att.fields.find((f) => f.title === 'Reviewers');
	assert.ok(reviewers && reviewers.value.includes(data.reviewers[0].name));
	// The actor is also the only assignee/reviewer here: nobody pings themselves.
	assert.ok(!r.content.text.includes('@' + data.user.username), r.content.text);
});

test('merge request with keys GitLab did not send (group fixture) degrades gracefully', () => {
	const r = run('Merge Request Hook', fixture('group_merge_request.json'));
	assert.ok(r.content.text.includes('merged [a merge request](http://example.com/exm-namespace/example-project/merge_requests/1402)'), r.content.text);
});

test('merge request update with new commits (service fixture)', () => {
	const data = fixture('service_merge_request.json');
	const r = run('Merge Request Hook', data);
	assert.ok(r.content.text.includes(`merge request [!${data.object_attributes.iid} `), r.content.text);
	assert.ok(plain(r.content.attachments[0].text).includes(data.object_attributes.source_branch));
});

test('notes name the commented object and carry the comment', () => {
	const cases = {
		'note_commit.json': 'commented on commit',
		'note_issue.json': 'commented on issue [#',
		'note_merge_request.json': 'commented on merge request [!',
		'note_snippet.json': 'commented on snippet [$',
	};
	for (const [file, expected] of Object.entries(cases)) {
		const data = fixture(file);
		const r = run('Note Hook', data);
		assert.ok(r.content.text.includes(expected), `${file}: ${r.content.text}`);
		assert.ok(allText(r).includes(data.object_attributes.note), file);
		assert.equal(r.content.attachments[0].title_link, data.object_attributes.url);
	}
});

test('pipeline: status word, colour, id, duration, merge request', () => {
	const data = fixture('pipeline.json');
	const r = run('Pipeline Hook', data);
	const attrs = data.object_attributes;
	assert.equal(attrs.status, 'success');
	assert.ok(r.content.text.includes('*passed*'), r.content.text);
	assert.ok(r.content.text.includes(`[#${attrs.id}]`), r.content.text);
	assert.ok(r.content.text.includes('(1 min 3 s)'), r.content.text);
	assert.equal(r.content.attachments[0].color, '#2e7d32');
	assert.ok(allText(r).includes(data.commit.id.slice(0, 8)));
});

test('pipeline failure lists the failed jobs in red', () => {
	const data = fixture('pipeline.json');
	data.object_attributes.status = 'failed';
	data.builds[0].status = 'failed';
	const r = run('Pipeline Hook', data);
	assert.ok(r.content.text.includes('*failed*'), r.content.text);
	assert.equal(r.content.attachments[0].color, '#d32f2f');
	const failed = r.content.attachments[0].fields.find((f) => f.title === 'Failed jobs');
	assert.ok(failed && plain(failed.value).includes(data.builds[0].name), JSON.stringify(failed));
});

test('jobs: name, status, stage, job link', () => {
	for (const file of ['job.json', 'build.json']) {
		const data = fixture(file);
		const r = run('Job Hook', data);
		assert.ok(plain(r.content.text).includes(data.build_name), `${file}: ${r.content.text}`);
		assert.ok(r.content.text.includes(`/-/jobs/${data.build_id})`), r.content.text);
		const stage = r.content.attachments[0].fields.find((f) => f.title === 'Stage');
		assert.equal(plain(stage.value), data.build_stage);
	}
	assert.ok(run('Job Hook', fixture('job.json')).content.text.includes('*passed*'));
	assert.ok(run('Job Hook', fixture('build.json')).content.text.includes('*was created*'));
});

test('deployment, release, wiki, feature flag, member, subgroup, access tokens', () => {
	const dep = run('Deployment Hook', fixture('deployment.json'));
	assert.ok(dep.content.text.includes('Deployment to [staging](https://staging.example.com) *succeeded*'), dep.content.text);

	const rel = fixture('release.json');
	const relR = run('Release Hook', rel);
	assert.ok(relR.content.text.includes(`Release [${rel.name}](${rel.url}) created`), relR.content.text);
	assert.ok(allText(relR).includes(rel.description));

	const wiki = fixture('wiki_page.json');
	const wikiR = run('Wiki Page Hook', wiki);
	assert.ok(wikiR.content.text.includes(`created wiki page [${wiki.object_attributes.title}]`), wikiR.content.text);

	const ff = fixture('feature_flag.json');
	const ffR = run('Feature Flag Hook', ff);
	assert.ok(ffR.content.text.includes('turned *on* feature flag `' + ff.object_attributes.name + '`'), ffR.content.text);

	const member = fixture('member.json');
	const memberR = run('Member Hook', member);
	assert.ok(plain(memberR.content.text).includes(member.user_name), memberR.content.text);
	assert.ok(memberR.content.text.includes('was added to group'), memberR.content.text);
	assert.ok(plain(memberR.content.text).includes(member.group_access), memberR.content.text);

	const sub = fixture('subgroup.json');
	const subR = run('Subgroup Hook', sub);
	assert.ok(plain(subR.content.text).includes(sub.full_path) && subR.content.text.includes('was created in'), subR.content.text);

	for (const file of ['resource_access_token_group.json', 'resource_access_token_project.json']) {
		const tok = fixture(file);
		const r = run('Resource Access Token Hook', tok);
		assert.ok(r.content.text.includes('`' + tok.object_attributes.name + '`'), r.content.text);
		assert.ok(r.content.text.includes(tok.object_attributes.expires_at), r.content.text);
	}
});

// ------------------------------------------------------------------ edge cases GitLab sends today

test('tag deletion: checkout_sha null and after all zeros (SHA-1 and SHA-256)', () => {
	for (const zero of [ZERO40, ZERO64]) {
		const data = fixture('tag_push.json');
		data.before = data.after;
		data.after = zero;
		data.checkout_sha = null;
		data.commits = [];
		data.total_commits_count = 0;
		const r = run('Tag Push Hook', data);
		assert.ok(r.content.text.includes('deleted tag `v1.0.0`'), r.content.text);
		assert.ok(!r.content.text.includes('pushed tag'));
	}
	// checkout_sha null alone is enough.
	const data = fixture('tag_push.json');
	data.checkout_sha = null;
	assert.ok(run('Tag Push Hook', data).content.text.includes('deleted tag'));
});

test('branch creation: before all zeros (40 and 64)', () => {
	for (const zero of [ZERO40, ZERO64]) {
		const data = fixture('push.json');
		data.before = zero;
		data.ref = 'refs/heads/feature/new_thing';
		const r = run('Push Hook', data);
		assert.ok(r.content.text.includes('created branch [feature/new\\_thing]('), r.content.text);
		assert.ok(r.content.text.includes('/-/tree/feature/new_thing)'), r.content.text);
		assert.ok(!r.content.text.includes('compare'), 'no compare link from the zero SHA');
		assert.ok(!JSON.stringify(r).includes(zero), 'zero SHA not shown');
	}
	// A new branch without new commits: empty commits list.
	const data = fixture('push.json');
	data.before = ZERO40;
	data.commits = [];
	data.total_commits_count = 0;
	const r = run('Push Hook', data);
	assert.ok(r.content.text.includes('created branch [master]'), r.content.text);
});

test('branch deletion: after all zeros (40 and 64), checkout_sha null', () => {
	for (const zero of [ZERO40, ZERO64]) {
		const data = fixture('push.json');
		data.after = zero;
		data.checkout_sha = null;
		data.commits = [];
		data.total_commits_count = 0;
		data.ref = 'refs/heads/old-branch';
		const r = run('Push Hook', data);
		assert.ok(r.content.text.includes('deleted branch `old-branch`'), r.content.text);
		assert.ok(plain(r.content.text).includes('John Smith'));
	}
});

test('pipeline with user null and duration null', () => {
	const data = fixture('pipeline.json');
	data.user = null;
	data.object_attributes.duration = null;
	data.object_attributes.status = 'running';
	data.object_attributes.source = 'schedule';
	data.object_attributes.finished_at = null;
	const r = run('Pipeline Hook', data);
	assert.ok(r.content.text.includes('*is running*'), r.content.text);
	assert.ok(!/\(\s*\)|\(0 s\)/.test(r.content.text), 'no empty duration');
	const by = r.content.attachments[0].fields.find((f) => f.title === 'Triggered by');
	assert.equal(by.value, 'schedule');
	assert.equal(r.content.attachments[0].author_name, undefined);
});

test('pipeline with user missing, no merge request, tag ref', () => {
	const data = fixture('pipeline.json');
	delete data.user;
	delete data.merge_request;
	data.object_attributes.tag = true;
	data.object_attributes.ref = 'v2.0';
	delete data.object_attributes.duration;
	const r = run('Pipeline Hook', data);
	assert.ok(r.content.text.includes('for [v2.0](' + data.project.web_url + '/-/tags/v2.0)'), r.content.text);
});

test('merge request: assignee only in top-level assignees array, reviewers mentioned', () => {
	const data = fixture('merge_request.json');
	data.user = { id: 99, name: 'Rita Opener', username: 'rita', avatar_url: null };
	delete data.object_attributes.assignee;
	data.object_attributes.assignee_id = null;
	data.assignees = [{ id: 7, name: 'Alice A', username: 'alice', avatar_url: null }];
	data.reviewers = [
		{ id: 8, name: 'Bob B', username: 'bob', avatar_url: null },
		{ id: 7, name: 'Alice A', username: 'alice', avatar_url: null },
		{ id: 99, name: 'Rita Opener', username: 'rita', avatar_url: null },
	];
	const r = run('Merge Request Hook', data);
	assert.ok(r.content.text.endsWith('· @alice @bob'), r.content.text);
	assert.ok(!r.content.text.includes('@rita'), 'actor not mentioned');
	assert.equal(r.content.attachments[0].author_icon, undefined, 'avatar_url null is dropped');
});

test('merge request update mentions only newly changed assignees/reviewers; merge is green', () => {
	const data = fixture('merge_request.json');
	data.user = { name: 'Rita Opener', username: 'rita' };
	data.object_attributes.action = 'update';
	data.changes = { reviewers: { previous: [], current: [{ name: 'Carol', username: 'carol' }] } };
	const r = run('Merge Request Hook', data);
	assert.ok(r.content.text.endsWith('· @carol'), r.content.text);

	data.object_attributes.action = 'merge';
	data.changes = {};
	const merged = run('Merge Request Hook', data);
	assert.ok(merged.content.text.includes('merged merge request'), merged.content.text);
	assert.ok(!merged.content.text.includes('@'), merged.content.text);
	assert.equal(merged.content.attachments[0].color, '#2e7d32');
});

test('null description / duration never print "null"', () => {
	const issue = fixture('issue.json');
	issue.object_attributes.description = null;
	issue.labels = null;
	issue.assignees = null;
	issue.assignee = null;
	run('Issue Hook', issue);
	const job = fixture('job.json');
	job.build_duration = null;
	job.environment = null;
	job.runner = null;
	job.commit = null;
	const r = run('Job Hook', job);
	assert.ok(!/ \((\d|\))/.test(r.content.text), `no duration shown: ${r.content.text}`);
	assert.deepEqual(r.content.attachments[0].fields.map((f) => f.title), ['Stage']);
});

test('unknown event header: short generic message naming the event and project', () => {
	const data = fixture('issue.json');
	data.object_kind = 'something_new';
	const r = run('Shiny New Hook', data);
	assert.ok(r.content.text.includes('*Shiny New Hook*'), r.content.text);
	assert.ok(r.content.text.includes(data.project.path_with_namespace), r.content.text);
});

test('missing header: event inferred from object_kind / event_name', () => {
	const push = run(undefined, fixture('push.json'));
	assert.ok(push.content.text.includes('pushed 4 commits'), push.content.text);
	const mr = run(undefined, fixture('merge_request.json'));
	assert.ok(mr.content.text.includes('opened merge request'), mr.content.text);
	const sub = run(undefined, fixture('subgroup.json'));
	assert.ok(sub.content.text.includes('Subgroup'), sub.content.text);
	const member = run(undefined, fixture('member.json'));
	assert.ok(member.content.text.includes('was added to group'), member.content.text);
	const job = run(undefined, fixture('build.json'));
	assert.ok(job.content.text.startsWith('Job '), job.content.text);
});

test('header lookup tolerates other casing', () => {
	const r = engine.run(
		Object.assign(request(undefined, fixture('tag_push.json')), { headers: { 'X-Gitlab-Event': 'Tag Push Hook' } }),
	);
	assertWellFormed(r, 'casing');
	assert.ok(r.content.text.includes('pushed tag'));
});

test('garbage bodies: undefined, string, array, number, empty object, invalid raw', () => {
	const bodies = [undefined, 'not json at all', [1, 2, 3], 42, {}, null, true];
	for (const body of bodies) {
		for (const event of ['Push Hook', 'Pipeline Hook', undefined]) {
			const r = engine.run(request(event, body, { content_raw: typeof body === 'string' ? body : '{oops' }));
			const c = assertWellFormed(r, `${event} with ${JSON.stringify(body)}`);
			assert.ok(c.text.startsWith('GitLab sent'), c.text);
			if (event) {
				assert.ok(c.text.includes(event), c.text);
			}
		}
	}
	// No request at all.
	const bare = loadIsolated(SOURCE);
	const exported = bare.run(undefined);
	assertWellFormed(exported, 'no request');
});

test('body only in content_raw (content not parsed) is still understood', () => {
	const data = fixture('push.json');
	const r = engine.run(request('Push Hook', {}, { content_raw: JSON.stringify(data) }));
	assertWellFormed(r, 'raw');
	assert.ok(r.content.text.includes('pushed 4 commits'), r.content.text);
});

test('wrongly typed fields never throw (fallback message at worst)', () => {
	const weird = [
		{ object_kind: 'push', project: 'str', commits: 'nope', ref: 5, user_name: { a: 1 } },
		{ object_kind: 'merge_request', object_attributes: [], assignees: {}, reviewers: 'x' },
		{ object_kind: 'pipeline', object_attributes: { status: {}, duration: 'abc', stages: 'x' }, builds: {} },
		{ object_kind: 'note', object_attributes: { note: ['x'] }, merge_request: [] },
		{ object_kind: 'issue', object_attributes: null, changes: 3 },
		{ object_kind: 'tag_push', ref: null, checkout_sha: 42 },
		{ object_kind: 'build', build_status: null, build_duration: -5 },
		{ object_kind: 'emoji', object_attributes: { name: '<script>' } },
		{ event_name: 'user_create', username: 'newbie' },
	];
	for (const payload of weird) {
		const r = run(undefined, payload);
		assert.ok(r.content.text.length > 0);
	}
});

test('renderer crash falls back to a generic message and logs, never an error', () => {
	// Replacing a renderer by one that throws simulates any unforeseen bug inside it.
	const src = SOURCE + '\nglPush = function () { throw new Error("boom"); };';
	const broken = loadIsolated(src);
	const r = broken.run(request('Push Hook', fixture('push.json')));
	assertWellFormed(r, 'broken');
	assert.ok(r.content.text.includes('*Push Hook*') && r.content.text.includes('details could not be shown'), r.content.text);
	assert.ok(broken.logs.some((l) => l.includes('boom')), broken.logs.join('\n'));
});

test('huge push with 100 commits is truncated to the configured maximum', () => {
	const data = fixture('push.json');
	const base = data.commits[0];
	data.commits = [];
	for (let i = 0; i < 100; i++) {
		const id = i.toString(16).padStart(40, 'a');
		data.commits.push(Object.assign({}, base, { id, title: `commit ${i}`, message: `commit ${i}\n\nbody`, url: `${data.project.web_url}/commit/${id}` }));
	}
	data.total_commits_count = 100;
	const r = run('Push Hook', data);
	assert.ok(r.content.text.includes('pushed 100 commits'), r.content.text);
	const lines = r.content.attachments[0].text.split('\n');
	const max = Number(/const GITLAB_MAX_COMMITS = (\d+);/.exec(SOURCE)[1]);
	assert.equal(lines.length, max + 1, 'max commits + the "more" line');
	assert.ok(lines[0].includes('commit 99'), 'newest first');
	assert.ok(lines[lines.length - 1].includes(`and ${100 - max} more`), lines[lines.length - 1]);
	assert.ok(JSON.stringify(r).length < 6000, 'message stays small');
});

test('Markdown in titles and branch names is escaped; links stay valid', () => {
	const data = fixture('merge_request.json');
	data.object_attributes.title = 'Fix [WIP] *bold* _it_ ~strike~ `code` (parens)';
	data.object_attributes.url = 'http://example.com/a b/merge_requests/(1)';
	const r = run('Merge Request Hook', data);
	assert.ok(r.content.text.includes('[!1 Fix (WIP) \\*bold\\* \\_it\\_ \\~strike\\~ \\`code\\` (parens)](http://example.com/a'), r.content.text);
	assert.ok(r.content.text.includes('](http://example.com/a%20b/merge_requests/%281%29)'), 'space and parens percent-encoded');
	// A javascript: URL is never linked.
	const issue = fixture('issue.json');
	issue.object_attributes.url = 'javascript:alert(1)';
	const ri = run('Issue Hook', issue);
	assert.ok(!JSON.stringify(ri).includes('javascript:'), ri.content.text);
});

test('confidential issue / note headers and other documented events', () => {
	const issue = fixture('issue.json');
	const ci = run('Confidential Issue Hook', issue);
	assert.ok(ci.content.text.includes('opened confidential issue'), ci.content.text);

	const note = fixture('note_issue.json');
	note.event_type = 'confidential_note';
	const cn = run('Confidential Note Hook', note);
	assert.ok(cn.content.text.includes('commented on confidential issue'), cn.content.text);

	// Shapes below follow doc/user/project/integrations/webhook_events.md.
	const project = fixture('issue.json').project;
	const emoji = run('Emoji Hook', {
		object_kind: 'emoji',
		event_type: 'award',
		user: { name: 'Blake Bergstrom', username: 'root', avatar_url: null },
		project,
		object_attributes: { name: 'thumbsup', awardable_type: 'Note', action: 'award', awarded_on_url: 'http://example.com/flightjs/Flight/-/issues/42#note_363' },
		note: { noteable_type: 'Issue', note: 'Testing 123' },
		issue: { iid: 42, title: 'New issue!', url: 'http://example.com/flightjs/Flight/-/issues/42' },
	});
	assert.ok(emoji.content.text.includes('reacted with :thumbsup: to a comment on issue [#42 New issue!]'), emoji.content.text);

	const milestone = run('Milestone Hook', {
		object_kind: 'milestone',
		event_type: 'milestone',
		project,
		object_attributes: { id: 61, iid: 10, title: 'v1.0', description: 'First stable release', state: 'active', due_date: '2025-06-30' },
		action: 'create',
	});
	assert.ok(milestone.content.text.includes('Milestone [v1.0](' + project.web_url + '/-/milestones/10) created'), milestone.content.text);

	const proj = run('Project Hook', {
		event_name: 'project_create',
		name: 'project1',
		path: 'project1',
		path_with_namespace: 'group1/project1',
		project_id: 22,
		owners: [{ name: 'John', email: 'user1@example.com' }],
		project_visibility: 'private',
	});
	assert.ok(proj.content.text.includes('Project *group1/project1* was created'), proj.content.text);

	const vuln = run('Vulnerability Hook', {
		object_kind: 'vulnerability',
		object_attributes: { url: 'https://example.com/flightjs/Flight/-/security/vulnerabilities/1', title: 'REXML DoS vulnerability', state: 'confirmed', severity: 'high', report_type: 'dependency_scanning' },
	});
	assert.ok(vuln.content.text.includes('Vulnerability [REXML DoS vulnerability]') && vuln.content.text.includes('*confirmed*'), vuln.content.text);

	const workItem = fixture('issue.json');
	workItem.object_kind = 'work_item';
	workItem.object_attributes.type = 'Task';
	const wi = run('Issue Hook', workItem);
	assert.ok(wi.content.text.includes('opened task [#'), wi.content.text);
});

test('system hooks: push via System Hook header, and generic system events', () => {
	const push = run('System Hook', fixture('push.json'));
	assert.ok(push.content.text.includes('pushed 4 commits'), push.content.text);
	const user = run('System Hook', { event_name: 'user_create', name: 'Jane', username: 'jane', user_id: 3 });
	assert.ok(user.content.text.includes('`user_create`') && user.content.text.includes('jane'), user.content.text);
	const rename = run('System Hook', { event_name: 'project_rename', path_with_namespace: 'g/new', old_path_with_namespace: 'g/old' });
	assert.ok(rename.content.text.includes('was renamed (was *g/old*)'), rename.content.text);
});

test('ignored statuses knob silences pipeline/job updates (returns nothing, not an error)', () => {
	const src = SOURCE.replace(
		'const GITLAB_IGNORED_PIPELINE_STATUSES = [];',
		"const GITLAB_IGNORED_PIPELINE_STATUSES = ['running'];",
	).replace('const GITLAB_IGNORED_JOB_STATUSES = [];', "const GITLAB_IGNORED_JOB_STATUSES = ['created'];");
	assert.notEqual(src, SOURCE);
	const quiet = loadIsolated(src);
	const data = fixture('pipeline.json');
	data.object_attributes.status = 'running';
	assert.equal(quiet.run(request('Pipeline Hook', data)), undefined);
	data.object_attributes.status = 'failed';
	assertWellFormed(quiet.run(request('Pipeline Hook', data)), 'failed still posted');
	assert.equal(quiet.run(request('Job Hook', fixture('build.json'))), undefined);
});

test('mention style knob: names instead of @usernames, or none', () => {
	const data = fixture('issue.json');
	const byName = loadIsolated(SOURCE.replace("const GITLAB_MENTION_STYLE = 'username';", "const GITLAB_MENTION_STYLE = 'name';"));
	const r1 = byName.run(request('Issue Hook', data));
	assertWellFormed(r1, 'name');
	assert.ok(r1.content.text.endsWith('· User1') && !r1.content.text.includes('@'), r1.content.text);
	const none = loadIsolated(SOURCE.replace("const GITLAB_MENTION_STYLE = 'username';", "const GITLAB_MENTION_STYLE = 'none';"));
	const r2 = none.run(request('Issue Hook', data));
	assertWellFormed(r2, 'none');
	assert.ok(!r2.content.text.includes('·'), r2.content.text);
});

test('script is sandbox-safe: no require/import/module, only declarations at top level', () => {
	assert.ok(!/\brequire\s*\(/.test(SOURCE), 'no require');
	assert.ok(!/^\s*(import|export)\b/m.test(SOURCE), 'no import/export');
	assert.ok(!/\bmodule\b/.test(SOURCE.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '')), 'no module');
	// Must not redeclare the prelude's `Store` (getCompatibilityScript declares it with const).
	assert.ok(!/^(const|let|var|function|class)\s+Store\b/m.test(SOURCE));
	// Every top-level statement is a declaration (const/function/class) or a comment.
	for (const line of SOURCE.split('\n')) {
		if (/^\S/.test(line) && !/^(\/\/|\/\*| \*|\*\/|\}|\]|\);?$)/.test(line)) {
			assert.match(line, /^(const|function|class) /, `unexpected top-level code: ${line}`);
		}
	}
	// Compiles as a classic script in strict mode too (Babel adds "use strict").
	new vm.Script(`'use strict';\n${SOURCE}\n;Script;`);
	// The result survives a structured copy (isolated-vm copies it out of the isolate).
	const r = engine.run(request('Push Hook', fixture('push.json')));
	assert.deepEqual(structuredClone(r), JSON.parse(JSON.stringify(r)));
});
