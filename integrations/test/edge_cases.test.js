'use strict';
// Payload shapes GitLab sends today that the documented examples do not show (fixtures/README.md
// says where each comes from). Each test asserts what the script posts, not only that it posts.
// Run: node --test integrations/test/

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

const P = 'https://gitlab.example.org/ops/chatops';
const IN = ` in [ops/chatops](${P})`;

test('branch deletion: after all zeros (40 and 64 hex), checkout_sha null -> "deleted branch", nothing else', () => {
	const cases = { 'push_branch_delete.json': ['*Ada Lovelace*', 'feature/webhook_retry', h.ZERO40], 'push_branch_delete_sha256.json': ['*Grace Hopper*', 'sha256-trial', h.ZERO64] };
	for (const [file, [who, branch, zero]] of Object.entries(cases)) {
		const data = h.fixture(file);
		assert.equal(data.after, zero, `${file}: fixture drifted`);
		assert.equal(data.checkout_sha, null, `${file}: fixture drifted`);
		// No commit list, no compare link, no tree link to a branch that no longer exists.
		assert.deepEqual(h.post(file).content, { text: `${who} deleted branch \`${branch}\`${IN}` }, file);
	}
});

test('tag deletion: after all zeros (40 and 64 hex), checkout_sha null -> "deleted tag"', () => {
	const cases = { 'tag_push_delete.json': ['v1.2.0-rc1', h.ZERO40], 'tag_push_delete_sha256.json': ['sha256-trial-1', h.ZERO64] };
	for (const [file, [tag, zero]] of Object.entries(cases)) {
		const data = h.fixture(file);
		assert.equal(data.after, zero, `${file}: fixture drifted`);
		assert.equal(data.checkout_sha, null, `${file}: fixture drifted`);
		assert.deepEqual(h.post(file).content, { text: `*Ada Lovelace* deleted tag \`${tag}\`${IN}` }, file);
	}
	// checkout_sha null alone (lib/gitlab/data_builder/push.rb: the tag is gone) is a deletion too.
	const r = h.post('tag_push.json', (d) => (d.checkout_sha = null));
	assert.ok(r.content.text.startsWith('*Ada Lovelace* deleted tag `v1.2.0`'), r.content.text);
});

test('new branch: before all zeros (40 and 64 hex) -> "created branch", no compare link, no zero SHA shown', () => {
	const cases = {
		'push_branch_create.json': [h.ZERO40, '*Alan Turing*', 'feature/webhook\\_retry', 'feature/webhook_retry', 'bada55e5'],
		'push_branch_create_sha256.json': [h.ZERO64, '*Grace Hopper*', 'sha256-trial', 'sha256-trial', '4e3d2c1b'],
	};
	for (const [file, [zero, who, label, branch, shortSha]] of Object.entries(cases)) {
		const data = h.fixture(file);
		assert.equal(data.before, zero, `${file}: fixture drifted`);
		const r = h.post(file);
		assert.equal(r.content.text, `${who} created branch [${label}](${P}/-/tree/${branch})${IN} with 1 commit`, file);
		const att = r.content.attachments[0];
		assert.equal(att.title, '1 commit', `${file}: titled as a list, not "Compare changes"`);
		assert.equal(att.title_link, undefined, `${file}: no compare link from the zero SHA`);
		assert.equal(att.text, `- [\`${shortSha}\`](${data.commits[0].url}) ${data.commits[0].title} — ${data.commits[0].author.name}`, file);
		assert.ok(!JSON.stringify(r).includes(zero), `${file}: the zero SHA is shown`);
		assert.ok(!JSON.stringify(r).includes('compare'), `${file}: a compare link`);
	}
	// A branch created without new commits: GitLab sends an empty commits list.
	assert.deepEqual(h.post('push_branch_create_empty.json').content, {
		text: `*Ada Lovelace* created branch [release/1.2](${P}/-/tree/release/1.2)${IN}`,
	});
});

test('pipeline with user null and duration null (a scheduled pipeline still running)', () => {
	const data = h.fixture('pipeline_no_user.json');
	assert.equal(data.user, null, 'fixture drifted');
	assert.equal(data.object_attributes.duration, null, 'fixture drifted');
	assert.deepEqual(h.post('pipeline_no_user.json').content, {
		text: `Pipeline [#7003](${P}/-/pipelines/7003) *is running* for [main](${P}/-/tree/main)${IN}`,
		attachments: [
			{
				color: '#1f75cb',
				title: 'Nightly',
				title_link: `${P}/-/pipelines/7003`,
				// No author_name/author_icon: there is no user. No "(0 s)": there is no duration.
				text: `[\`bada55e5\`](${P}/-/commit/bada55e5c0de0ff1ce1234567890abcdefabcdef) rc-bootstrap: retry the webhook update — Alan Turing`,
				fields: [
					{ title: 'Triggered by', value: 'schedule', short: true },
					{ title: 'Stages', value: 'build → test', short: true },
				],
			},
		],
	});
});

test('merge request whose assignees and reviewers are only in the top-level arrays', () => {
	const data = h.fixture('merge_request.json');
	assert.ok(!('assignee' in data.object_attributes), 'fixture drifted: object_attributes.assignee present');
	const r = h.post('merge_request.json');
	// The actor (alan) is also a reviewer: everyone else is pinged once, the actor never.
	assert.equal(r.content.text, `*Alan Turing* opened merge request [!8 rc-bootstrap: retry the webhook update](${P}/-/merge_requests/8)${IN} · @ada @grace @edsger`);
	assert.deepEqual(r.content.attachments[0].fields, [
		{ title: 'Assignees', value: 'Ada Lovelace', short: true },
		{ title: 'Reviewers', value: 'Grace Hopper, Edsger Dijkstra, Alan Turing', short: true },
		{ title: 'Status', value: 'mergeable', short: true },
		{ title: 'Labels', value: 'ops', short: true },
	]);
	// The older shape (system hook example): only object_attributes.assignee, no top-level arrays.
	const old = h.post('system_merge_request.json');
	assert.ok(old.content.text.endsWith(' · @ada'), old.content.text);
	assert.deepEqual(old.content.attachments[0].fields[0], { title: 'Assignees', value: 'Ada Lovelace', short: true });
	// An update pings only who was just added as reviewer (changes.reviewers.current).
	const upd = h.post('merge_request_reviewers.json');
	assert.ok(upd.content.text.startsWith('*Ada Lovelace* updated merge request [!8 '), upd.content.text);
	assert.ok(upd.content.text.endsWith(' · @grace @edsger'), upd.content.text);
});

test('note with action update -> "edited a comment on", carrying the new text', () => {
	const data = h.fixture('note_update.json');
	assert.equal(data.object_attributes.action, 'update', 'fixture drifted');
	assert.deepEqual(h.post('note_update.json').content, {
		text: `*Grace Hopper* edited a comment on merge request [!8 rc-bootstrap: retry the webhook update](${P}/-/merge_requests/8#note_9002)${IN}`,
		attachments: [
			{
				color: '#6b4fbb',
				title: 'View comment',
				title_link: `${P}/-/merge_requests/8#note_9002`,
				author_name: 'Grace Hopper',
				author_icon: 'https://gitlab.example.org/uploads/-/system/user/avatar/3/avatar.png',
				text: data.object_attributes.note,
			},
		],
	});
	// action create (and payloads from before 16.11 without `action`) -> "commented on".
	assert.ok(h.post('note_merge_request.json').content.text.startsWith('*Grace Hopper* commented on merge request'));
	const noAction = h.post('note_update.json', (d) => delete d.object_attributes.action);
	assert.ok(noAction.content.text.startsWith('*Grace Hopper* commented on merge request'), noAction.content.text);
});

test('confidential issue and note: said so, whichever of header / event_type / flag carries it', () => {
	const issue = `*Ada Lovelace* opened confidential issue [#18 Admin password visible in the bootstrap log](${P}/-/issues/18)${IN} · @alan`;
	assert.equal(h.post('confidential_issue.json').content.text, issue);
	// The same payload under the plain header: event_type confidential_issue still says so.
	assert.equal(h.run('Issue Hook', h.fixture('confidential_issue.json')).content.text, issue);
	// Only the object_attributes.confidential flag left.
	const flagOnly = h.fixture('confidential_issue.json');
	flagOnly.event_type = 'issue';
	assert.equal(h.run('Issue Hook', flagOnly).content.text, issue);

	const note = `*Alan Turing* commented on confidential issue [#18 Admin password visible in the bootstrap log](${P}/-/issues/18#note_9005)${IN}`;
	assert.equal(h.post('confidential_note.json').content.text, note);
	assert.equal(h.run('Note Hook', h.fixture('confidential_note.json')).content.text, note);
	const plainNote = h.fixture('confidential_note.json');
	plainNote.event_type = 'note';
	assert.equal(h.run('Confidential Note Hook', plainNote).content.text, note);
	// And a non-confidential issue is never called confidential.
	assert.ok(!h.post('issue.json').content.text.includes('confidential'));
});

test('access requests (system hooks) name the project or group and what happened', () => {
	assert.deepEqual(h.post('system_access_request_to_project.json').content, {
		text: '*Barbara Liskov* (barbara) requested access to project *ops/chatops* as Developer',
	});
	assert.equal(h.post('system_access_request_revoked_for_group.json').content.text, '*Barbara Liskov* (barbara) withdrew their access request to group *ops*');
	const revokedProject = h.post('system_access_request_to_project.json', (d) => (d.event_name = 'user_access_request_revoked_for_project'));
	assert.equal(revokedProject.content.text, '*Barbara Liskov* (barbara) withdrew their access request to project *ops/chatops*');
	const toGroup = h.post('system_access_request_revoked_for_group.json', (d) => (d.event_name = 'user_access_request_to_group'));
	assert.equal(toGroup.content.text, '*Barbara Liskov* (barbara) requested access to group *ops* as Developer');
});

test('repository_update (system hook) names who pushed which refs where', () => {
	assert.deepEqual(h.post('system_repository_update.json').content, {
		text: `*Ada Lovelace* pushed to \`main\`${IN}`,
	});
	const many = h.post('system_repository_update.json', (d) => {
		d.refs = ['refs/heads/main', 'refs/tags/v1.2.0'];
	});
	assert.equal(many.content.text, `*Ada Lovelace* pushed to \`main\`, \`v1.2.0\`${IN}`);
	const none = h.post('system_repository_update.json', (d) => {
		delete d.refs;
		delete d.changes;
		d.user_name = null;
	});
	assert.equal(none.content.text, `Someone pushed${IN}`);
});
