/* GitLab -> Rocket.Chat incoming-webhook script (coquelicot).
 *
 * Paste into Administration > Workspace > Integrations > Incoming > "Script" (Script Enabled = on),
 * or let rc-bootstrap install it (it embeds this file by default).
 *
 * How Rocket.Chat runs it (RocketChat/Rocket.Chat, apps/meteor/app/integrations/server/lib/):
 *   - compileIntegrationScript.ts: the text is transpiled by Babel preset-env (or only syntax-checked);
 *   - isolated-vm/getCompatibilityScript.ts: the result is pasted between a `const Store = ...` prelude
 *     and an IIFE doing `new Script()` and exposing `process_incoming_request`;
 *   - isolated-vm/buildSandbox.ts: the only globals are `console`, `s`, `ivm`, `global` (no require,
 *     no module, no moment/HTTP), and the returned value is structured-copied out of the isolate.
 *   - vm2/vm2.ts (older engine) evaluates `${script}; Script;` instead; both work with this file.
 * Hence: plain script code, declarations only at top level, names prefixed with GITLAB_/gl to avoid
 * clashing with sandbox globals, plain JSON-like return values.
 *
 * The returned `content` is handed to processWebhookMessage (apps/meteor/app/lib/server/functions/
 * processWebhookMessage.ts), which honours text, alias/username, emoji/icon_emoji, avatar/icon_url,
 * attachments, parseUrls, groupable, tmid. We never set `channel`/`roomId`: api/api.ts refuses the
 * whole message unless the integration has overrideDestinationChannelEnabled.
 *
 * We never throw and never return `{ error }`: the API turns either into an HTTP failure, and GitLab
 * auto-disables webhooks that keep failing. Anything unexpected becomes a short generic message.
 *
 * Payload shapes: GitLab doc/user/project/integrations/webhook_events.md and
 * doc/administration/system_hooks.md.
 */

// ---------------------------------------------------------------- configuration
// How people are mentioned (MR/issue assignees and reviewers):
//   'username' -> @username (pings the Rocket.Chat user with the same username as on GitLab)
//   'name'     -> their display name, no ping
//   'none'     -> nobody is mentioned
const GITLAB_MENTION_STYLE = 'username';
// Commits listed for a push; the rest is summarised as "... and N more".
const GITLAB_MAX_COMMITS = 10;
// Descriptions, comments and release notes are cut to this many characters.
const GITLAB_MAX_TEXT = 500;
// Backslash-escape * _ ~ ` in names/titles so Rocket.Chat does not format them.
const GITLAB_ESCAPE_MARKDOWN = true;
// Message alias / avatar / emoji. Empty = keep what the integration itself is configured with.
const GITLAB_ALIAS = '';
const GITLAB_ICON_URL = '';
const GITLAB_EMOJI = '';
// Pipeline / job statuses that are NOT posted (e.g. ['created', 'pending', 'running'] for less noise).
const GITLAB_IGNORED_PIPELINE_STATUSES = [];
const GITLAB_IGNORED_JOB_STATUSES = [];
// Attachment colours.
const GITLAB_COLORS = {
	success: '#2e7d32',
	failed: '#d32f2f',
	warning: '#f57c00',
	running: '#1f75cb',
	neutral: '#9e9e9e',
	info: '#6b4fbb',
};

// ---------------------------------------------------------------- small helpers
const GITLAB_ZERO_SHA = /^0+$/;

function glIsObj(v) {
	return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function glObj(v) {
	return glIsObj(v) ? v : {};
}

function glArr(v) {
	return Array.isArray(v) ? v : [];
}

// Strings and numbers only: null, undefined, objects and arrays become '' so that "null",
// "undefined" or "[object Object]" never reach the chat.
function glStr(v) {
	if (typeof v === 'string') {
		return v;
	}
	if (typeof v === 'number' && isFinite(v)) {
		return String(v);
	}
	if (typeof v === 'boolean') {
		return String(v);
	}
	return '';
}

function glFirst() {
	for (let i = 0; i < arguments.length; i++) {
		const s = glStr(arguments[i]).trim();
		if (s) {
			return s;
		}
	}
	return '';
}

function glOneLine(v) {
	return glStr(v).replace(/\s+/g, ' ').trim();
}

function glTruncate(v, max) {
	const s = glStr(v).trim();
	if (s.length <= max) {
		return s;
	}
	return s.slice(0, Math.max(0, max - 1)).replace(/\s+\S*$/, '') + '…';
}

// Rocket.Chat's message parser honours backslash escapes for * _ ~ ` (RocketChat/fuselage#899).
function glEsc(v) {
	const s = glOneLine(v);
	return GITLAB_ESCAPE_MARKDOWN ? s.replace(/([*_~`])/g, '\\$1') : s;
}

// Link labels cannot contain brackets (no escape works there, RocketChat/Rocket.Chat#8989).
function glLabel(v) {
	return glEsc(v).replace(/\[/g, '(').replace(/\]/g, ')');
}

// Only http(s) URLs; characters that end a Markdown link target are percent-encoded.
function glUrl(v) {
	const s = glStr(v).trim();
	if (!/^https?:\/\/[^\s/]/i.test(s)) {
		return '';
	}
	return s.replace(/[\s()<>]/g, (c) => '%' + ('0' + c.charCodeAt(0).toString(16).toUpperCase()).slice(-2));
}

function glLink(label, url) {
	return glLinkMd(glLabel(label), url);
}

// Like glLink, for a label that is already Markdown (e.g. an inline-code SHA).
function glLinkMd(l, url) {
	const u = glUrl(url);
	if (!l) {
		return u;
	}
	return u ? '[' + l + '](' + u + ')' : l;
}

function glCode(v) {
	const s = glOneLine(v).replace(/`/g, "'");
	return s ? '`' + s + '`' : '';
}

function glBold(v) {
	const s = glEsc(v);
	return s ? '*' + s + '*' : '';
}

// Joins URL path segments; each segment is encoded except its slashes (branch names like a/b).
function glPath(base, segments) {
	const b = glUrl(base);
	if (!b) {
		return '';
	}
	const parts = [b.replace(/\/+$/, '')];
	for (const seg of segments) {
		const s = glStr(seg);
		if (!s) {
			return '';
		}
		parts.push(s.split('/').map(encodeURIComponent).join('/'));
	}
	return parts.join('/');
}

function glShortSha(v) {
	return glStr(v).slice(0, 8);
}

function glIsZeroSha(v) {
	return typeof v === 'string' && GITLAB_ZERO_SHA.test(v);
}

function glRefName(ref) {
	return glStr(ref).replace(/^refs\/(heads|tags)\//, '');
}

function glDuration(v) {
	const n = Number(v);
	if (v === null || v === undefined || v === '' || !isFinite(n) || n < 0) {
		return '';
	}
	const total = Math.round(n);
	const h = Math.floor(total / 3600);
	const m = Math.floor((total % 3600) / 60);
	const sec = total % 60;
	const out = [];
	if (h) {
		out.push(h + ' h');
	}
	if (m) {
		out.push(m + ' min');
	}
	if (sec || !out.length) {
		out.push(sec + ' s');
	}
	return out.join(' ');
}

function glPlural(n, word) {
	return n + ' ' + word + (n === 1 ? '' : 's');
}

function glMention(user) {
	const u = glObj(user);
	if (GITLAB_MENTION_STYLE === 'username') {
		const name = glStr(u.username).replace(/[^\w.-]/g, '');
		return name ? '@' + name : '';
	}
	if (GITLAB_MENTION_STYLE === 'name') {
		return glEsc(glFirst(u.name, u.username));
	}
	return '';
}

// Unique mentions of `users`, leaving out whoever triggered the event.
function glMentions(users, actor) {
	const actorName = glStr(glObj(actor).username);
	const seen = [];
	for (const user of users) {
		if (!glIsObj(user) || (actorName && glStr(user.username) === actorName)) {
			continue;
		}
		const m = glMention(user);
		if (m && seen.indexOf(m) === -1) {
			seen.push(m);
		}
	}
	return seen;
}

function glPeople(users) {
	return glArr(users)
		.map((u) => glEsc(glFirst(glObj(u).name, glObj(u).username)))
		.filter(Boolean)
		.join(', ');
}

function glLabels(labels) {
	return glArr(labels)
		.map((l) => glEsc(glObj(l).title))
		.filter(Boolean)
		.join(', ');
}

function glField(title, value, short) {
	const v = glStr(value);
	return v ? { title: title, value: v, short: short !== false } : null;
}

function glStatusColor(status) {
	switch (glStr(status)) {
		case 'success':
		case 'succeeded':
		case 'passed':
			return GITLAB_COLORS.success;
		case 'failed':
			return GITLAB_COLORS.failed;
		case 'canceled':
		case 'canceling':
		case 'skipped':
			return GITLAB_COLORS.neutral;
		case 'manual':
		case 'scheduled':
		case 'waiting_for_resource':
		case 'waiting_for_callback':
			return GITLAB_COLORS.warning;
		case 'running':
		case 'pending':
		case 'created':
		case 'preparing':
			return GITLAB_COLORS.running;
		default:
			return GITLAB_COLORS.info;
	}
}

const GITLAB_STATUS_WORDS = {
	success: 'passed',
	failed: 'failed',
	canceled: 'was canceled',
	canceling: 'is being canceled',
	skipped: 'was skipped',
	running: 'is running',
	pending: 'is pending',
	created: 'was created',
	preparing: 'is preparing',
	manual: 'is waiting for a manual action',
	scheduled: 'is scheduled',
	waiting_for_resource: 'is waiting for a resource',
	waiting_for_callback: 'is waiting for a callback',
};

function glStatusWord(status) {
	const s = glStr(status);
	return GITLAB_STATUS_WORDS[s] || (s ? 'is ' + s.replace(/_/g, ' ') : 'changed status');
}

// Project (or group) context shared by every message.
function glProject(data) {
	const p = glObj(data.project);
	const repo = glObj(data.repository);
	const path = glFirst(p.path_with_namespace, p.name, data.project_name, repo.name);
	const url = glFirst(glUrl(p.web_url), glUrl(p.homepage), glUrl(repo.homepage));
	return { path: path, url: url, link: glLink(path, url) };
}

function glIn(project) {
	return project.link ? ' in ' + project.link : '';
}

// The user who triggered the event: `user` object, or the flat user_* fields of push payloads.
function glActor(data) {
	const u = glObj(data.user);
	const name = glFirst(u.name, data.user_name, u.username, data.user_username);
	return {
		name: name,
		username: glFirst(u.username, data.user_username),
		avatar: glFirst(glUrl(u.avatar_url), glUrl(data.user_avatar)),
		url: glUrl(data.user_url),
	};
}

function glWho(actor, fallback) {
	return actor.name ? glBold(actor.name) : fallback || 'Someone';
}

// Builds the Rocket.Chat message: one headline line + one attachment with the details.
function glMessage(m) {
	let text = m.headline;
	const mentions = glArr(m.mentions).filter(Boolean);
	if (mentions.length) {
		text += ' · ' + mentions.join(' ');
	}
	const att = {};
	if (m.color) {
		att.color = m.color;
	}
	if (m.title) {
		att.title = glOneLine(m.title);
		const link = glUrl(m.titleLink);
		if (link) {
			att.title_link = link;
		}
	}
	if (m.actor && m.actor.name) {
		att.author_name = m.actor.name;
		if (m.actor.avatar) {
			att.author_icon = m.actor.avatar;
		}
		if (m.actor.url) {
			att.author_link = m.actor.url;
		}
	}
	const body = glStr(m.text).trim();
	if (body) {
		att.text = body;
	}
	const fields = glArr(m.fields).filter(Boolean);
	if (fields.length) {
		att.fields = fields;
	}
	const content = { text: text };
	if (att.title || att.text || att.fields) {
		content.attachments = [att];
	}
	if (GITLAB_ALIAS) {
		content.alias = GITLAB_ALIAS;
	}
	if (GITLAB_ICON_URL) {
		content.icon_url = GITLAB_ICON_URL;
	} else if (GITLAB_EMOJI) {
		content.emoji = GITLAB_EMOJI;
	}
	return { content: content };
}

function glHumanize(v) {
	return glStr(v).replace(/_/g, ' ').trim();
}

// ---------------------------------------------------------------- event renderers
function glCommitLines(data, project) {
	const commits = glArr(data.commits);
	const shown = commits.slice(-GITLAB_MAX_COMMITS).reverse(); // GitLab lists oldest first
	const lines = shown.map((c) => {
		const commit = glObj(c);
		const sha = glShortSha(commit.id);
		const link = sha ? glLinkMd(glCode(sha), commit.url) : '';
		const title = glEsc(glFirst(commit.title, glStr(commit.message).split('\n')[0]));
		const author = glEsc(glObj(commit.author).name);
		return '- ' + [link, title].filter(Boolean).join(' ') + (author ? ' — ' + author : '');
	});
	const total = Math.max(Number(data.total_commits_count) || 0, commits.length);
	if (total > shown.length) {
		const more = total - shown.length;
		const compare =
			!glIsZeroSha(data.before) && glStr(data.before) && glStr(data.after)
				? glPath(project.url, ['-', 'compare', glStr(data.before) + '...' + glStr(data.after)])
				: '';
		lines.push(compare ? '- ' + glLink('… and ' + more + ' more', compare) : '- … and ' + more + ' more');
	}
	return { lines: lines, total: total };
}

function glPush(data) {
	const project = glProject(data);
	const actor = glActor(data);
	const branch = glRefName(data.ref);
	const branchUrl = glPath(project.url, ['-', 'tree', branch]);
	const deleted = glIsZeroSha(data.after) || (data.after == null && data.checkout_sha == null && !glArr(data.commits).length);
	if (deleted) {
		return glMessage({
			headline: glWho(actor) + ' deleted branch ' + (glCode(branch) || 'a branch') + glIn(project),
			color: GITLAB_COLORS.neutral,
			actor: actor,
		});
	}
	const created = glIsZeroSha(data.before);
	const commits = glCommitLines(data, project);
	const branchLink = glLink(branch, branchUrl) || 'a branch';
	let headline;
	if (created) {
		headline = glWho(actor) + ' created branch ' + branchLink + glIn(project);
		if (commits.total) {
			headline += ' with ' + glPlural(commits.total, 'commit');
		}
	} else {
		headline = glWho(actor) + ' pushed ' + glPlural(commits.total, 'commit') + ' to ' + branchLink + glIn(project);
	}
	const compareUrl =
		!created && glStr(data.before) && glStr(data.after)
			? glPath(project.url, ['-', 'compare', glStr(data.before) + '...' + glStr(data.after)])
			: '';
	return glMessage({
		headline: headline,
		color: GITLAB_COLORS.running,
		actor: actor,
		title: commits.lines.length ? (compareUrl ? 'Compare changes' : glPlural(commits.total, 'commit')) : '',
		titleLink: compareUrl,
		text: commits.lines.join('\n'),
	});
}

function glTagPush(data) {
	const project = glProject(data);
	const actor = glActor(data);
	const tag = glRefName(data.ref);
	const deleted = glIsZeroSha(data.after) || data.checkout_sha === null || (data.after == null && data.checkout_sha == null);
	if (deleted) {
		return glMessage({
			headline: glWho(actor) + ' deleted tag ' + (glCode(tag) || 'a tag') + glIn(project),
			color: GITLAB_COLORS.neutral,
			actor: actor,
		});
	}
	const sha = glFirst(data.checkout_sha, data.after);
	const tagLink = glLink(tag, glPath(project.url, ['-', 'tags', tag])) || 'a tag';
	const annotation = glTruncate(data.message, GITLAB_MAX_TEXT);
	const commit = glObj(glArr(data.commits)[glArr(data.commits).length - 1]);
	return glMessage({
		headline: glWho(actor) + ' pushed tag ' + tagLink + glIn(project),
		color: GITLAB_COLORS.info,
		actor: actor,
		title: glFirst(commit.title, glStr(commit.message).split('\n')[0]),
		titleLink: glFirst(glUrl(commit.url), sha ? glPath(project.url, ['-', 'commit', sha]) : ''),
		text: annotation,
		fields: [glField('Commit', glShortSha(sha) ? glCode(glShortSha(sha)) : '')],
	});
}

const GITLAB_ACTION_WORDS = {
	open: 'opened',
	close: 'closed',
	reopen: 'reopened',
	update: 'updated',
	merge: 'merged',
	approved: 'approved',
	approval: 'approved',
	unapproved: 'removed the approval of',
	unapproval: 'removed their approval from',
	create: 'created',
	delete: 'deleted',
};

function glActionWord(action, fallback) {
	const a = glStr(action);
	return GITLAB_ACTION_WORDS[a] || (a ? glHumanize(a) : fallback);
}

function glIssue(data, confidential) {
	const project = glProject(data);
	const actor = glActor(data);
	const attrs = glObj(data.object_attributes);
	const kind = glStr(data.object_kind) === 'work_item' ? glFirst(attrs.type, 'work item').toLowerCase() : 'issue';
	const isConfidential = confidential || attrs.confidential === true;
	const ref = glStr(attrs.iid) ? '#' + glStr(attrs.iid) : '';
	const title = glFirst(attrs.title);
	const label = [ref, title].filter(Boolean).join(' ');
	const action = glStr(attrs.action);
	const changes = glObj(data.changes);
	const assignees = glArr(data.assignees).length ? glArr(data.assignees) : glIsObj(data.assignee) ? [data.assignee] : [];
	const mention = action === 'open' || action === 'reopen' || glIsObj(changes.assignees);
	const noun = (isConfidential ? 'confidential ' : '') + kind;
	return glMessage({
		headline:
			glWho(actor) +
			' ' +
			glActionWord(action, 'updated') +
			' ' +
			(label ? noun + ' ' + glLink(label, attrs.url) : glLink((/^[aeiou]/.test(noun) ? 'an ' : 'a ') + noun, attrs.url)) +
			glIn(project),
		mentions: mention ? glMentions(assignees, actor) : [],
		color: action === 'close' ? GITLAB_COLORS.neutral : GITLAB_COLORS.info,
		actor: actor,
		title: label || glUrl(attrs.url) ? label || 'Open ' + kind : '',
		titleLink: attrs.url,
		text: action === 'open' ? glTruncate(attrs.description, GITLAB_MAX_TEXT) : '',
		fields: [
			glField('State', glHumanize(attrs.state)),
			glField('Assignees', glPeople(assignees)),
			glField('Labels', glLabels(glArr(data.labels).length ? data.labels : attrs.labels), false),
		],
	});
}

function glMergeRequest(data) {
	const project = glProject(data);
	const actor = glActor(data);
	const mr = glObj(data.object_attributes);
	const action = glStr(mr.action);
	const ref = glStr(mr.iid) ? '!' + glStr(mr.iid) : '';
	const label = [ref, glFirst(mr.title)].filter(Boolean).join(' ');
	const changes = glObj(data.changes);
	const assignees = glArr(data.assignees).length ? glArr(data.assignees) : glIsObj(mr.assignee) ? [mr.assignee] : [];
	const reviewers = glArr(data.reviewers);
	let verb = glActionWord(action, 'updated');
	if (action === 'update' && glStr(mr.oldrev)) {
		verb = 'pushed new commits to';
	}
	let mentioned = [];
	if (action === 'open' || action === 'reopen') {
		mentioned = assignees.concat(reviewers);
	} else {
		if (glIsObj(changes.assignees)) {
			mentioned = mentioned.concat(glArr(changes.assignees.current));
		}
		if (glIsObj(changes.reviewers)) {
			mentioned = mentioned.concat(glArr(changes.reviewers.current));
		}
	}
	const source = glObj(mr.source);
	const target = glObj(mr.target);
	let from = glCode(mr.source_branch);
	if (from && glStr(source.path_with_namespace) && glStr(source.path_with_namespace) !== glStr(target.path_with_namespace)) {
		from = glEsc(source.path_with_namespace) + ':' + from;
	}
	const to = glCode(mr.target_branch);
	const branches = from && to ? from + ' → ' + to : '';
	const color =
		action === 'merge' ? GITLAB_COLORS.success : action === 'close' ? GITLAB_COLORS.neutral : GITLAB_COLORS.info;
	const body = [branches, action === 'open' ? glTruncate(mr.description, GITLAB_MAX_TEXT) : '']
		.filter(Boolean)
		.join('\n');
	return glMessage({
		headline:
			glWho(actor) +
			' ' +
			verb +
			' ' +
			(mr.draft === true || mr.work_in_progress === true ? 'draft ' : '') +
			(label ? 'merge request ' + glLink(label, mr.url) : glLink('a merge request', mr.url)) +
			glIn(project),
		mentions: glMentions(mentioned, actor),
		color: color,
		actor: actor,
		title: label || glUrl(mr.url) ? label || 'Open merge request' : '',
		titleLink: mr.url,
		text: body,
		fields: [
			glField('Assignees', glPeople(assignees)),
			glField('Reviewers', glPeople(reviewers)),
			glField('Status', glHumanize(glFirst(mr.detailed_merge_status, mr.merge_status))),
			glField('Labels', glLabels(glArr(data.labels).length ? data.labels : mr.labels)),
		],
	});
}

function glNoteTarget(data) {
	const attrs = glObj(data.object_attributes);
	const type = glStr(attrs.noteable_type);
	if (glIsObj(data.merge_request) || type === 'MergeRequest') {
		const mr = glObj(data.merge_request);
		const label = [glStr(mr.iid) ? '!' + glStr(mr.iid) : '', glFirst(mr.title)].filter(Boolean).join(' ');
		return 'merge request ' + (label ? glLink(label, glFirst(attrs.url, mr.url)) : '');
	}
	if (glIsObj(data.issue) || type === 'Issue') {
		const issue = glObj(data.issue);
		const label = [glStr(issue.iid) ? '#' + glStr(issue.iid) : '', glFirst(issue.title)].filter(Boolean).join(' ');
		return 'issue ' + (label ? glLink(label, glFirst(attrs.url, issue.url)) : '');
	}
	if (glIsObj(data.commit) || type === 'Commit') {
		const commit = glObj(data.commit);
		const sha = glShortSha(glFirst(commit.id, attrs.commit_id));
		const title = glFirst(commit.title, glStr(commit.message).split('\n')[0]);
		const label = [sha, title].filter(Boolean).join(' ');
		return 'commit ' + (label ? glLink(label, glFirst(attrs.url, commit.url)) : '');
	}
	if (glIsObj(data.snippet) || type === 'Snippet') {
		const snippet = glObj(data.snippet);
		const label = [glStr(snippet.id) ? '$' + glStr(snippet.id) : '', glFirst(snippet.title)].filter(Boolean).join(' ');
		return 'snippet ' + (label ? glLink(label, glFirst(attrs.url, snippet.url)) : '');
	}
	return type ? glHumanize(type).toLowerCase() : '';
}

function glNote(data, confidential) {
	const project = glProject(data);
	const actor = glActor(data);
	const attrs = glObj(data.object_attributes);
	const target = glNoteTarget(data).trim();
	const verb = glStr(attrs.action) === 'update' ? 'edited a comment on' : 'commented on';
	const isConfidential = confidential || glStr(data.event_type) === 'confidential_note' || attrs.confidential === true;
	return glMessage({
		headline:
			glWho(actor) +
			' ' +
			(target ? verb + ' ' + (isConfidential ? 'confidential ' : '') + target : verb.replace(/ on$/, '')) +
			glIn(project),
		color: GITLAB_COLORS.info,
		actor: actor,
		title: attrs.url ? 'View comment' : '',
		titleLink: attrs.url,
		text: glTruncate(glFirst(attrs.note, attrs.description), GITLAB_MAX_TEXT),
	});
}

function glWiki(data) {
	const project = glProject(data);
	const actor = glActor(data);
	const attrs = glObj(data.object_attributes);
	const title = glFirst(attrs.title, attrs.slug, 'a page');
	return glMessage({
		headline:
			glWho(actor) +
			' ' +
			glActionWord(attrs.action, 'changed') +
			' wiki page ' +
			(glStr(attrs.action) === 'delete' ? glBold(title) : glLink(title, attrs.url)) +
			glIn(project),
		color: glStr(attrs.action) === 'delete' ? GITLAB_COLORS.neutral : GITLAB_COLORS.info,
		actor: actor,
		title: glStr(attrs.diff_url) && glStr(attrs.action) !== 'delete' ? 'View changes' : '',
		titleLink: attrs.diff_url,
		text: glTruncate(attrs.message, GITLAB_MAX_TEXT),
	});
}

function glPipeline(data) {
	const attrs = glObj(data.object_attributes);
	const status = glStr(attrs.status);
	if (GITLAB_IGNORED_PIPELINE_STATUSES.indexOf(status) !== -1) {
		return null;
	}
	const project = glProject(data);
	const actor = glActor(data);
	const id = glStr(attrs.id);
	const url = glFirst(glUrl(attrs.url), id ? glPath(project.url, ['-', 'pipelines', id]) : '');
	const ref = glStr(attrs.ref);
	const refUrl = glPath(project.url, ['-', attrs.tag === true ? 'tags' : 'tree', ref]);
	const mr = glObj(data.merge_request);
	let where = ref ? ' for ' + (glLink(ref, refUrl) || glCode(ref)) : '';
	if (glStr(mr.iid)) {
		where = ' for merge request ' + glLink('!' + glStr(mr.iid) + ' ' + glFirst(mr.title), mr.url);
	}
	const duration = glDuration(attrs.duration);
	const headline =
		'Pipeline ' +
		(glLink(id ? '#' + id : 'pipeline', url) || 'pipeline') +
		' ' +
		glBold(glStatusWord(status)) +
		where +
		glIn(project) +
		(duration ? ' (' + duration + ')' : '');
	const commit = glObj(data.commit);
	const commitLine = glStr(commit.id)
		? glLinkMd(glCode(glShortSha(commit.id)), commit.url) +
		  ' ' +
		  glEsc(glFirst(commit.title, glStr(commit.message).split('\n')[0])) +
		  (glStr(glObj(commit.author).name) ? ' — ' + glEsc(glObj(commit.author).name) : '')
		: '';
	const builds = glArr(data.builds).map(glObj);
	const failed = builds
		.filter((b) => glStr(b.status) === 'failed')
		.map((b) => {
			const name = glFirst(b.name, b.id);
			const jobUrl = glStr(b.id) ? glPath(project.url, ['-', 'jobs', glStr(b.id)]) : '';
			return glLink(name, jobUrl) + (b.allow_failure === true ? ' (allowed to fail)' : '');
		});
	const stages = glArr(attrs.stages).map(glStr).filter(Boolean);
	const source = glStr(attrs.source);
	return glMessage({
		headline: headline,
		color: glStatusColor(status),
		actor: actor,
		title: glFirst(attrs.name) || (id ? 'Pipeline #' + id : ''),
		titleLink: url,
		text: commitLine,
		fields: [
			glField('Triggered by', actor.name ? glEsc(actor.name) : source ? glHumanize(source) : ''),
			glField('Stages', stages.map(glEsc).join(' → ')),
			glField('Failed jobs', failed.join(', '), false),
		],
	});
}

function glJob(data) {
	const status = glStr(data.build_status);
	if (GITLAB_IGNORED_JOB_STATUSES.indexOf(status) !== -1) {
		return null;
	}
	const project = glProject(data);
	const actor = glActor(data);
	const id = glStr(data.build_id);
	const jobUrl = id ? glPath(project.url, ['-', 'jobs', id]) : '';
	const name = glFirst(data.build_name, id ? '#' + id : '', 'job');
	const allowed = data.build_allow_failure === true && status === 'failed';
	const ref = glStr(data.ref);
	const pipelineId = glStr(data.pipeline_id);
	const pipelineUrl = pipelineId ? glPath(project.url, ['-', 'pipelines', pipelineId]) : '';
	const duration = glDuration(data.build_duration);
	const headline =
		'Job ' +
		glLink(name, jobUrl) +
		' ' +
		glBold(glStatusWord(status)) +
		(allowed ? ' (allowed to fail)' : '') +
		(ref ? ' on ' + glCode(ref) : '') +
		glIn(project) +
		(duration ? ' (' + duration + ')' : '');
	const commit = glObj(data.commit);
	const sha = glFirst(data.sha, commit.sha);
	const message = glFirst(glStr(commit.message).split('\n')[0]);
	return glMessage({
		headline: headline,
		color: allowed ? GITLAB_COLORS.warning : glStatusColor(status),
		actor: actor,
		title: pipelineId ? 'Pipeline #' + pipelineId : '',
		titleLink: pipelineUrl,
		text: sha ? glCode(glShortSha(sha)) + (message ? ' ' + glEsc(message) : '') : '',
		fields: [
			glField('Stage', glEsc(data.build_stage)),
			glField('Failure reason', status === 'failed' ? glHumanize(data.build_failure_reason) : ''),
			glField('Environment', glEsc(glObj(data.environment).name)),
			glField('Runner', glEsc(glObj(data.runner).description)),
		],
	});
}

const GITLAB_DEPLOY_WORDS = {
	running: 'started',
	success: 'succeeded',
	failed: 'failed',
	canceled: 'was canceled',
	blocked: 'is blocked',
	created: 'was created',
};

function glDeployment(data) {
	const project = glProject(data);
	const actor = glActor(data);
	const status = glStr(data.status);
	const env = glFirst(data.environment, data.environment_slug);
	const envUrl = glUrl(data.environment_external_url);
	const word = GITLAB_DEPLOY_WORDS[status] || (status ? glHumanize(status) : 'changed');
	const sha = glStr(data.short_sha);
	const commitLine = sha
		? glLinkMd(glCode(sha), data.commit_url) + (glStr(data.commit_title) ? ' ' + glEsc(data.commit_title) : '')
		: '';
	return glMessage({
		headline:
			'Deployment' +
			(env ? ' to ' + (envUrl ? glLink(env, envUrl) : glBold(env)) : '') +
			' ' +
			glBold(word) +
			glIn(project) +
			(actor.name ? ' (by ' + glEsc(actor.name) + ')' : ''),
		color: status === 'running' ? GITLAB_COLORS.running : glStatusColor(status),
		actor: actor,
		title: glStr(data.deployment_id) ? 'Deployment #' + glStr(data.deployment_id) : '',
		titleLink: data.deployable_url,
		text: commitLine,
		fields: [glField('Ref', glCode(data.ref)), glField('Tier', glEsc(data.environment_tier))],
	});
}

function glFeatureFlag(data) {
	const project = glProject(data);
	const actor = glActor(data);
	const attrs = glObj(data.object_attributes);
	const state = attrs.active === true ? 'on' : attrs.active === false ? 'off' : 'on or off';
	return glMessage({
		headline: glWho(actor) + ' turned ' + glBold(state) + ' feature flag ' + (glCode(attrs.name) || 'a flag') + glIn(project),
		color: attrs.active === true ? GITLAB_COLORS.success : GITLAB_COLORS.neutral,
		actor: actor,
		text: glTruncate(attrs.description, GITLAB_MAX_TEXT),
	});
}

function glRelease(data) {
	const project = glProject(data);
	const action = glStr(data.action);
	const name = glFirst(data.name, data.tag, 'a release');
	const assets = glObj(data.assets);
	const links = glArr(assets.links)
		.map((l) => glLink(glFirst(glObj(l).name, glObj(l).url), glObj(l).url))
		.filter(Boolean);
	return glMessage({
		headline:
			'Release ' +
			(action === 'delete' ? glBold(name) : glLink(name, data.url)) +
			' ' +
			glActionWord(action, 'changed') +
			glIn(project),
		color: action === 'delete' ? GITLAB_COLORS.neutral : GITLAB_COLORS.success,
		title: action === 'delete' ? '' : name,
		titleLink: data.url,
		text: glTruncate(data.description, GITLAB_MAX_TEXT),
		fields: [glField('Tag', glCode(data.tag)), glField('Links', links.join(', '))],
	});
}

function glMilestone(data) {
	const project = glProject(data);
	const actor = glActor(data);
	const attrs = glObj(data.object_attributes);
	const action = glFirst(data.action, attrs.action);
	const title = glFirst(attrs.title, 'a milestone');
	const url = glStr(attrs.iid) ? glPath(project.url, ['-', 'milestones', glStr(attrs.iid)]) : '';
	return glMessage({
		headline:
			(actor.name ? glWho(actor) + ' ' + glActionWord(action, 'changed') + ' milestone ' : 'Milestone ') +
			(action === 'delete' ? glBold(title) : glLink(title, url)) +
			(actor.name ? '' : ' ' + glActionWord(action, 'changed')) +
			glIn(project),
		color: action === 'close' || action === 'delete' ? GITLAB_COLORS.neutral : GITLAB_COLORS.info,
		actor: actor,
		text: glTruncate(attrs.description, GITLAB_MAX_TEXT),
		fields: [glField('Due', glStr(attrs.due_date)), glField('State', glHumanize(attrs.state))],
	});
}

function glEmoji(data) {
	const project = glProject(data);
	const actor = glActor(data);
	const attrs = glObj(data.object_attributes);
	const emoji = glStr(attrs.name).replace(/[^\w+-]/g, '');
	const revoke = glFirst(attrs.action, data.event_type) === 'revoke';
	const url = glUrl(attrs.awarded_on_url);
	// A reaction on a comment names the comment's parent (issue, MR, snippet, commit).
	const onNote = glStr(attrs.awardable_type) === 'Note' || glIsObj(data.note);
	const parent = glNoteTarget({
		object_attributes: { noteable_type: onNote ? glObj(data.note).noteable_type : attrs.awardable_type, url: url },
		issue: data.issue,
		merge_request: data.merge_request,
		snippet: data.snippet,
		commit: data.commit,
	}).trim();
	let target;
	if (onNote) {
		target = parent ? 'a comment on ' + parent : glLink('a comment', url);
	} else {
		target = parent || glLink('an item', url);
	}
	const em = emoji ? ':' + emoji + ':' : 'an emoji';
	return glMessage({
		headline: glWho(actor) + (revoke ? ' removed ' + em + ' from ' : ' reacted with ' + em + ' to ') + target + glIn(project),
		color: GITLAB_COLORS.info,
		actor: actor,
	});
}

function glAccessToken(data) {
	const project = glProject(data);
	const group = glObj(data.group);
	const attrs = glObj(data.object_attributes);
	const groupName = glFirst(group.full_path, group.group_path, group.group_name);
	const where = project.link ? ' of project ' + project.link : groupName ? ' of group ' + glBold(groupName) : '';
	const expires = glStr(attrs.expires_at);
	return glMessage({
		headline:
			'Access token ' +
			(glCode(attrs.name) || '') +
			where +
			(expires ? ' expires on ' + glBold(expires) : ' expires soon'),
		color: GITLAB_COLORS.warning,
	});
}

const GITLAB_MEMBER_WORDS = {
	user_add_to_group: 'was added to group',
	user_update_for_group: 'had their access changed in group',
	user_remove_from_group: 'was removed from group',
	user_access_request_to_group: 'requested access to group',
	user_access_request_denied_for_group: 'was denied access to group',
	user_access_request_revoked_for_group: 'withdrew their access request to group',
	user_access_request_to_project: 'requested access to project',
	user_access_request_revoked_for_project: 'withdrew their access request to project',
	user_add_to_team: 'was added to project',
	user_update_for_team: 'had their access changed in project',
	user_remove_from_team: 'was removed from project',
};

function glMember(data) {
	const event = glStr(data.event_name);
	const who = glFirst(data.user_name, data.user_username, 'Someone');
	// Username without "@": a membership notice should not ping the member.
	const user = glStr(data.user_username) && glStr(data.user_username) !== who ? ' (' + glEsc(data.user_username) + ')' : '';
	// Project membership events end in _team (user_add_to_team) or _project (access requests).
	const isProject = /_(team|project)$/.test(event);
	const where = isProject
		? glFirst(data.project_path_with_namespace, data.project_name)
		: glFirst(data.group_path, data.group_name);
	const word = GITLAB_MEMBER_WORDS[event] || (event ? glHumanize(event) : 'changed membership in');
	const access = glFirst(data.group_access, data.access_level, data.project_access);
	const expires = glStr(data.expires_at);
	return glMessage({
		headline:
			glBold(who) +
			user +
			' ' +
			word +
			(where ? ' ' + glBold(where) : '') +
			(access && !/remove|denied|revoked/.test(event) ? ' as ' + glEsc(access) : ''),
		color: /remove|denied|revoked/.test(event) ? GITLAB_COLORS.neutral : GITLAB_COLORS.info,
		fields: [glField('Expires', expires)],
	});
}

function glSubgroup(data) {
	const event = glStr(data.event_name);
	const removed = /destroy|remove/.test(event);
	const name = glFirst(data.full_path, data.path, data.name, 'a subgroup');
	const parent = glFirst(data.parent_full_path, data.parent_path, data.parent_name);
	return glMessage({
		headline:
			'Subgroup ' +
			glBold(name) +
			(removed ? ' was removed from ' : ' was created in ') +
			(parent ? glBold(parent) : 'its parent group'),
		color: removed ? GITLAB_COLORS.neutral : GITLAB_COLORS.info,
	});
}

function glProjectEvent(data) {
	const event = glStr(data.event_name);
	const path = glFirst(data.path_with_namespace, data.name, 'a project');
	const words = {
		project_create: 'was created',
		project_destroy: 'was deleted',
		project_rename: 'was renamed',
		project_transfer: 'was transferred',
		project_update: 'was updated',
	};
	const old = glFirst(data.old_path_with_namespace);
	const owners = glArr(data.owners)
		.map((o) => glEsc(glObj(o).name))
		.filter(Boolean)
		.join(', ');
	return glMessage({
		headline:
			'Project ' +
			glBold(path) +
			' ' +
			(words[event] || glHumanize(event) || 'changed') +
			(old && old !== path ? ' (was ' + glBold(old) + ')' : ''),
		color: event === 'project_destroy' ? GITLAB_COLORS.neutral : GITLAB_COLORS.info,
		fields: [glField('Owners', owners), glField('Visibility', glEsc(data.project_visibility))],
	});
}

function glVulnerability(data) {
	const project = glProject(data);
	const attrs = glObj(data.object_attributes);
	const severity = glStr(attrs.severity);
	return glMessage({
		headline:
			'Vulnerability ' +
			(glLink(glFirst(attrs.title, 'finding'), attrs.url) || 'finding') +
			(glStr(attrs.state) ? ' is ' + glBold(glHumanize(attrs.state)) : ' changed') +
			glIn(project),
		color: /critical|high/.test(severity) ? GITLAB_COLORS.failed : GITLAB_COLORS.warning,
		fields: [glField('Severity', glEsc(severity)), glField('Report', glHumanize(attrs.report_type))],
	});
}

// System hook sent once per push (branches and tags together): who pushed which refs where.
function glRepositoryUpdate(data) {
	const project = glProject(data);
	const actor = glActor(data);
	let refs = glArr(data.refs).map(glStr);
	if (!refs.length) {
		refs = glArr(data.changes).map((c) => glStr(glObj(c).ref));
	}
	const names = refs
		.filter(Boolean)
		.map((r) => glCode(glRefName(r)))
		.filter((r, i, all) => all.indexOf(r) === i);
	return glMessage({
		headline: glWho(actor) + ' pushed' + (names.length ? ' to ' + names.join(', ') : '') + glIn(project),
		color: GITLAB_COLORS.running,
		actor: actor,
	});
}

// System hooks without object_kind: name the event and the most telling identifier.
function glSystem(data) {
	const event = glStr(data.event_name);
	if (event === 'repository_update') {
		return glRepositoryUpdate(data);
	}
	if (/^project_/.test(event)) {
		return glProjectEvent(data);
	}
	if (/^user_.*_(group|team)$/.test(event) || /^user_access_request/.test(event)) {
		return glMember(data);
	}
	if (/^subgroup_/.test(event)) {
		return glSubgroup(data);
	}
	const subject = glFirst(data.path_with_namespace, data.full_path, data.username, data.name, data.path);
	return glMessage({
		headline: 'GitLab system event ' + (glCode(event) || glCode('unknown')) + (subject ? ' for ' + glBold(subject) : ''),
		color: GITLAB_COLORS.neutral,
	});
}

// The short message for anything we cannot (or failed to) render: never an error for GitLab.
function glGeneric(event, data, failed) {
	const d = glObj(data);
	const project = glProject(d);
	const kind = glFirst(event, d.object_kind, d.event_name, 'webhook');
	const group = glFirst(glObj(d.group).full_path, d.group_path, d.full_path);
	return glMessage({
		headline:
			'GitLab sent ' +
			glBold(kind) +
			(project.link ? ' for ' + project.link : group ? ' for group ' + glBold(group) : '') +
			(failed ? ' (details could not be shown)' : ''),
		color: GITLAB_COLORS.neutral,
	});
}

// X-Gitlab-Event header (and object_kind / event_name when it is missing) -> renderer key.
const GITLAB_HEADER_KINDS = {
	'push hook': 'push',
	'tag push hook': 'tag_push',
	'issue hook': 'issue',
	'confidential issue hook': 'confidential_issue',
	'work item hook': 'issue',
	'note hook': 'note',
	'confidential note hook': 'confidential_note',
	'merge request hook': 'merge_request',
	'wiki page hook': 'wiki_page',
	'pipeline hook': 'pipeline',
	'job hook': 'build',
	'build hook': 'build',
	'deployment hook': 'deployment',
	'feature flag hook': 'feature_flag',
	'release hook': 'release',
	'milestone hook': 'milestone',
	'emoji hook': 'emoji',
	'resource access token hook': 'access_token',
	'member hook': 'member',
	'subgroup hook': 'subgroup',
	'project hook': 'project',
	'vulnerability hook': 'vulnerability',
	'system hook': 'system',
};

function glKind(event, data) {
	const header = glOneLine(event).toLowerCase();
	let kind = GITLAB_HEADER_KINDS[header] || '';
	// System hooks carry push/tag_push/merge_request/repository_update payloads too.
	if (!kind || kind === 'system') {
		const objectKind = glStr(data.object_kind);
		const eventName = glStr(data.event_name);
		if (objectKind) {
			kind = objectKind === 'work_item' ? 'issue' : objectKind;
		} else if (/^user_.*_(group|team)$/.test(eventName) || /^user_access_request/.test(eventName)) {
			kind = 'member';
		} else if (/^subgroup_/.test(eventName)) {
			kind = 'subgroup';
		} else if (/^project_/.test(eventName)) {
			kind = 'project';
		} else if (eventName === 'push' || eventName === 'tag_push') {
			kind = eventName;
		} else if (eventName) {
			kind = 'system';
		}
	}
	if (kind === 'issue' && glStr(data.event_type) === 'confidential_issue') {
		kind = 'confidential_issue';
	}
	if (kind === 'note' && glStr(data.event_type) === 'confidential_note') {
		kind = 'confidential_note';
	}
	return kind;
}

function glRender(kind, data) {
	switch (kind) {
		case 'push':
			return glPush(data);
		case 'tag_push':
			return glTagPush(data);
		case 'issue':
			return glIssue(data, false);
		case 'confidential_issue':
			return glIssue(data, true);
		case 'note':
			return glNote(data, false);
		case 'confidential_note':
			return glNote(data, true);
		case 'merge_request':
			return glMergeRequest(data);
		case 'wiki_page':
			return glWiki(data);
		case 'pipeline':
			return glPipeline(data);
		case 'build':
			return glJob(data);
		case 'deployment':
			return glDeployment(data);
		case 'feature_flag':
			return glFeatureFlag(data);
		case 'release':
			return glRelease(data);
		case 'milestone':
			return glMilestone(data);
		case 'emoji':
			return glEmoji(data);
		case 'access_token':
			return glAccessToken(data);
		case 'member':
			return glMember(data);
		case 'subgroup':
			return glSubgroup(data);
		case 'project':
			return glProjectEvent(data);
		case 'vulnerability':
			return glVulnerability(data);
		case 'system':
			return glSystem(data);
		default:
			return undefined;
	}
}

function glHeader(headers, name) {
	const h = glObj(headers);
	if (typeof h[name] === 'string') {
		return h[name];
	}
	for (const key of Object.keys(h)) {
		if (key.toLowerCase() === name) {
			return glStr(h[key]);
		}
	}
	return '';
}

// request.content is the parsed body; if Rocket.Chat could not parse it, try content_raw.
function glBody(request) {
	if (glIsObj(request.content) && Object.keys(request.content).length) {
		return request.content;
	}
	const raw = glStr(request.content_raw);
	if (raw && raw.trim().charAt(0) === '{') {
		try {
			const parsed = JSON.parse(raw);
			if (glIsObj(parsed)) {
				return parsed;
			}
		} catch (e) {
			// not JSON: fall through to the generic message
		}
	}
	return glObj(request.content);
}

function glLog(message, err) {
	try {
		if (typeof console !== 'undefined' && console && typeof console.log === 'function') {
			console.log('gitlab.js: ' + message + ': ' + (glStr(err && (err.stack || err.message)) || glStr(err)));
		}
	} catch (e) {
		// logging must never be the reason a message is lost
	}
}

class Script {
	process_incoming_request(args) {
		let event = '';
		let data = {};
		try {
			const request = glObj(glObj(args).request);
			event = glOneLine(glHeader(request.headers, 'x-gitlab-event'));
			data = glBody(request);
			if (!Object.keys(data).length) {
				return glGeneric(event, data, false); // empty or unreadable body: say so, never fail
			}
			const kind = glKind(event, data);
			const result = glRender(kind, data);
			if (result === null) {
				return undefined; // deliberately silenced by GITLAB_IGNORED_*_STATUSES
			}
			return result || glGeneric(event, data, false);
		} catch (err) {
			glLog('could not render ' + (event || 'event'), err);
			try {
				return glGeneric(event, data, true);
			} catch (err2) {
				return { content: { text: 'GitLab sent an event (details could not be shown)' } };
			}
		}
	}
}
