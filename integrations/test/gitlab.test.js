'use strict';
// Behaviour of integrations/gitlab.js on the project's fixtures (fixtures/README.md): what each
// event posts, the knobs, and bodies GitLab never documented. The loader that runs the script the
// way Rocket.Chat does is in harness.js; the per-fixture headlines are checked in fixtures.test.js
// and the shapes GitLab sends beyond its examples in edge_cases.test.js.
// Run: node --test integrations/test/

const test = require('node:test');
const assert = require('node:assert/strict');
const vm = require('node:vm');
const { SOURCE, engine, loadIsolated, request, fixture, post, plain, allText, assertWellFormed, run } = require('./harness.js');

test('push: branch, commit count, author, commit list newest first, compare link', () => {
	const data = fixture('push.json');
	const r = post('push.json');
	assert.ok(r.content.text.includes(`pushed ${data.total_commits_count} commits to [main](`), r.content.text);
	assert.ok(plain(r.content.text).includes(data.user_name), r.content.text);
	const att = r.content.attachments[0];
	const lines = att.text.split('\n');
	assert.equal(lines.length, data.commits.length + 1, att.text);
	data.commits
		.slice()
		.reverse()
		.forEach((c, i) => {
			assert.ok(lines[i].includes('`' + c.id.slice(0, 8) + '`') && lines[i].includes(c.title) && lines[i].includes(c.author.name), lines[i]);
		});
	const hidden = data.total_commits_count - data.commits.length;
	assert.ok(lines[lines.length - 1].includes(`and ${hidden} more`), att.text);
	assert.equal(att.title, 'Compare changes');
	assert.equal(att.title_link, `${data.project.web_url}/-/compare/${data.before}...${data.after}`);
});

test('tag push: tag link, annotation, commit', () => {
	const data = fixture('tag_push.json');
	const r = post('tag_push.json');
	assert.ok(r.content.text.includes('pushed tag [v1.2.0](' + data.project.web_url + '/-/tags/v1.2.0)'), r.content.text);
	const att = r.content.attachments[0];
	assert.equal(att.text, data.message);
	assert.equal(att.title, data.commits[0].title);
	assert.deepEqual(att.fields, [{ title: 'Commit', value: '`' + data.checkout_sha.slice(0, 8) + '`', short: true }]);
});

test('issue: action, iid, title, assignee mentioned, description, fields', () => {
	const data = fixture('issue.json');
	const r = post('issue.json');
	const attrs = data.object_attributes;
	assert.ok(r.content.text.includes(`opened issue [#${attrs.iid} ${attrs.title}](${attrs.url})`), r.content.text);
	assert.ok(r.content.text.endsWith(' · @' + data.assignees[0].username), 'assignee mentioned');
	assert.equal(r.content.attachments[0].text, attrs.description);
	assert.deepEqual(
		r.content.attachments[0].fields.map((f) => [f.title, f.value]),
		[['State', 'opened'], ['Assignees', data.assignees[0].name], ['Labels', 'bug']],
	);
});

test('merge request: source -> target, description, link', () => {
	const data = fixture('merge_request.json');
	const mr = data.object_attributes;
	const att = post('merge_request.json').content.attachments[0];
	assert.equal(plain(att.text), `\`${mr.source_branch}\` → \`${mr.target_branch}\`\n${mr.description}`);
	assert.equal(att.title_link, mr.url);
});

test('merge request: new commits (oldrev), merge is green and pings nobody, draft, close', () => {
	const pushed = post('merge_request_push.json');
	assert.ok(pushed.content.text.startsWith('*Alan Turing* pushed new commits to merge request [!8 '), pushed.content.text);
	const merged = post('merge_request_merge.json');
	assert.ok(merged.content.text.startsWith('*Ada Lovelace* merged merge request [!8 '), merged.content.text);
	assert.ok(!merged.content.text.includes('@'), merged.content.text);
	assert.equal(merged.content.attachments[0].color, '#2e7d32');
	const draft = post('merge_request.json', (d) => (d.object_attributes.draft = true));
	assert.ok(draft.content.text.includes(' opened draft merge request [!8 '), draft.content.text);
	const closed = post('merge_request_merge.json', (d) => (d.object_attributes.action = 'close'));
	assert.ok(closed.content.text.includes(' closed merge request '), closed.content.text);
	assert.equal(closed.content.attachments[0].color, '#9e9e9e');
});

test('merge request from a fork names the source project', () => {
	const r = post('merge_request.json', (d) => {
		d.object_attributes.source = Object.assign({}, d.object_attributes.source, { path_with_namespace: 'alan/chatops' });
	});
	assert.ok(plain(r.content.attachments[0].text).startsWith('alan/chatops:`feature/webhook_retry` → `main`'), r.content.attachments[0].text);
});

test('notes name the commented object and carry the comment', () => {
	const cases = {
		'note_commit.json': 'commented on commit [a11ce5b0 mongo-rs-init: wait for a writable PRIMARY](',
		'note_issue.json': 'commented on issue [#17 ',
		'note_merge_request.json': 'commented on merge request [!8 ',
		'note_snippet.json': 'commented on snippet [$33 ',
	};
	for (const [file, expected] of Object.entries(cases)) {
		const data = fixture(file);
		const r = post(file);
		assert.ok(r.content.text.includes(expected), `${file}: ${r.content.text}`);
		assert.equal(r.content.attachments[0].text, data.object_attributes.note, file);
		assert.equal(r.content.attachments[0].title_link, data.object_attributes.url);
	}
});

test('pipeline: status word, colour, id, duration, merge request, commit', () => {
	const data = fixture('pipeline.json');
	const r = post('pipeline.json');
	assert.ok(r.content.text.includes('*passed*'), r.content.text);
	assert.ok(r.content.text.includes(`[#${data.object_attributes.id}](${data.object_attributes.url})`), r.content.text);
	assert.ok(r.content.text.includes('for merge request [!8 '), r.content.text);
	assert.ok(r.content.text.endsWith('(4 min 5 s)'), r.content.text);
	assert.equal(r.content.attachments[0].color, '#2e7d32');
	assert.ok(allText(r).includes(data.commit.id.slice(0, 8)));
});

test('pipeline failure lists the failed jobs in red, marking those allowed to fail', () => {
	const r = post('pipeline_failed.json');
	assert.ok(r.content.text.includes('*failed*'), r.content.text);
	assert.equal(r.content.attachments[0].color, '#d32f2f');
	const failed = r.content.attachments[0].fields.find((f) => f.title === 'Failed jobs');
	const P = fixture('pipeline_failed.json').project.web_url;
	assert.equal(failed.value, `[cargo test](${P}/-/jobs/8202), [lint](${P}/-/jobs/8203) (allowed to fail)`);
});

test('pipeline with user missing, no merge request, tag ref', () => {
	const r = post('pipeline.json', (d) => {
		delete d.user;
		delete d.merge_request;
		d.object_attributes.tag = true;
		d.object_attributes.ref = 'v2.0';
		delete d.object_attributes.duration;
	});
	const P = fixture('pipeline.json').project.web_url;
	assert.ok(r.content.text.includes(`for [v2.0](${P}/-/tags/v2.0)`), r.content.text);
	assert.ok(r.content.text.endsWith(` in [ops/chatops](${P})`), `no duration: ${r.content.text}`);
	assert.equal(r.content.attachments[0].author_name, undefined, 'no user, no author');
});

test('jobs: name, status, stage, job link, failure reason, environment', () => {
	for (const file of ['job.json', 'job_created.json']) {
		const data = fixture(file);
		const r = post(file);
		assert.ok(r.content.text.startsWith(`Job [${data.build_name}](${data.project.web_url}/-/jobs/${data.build_id}) `), `${file}: ${r.content.text}`);
		const stage = r.content.attachments[0].fields.find((f) => f.title === 'Stage');
		assert.equal(stage.value, data.build_stage);
	}
	const failed = post('job.json');
	assert.ok(failed.content.text.includes('*failed* on `main`') && failed.content.text.endsWith('(3 min 7 s)'), failed.content.text);
	assert.deepEqual(failed.content.attachments[0].fields.find((f) => f.title === 'Failure reason').value, 'script failure');
	const created = post('job_created.json');
	assert.ok(created.content.text.includes('*was created*'), created.content.text);
	assert.ok(!created.content.attachments[0].fields.some((f) => f.title === 'Failure reason'), 'no failure reason unless failed');
	assert.equal(created.content.attachments[0].fields.find((f) => f.title === 'Environment').value, 'staging');
	const allowed = post('job.json', (d) => (d.build_allow_failure = true));
	assert.ok(allowed.content.text.includes('*failed* (allowed to fail)'), allowed.content.text);
	assert.equal(allowed.content.attachments[0].color, '#f57c00');
});

test('deployment, release, wiki, feature flag, milestone, emoji, member, subgroup, project, access tokens, vulnerability', () => {
	assert.ok(post('deployment.json').content.text.startsWith('Deployment to [staging](https://chat.staging.example.org) *succeeded*'));
	const rel = fixture('release.json');
	const relR = post('release.json');
	assert.ok(relR.content.text.startsWith(`Release [${rel.name}](${rel.url}) created`), relR.content.text);
	assert.equal(relR.content.attachments[0].text, rel.description);
	const relDel = post('release.json', (d) => (d.action = 'delete'));
	assert.ok(relDel.content.text.startsWith(`Release *${rel.name}* deleted`), relDel.content.text);

	const wiki = fixture('wiki_page.json');
	assert.ok(post('wiki_page.json').content.text.includes(`created wiki page [${wiki.object_attributes.title}](${wiki.object_attributes.url})`));
	const wikiDel = post('wiki_page.json', (d) => (d.object_attributes.action = 'delete'));
	assert.ok(wikiDel.content.text.includes(`deleted wiki page *${wiki.object_attributes.title}*`), wikiDel.content.text);

	const ff = fixture('feature_flag.json');
	assert.ok(post('feature_flag.json').content.text.includes('turned *on* feature flag `' + ff.object_attributes.name + '`'));
	assert.ok(post('feature_flag.json', (d) => (d.object_attributes.active = false)).content.text.includes('turned *off*'));

	assert.ok(post('milestone.json').content.text.startsWith('Milestone [1.3](https://gitlab.example.org/ops/chatops/-/milestones/4) created'));
	assert.ok(post('emoji.json').content.text.includes('reacted with :thumbsup: to a comment on issue [#17 '));
	const revoked = post('emoji.json', (d) => (d.object_attributes.action = 'revoke'));
	assert.ok(revoked.content.text.includes('removed :thumbsup: from a comment on issue'), revoked.content.text);

	const member = fixture('member.json');
	assert.equal(post('member.json').content.text, `*${member.user_name}* (${member.user_username}) was added to group *ops* as ${member.group_access}`);
	const removed = post('member.json', (d) => (d.event_name = 'user_remove_from_group'));
	assert.equal(removed.content.text, `*${member.user_name}* (${member.user_username}) was removed from group *ops*`);
	assert.equal(post('subgroup.json').content.text, 'Subgroup *ops/sidecars* was created in *ops*');
	assert.equal(post('subgroup.json', (d) => (d.event_name = 'subgroup_destroy')).content.text, 'Subgroup *ops/sidecars* was removed from *ops*');
	assert.equal(post('project_create.json').content.text, 'Project *ops/runbooks* was created');
	assert.deepEqual(post('project_create.json').content.attachments[0].fields.map((f) => f.value), ['Ada Lovelace', 'internal']);

	for (const file of ['resource_access_token_group.json', 'resource_access_token_project.json']) {
		const tok = fixture(file);
		const r = post(file);
		assert.ok(r.content.text.includes('`' + tok.object_attributes.name + '`') && r.content.text.endsWith(`expires on *${tok.object_attributes.expires_at}*`), r.content.text);
	}
	const vuln = post('vulnerability.json');
	assert.equal(vuln.content.attachments[0].color, '#d32f2f', 'critical is red');
	assert.deepEqual(vuln.content.attachments[0].fields.map((f) => f.value), ['critical', 'dependency scanning']);
});

test('work items: the type is named', () => {
	assert.ok(post('work_item.json').content.text.includes('opened task [#19 Measure the probe RSS]('));
});

test('system hooks: push, tag push, merge request via System Hook; generic system events', () => {
	assert.ok(post('system_push.json').content.text.startsWith('*Ada Lovelace* pushed 1 commit to [main]('));
	assert.ok(post('system_tag_push.json').content.text.startsWith('*Ada Lovelace* pushed tag [v1.2.0]('));
	assert.equal(post('system_user_create.json').content.text, 'GitLab system event `user_create` for *barbara*');
	assert.equal(post('system_project_rename.json').content.text, 'Project *ops/chatops* was renamed (was *ops/chat-ops*)');
	assert.equal(post('system_user_add_to_team.json').content.text, '*Barbara Liskov* (barbara) was added to project *ops/chatops* as Maintainer');
});

test('null description / duration / labels never print "null"', () => {
	run('Issue Hook', Object.assign(fixture('issue.json'), { labels: null, assignees: null, assignee: null }));
	const job = post('job.json', (d) => {
		d.build_duration = null;
		d.environment = null;
		d.runner = null;
		d.commit = null;
		d.build_status = 'success';
	});
	assert.ok(!/ \((\d|\))/.test(job.content.text), `no duration shown: ${job.content.text}`);
	assert.deepEqual(job.content.attachments[0].fields.map((f) => f.title), ['Stage']);
	const issue = post('issue.json', (d) => (d.object_attributes.description = null));
	assert.equal(issue.content.attachments[0].text, undefined);
});

test('unknown event header: short generic message naming the event and project', () => {
	const r = run('Shiny New Hook', Object.assign(fixture('issue.json'), { object_kind: 'something_new' }));
	assert.equal(r.content.text, 'GitLab sent *Shiny New Hook* for [ops/chatops](https://gitlab.example.org/ops/chatops)');
});

test('header lookup tolerates other casing', () => {
	const r = engine.run(Object.assign(request(undefined, fixture('tag_push.json')), { headers: { 'X-Gitlab-Event': 'Tag Push Hook' } }));
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
	assertWellFormed(loadIsolated(SOURCE).run(undefined), 'no request');
});

test('body only in content_raw (content not parsed) is still understood', () => {
	const r = engine.run(request('Push Hook', {}, { content_raw: JSON.stringify(fixture('push.json')) }));
	assertWellFormed(r, 'raw');
	assert.ok(r.content.text.includes('pushed 5 commits'), r.content.text);
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
		{ event_name: 'repository_update', refs: 'main', changes: [null, 3, { ref: {} }] },
	];
	for (const payload of weird) {
		const r = run(undefined, payload);
		assert.ok(r.content.text.length > 0);
	}
});

test('renderer crash falls back to a generic message and logs, never an error', () => {
	// Replacing a renderer by one that throws simulates any unforeseen bug inside it.
	const broken = loadIsolated(SOURCE + '\nglPush = function () { throw new Error("boom"); };');
	const r = broken.run(request('Push Hook', fixture('push.json')));
	assertWellFormed(r, 'broken');
	assert.ok(r.content.text.includes('*Push Hook*') && r.content.text.includes('details could not be shown'), r.content.text);
	assert.ok(broken.logs.some((l) => l.includes('boom')), broken.logs.join('\n'));
});

test('huge push with 100 commits is truncated to the configured maximum', () => {
	const r = post('push.json', (data) => {
		const base = data.commits[0];
		data.commits = [];
		for (let i = 0; i < 100; i++) {
			const id = i.toString(16).padStart(40, 'a');
			data.commits.push(Object.assign({}, base, { id, title: `commit ${i}`, message: `commit ${i}\n\nbody`, url: `${data.project.web_url}/-/commit/${id}` }));
		}
		data.total_commits_count = 100;
	});
	assert.ok(r.content.text.includes('pushed 100 commits'), r.content.text);
	const lines = r.content.attachments[0].text.split('\n');
	const max = Number(/const GITLAB_MAX_COMMITS = (\d+);/.exec(SOURCE)[1]);
	assert.equal(lines.length, max + 1, 'max commits + the "more" line');
	assert.ok(lines[0].includes('commit 99'), 'newest first');
	assert.ok(lines[lines.length - 1].includes(`and ${100 - max} more`), lines[lines.length - 1]);
	assert.ok(JSON.stringify(r).length < 6000, 'message stays small');
});

test('Markdown in titles and branch names is escaped; links stay valid', () => {
	const r = post('merge_request.json', (d) => {
		d.object_attributes.title = 'Fix [WIP] *bold* _it_ ~strike~ `code` (parens)';
		d.object_attributes.url = 'http://example.com/a b/merge_requests/(1)';
	});
	assert.ok(r.content.text.includes('[!8 Fix (WIP) \\*bold\\* \\_it\\_ \\~strike\\~ \\`code\\` (parens)](http://example.com/a'), r.content.text);
	assert.ok(r.content.text.includes('](http://example.com/a%20b/merge_requests/%281%29)'), 'space and parens percent-encoded');
	// A javascript: URL is never linked.
	const ri = post('issue.json', (d) => (d.object_attributes.url = 'javascript:alert(1)'));
	assert.ok(!JSON.stringify(ri).includes('javascript:'), ri.content.text);
});

test('ignored statuses knob silences pipeline/job updates (returns nothing, not an error)', () => {
	const src = SOURCE.replace('const GITLAB_IGNORED_PIPELINE_STATUSES = [];', "const GITLAB_IGNORED_PIPELINE_STATUSES = ['running'];").replace(
		'const GITLAB_IGNORED_JOB_STATUSES = [];',
		"const GITLAB_IGNORED_JOB_STATUSES = ['created'];",
	);
	assert.notEqual(src, SOURCE);
	const quiet = loadIsolated(src);
	assert.equal(quiet.run(request('Pipeline Hook', fixture('pipeline_no_user.json'))), undefined);
	assertWellFormed(quiet.run(request('Pipeline Hook', fixture('pipeline_failed.json'))), 'failed still posted');
	assert.equal(quiet.run(request('Job Hook', fixture('job_created.json'))), undefined);
	assertWellFormed(quiet.run(request('Job Hook', fixture('job.json'))), 'failed job still posted');
});

test('mention style knob: names instead of @usernames, or none', () => {
	const byName = loadIsolated(SOURCE.replace("const GITLAB_MENTION_STYLE = 'username';", "const GITLAB_MENTION_STYLE = 'name';"));
	const r1 = byName.run(request('Issue Hook', fixture('issue.json')));
	assertWellFormed(r1, 'name');
	assert.ok(r1.content.text.endsWith('· Grace Hopper') && !r1.content.text.includes('@'), r1.content.text);
	const none = loadIsolated(SOURCE.replace("const GITLAB_MENTION_STYLE = 'username';", "const GITLAB_MENTION_STYLE = 'none';"));
	const r2 = none.run(request('Issue Hook', fixture('issue.json')));
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
	const r = post('push.json');
	assert.deepEqual(structuredClone(r), JSON.parse(JSON.stringify(r)));
});
