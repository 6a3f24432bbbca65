"""Fidelity of sims/rc-sim checked with the real PyPI client rocketchat_API (unchanged) + requests.

Binary: $RC_SIM_BIN, default <repo>/target/debug/rc-sim (build: cargo build -p rc-sim).
Each test starts its own emulator (the login route is rate limited per IP, like the real server).
"""

import hashlib
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest
import requests
from rocketchat_API.APIExceptions.RocketExceptions import (
    RocketApiException,
    RocketAuthenticationException,
)
from rocketchat_API.rocketchat import RocketChat

REPO = Path(__file__).resolve().parents[2]
SIM = Path(os.environ.get("RC_SIM_BIN", REPO / "target" / "debug" / "rc-sim"))
ADMIN = "boss"
ADMIN_PASS = "Adm1n-Passw0rd!x"  # meets the 8.x policy too
TIMEOUT = 10


class Sim:
    def __init__(self, *args, env=None):
        if not SIM.is_file():
            pytest.fail(f"rc-sim binary not found at {SIM}: run `cargo build -p rc-sim` or set RC_SIM_BIN",
                        pytrace=False)
        full_env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("ADMIN_", "OVERWRITE_SETTING_"))}
        full_env.update(env if env is not None else {"ADMIN_USERNAME": ADMIN, "ADMIN_PASS": ADMIN_PASS})
        self.proc = subprocess.Popen([str(SIM), "--port", "0", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=full_env)
        line = {}

        def read():
            line["v"] = self.proc.stdout.readline()

        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(TIMEOUT)
        if not line.get("v"):
            self.stop()
            pytest.fail("rc-sim printed no listening line", pytrace=False)
        info = json.loads(line["v"])
        assert info["msg"] == "listening"
        self.version = info["version"]
        self.url = f"http://127.0.0.1:{info['port']}"

    def stop(self):
        self.proc.kill()
        self.proc.wait(TIMEOUT)

    def sim(self, path):
        return requests.get(f"{self.url}/_sim/{path}", timeout=TIMEOUT).json()


@pytest.fixture
def start():
    sims = []

    def _start(*args, env=None):
        s = Sim(*args, env=env)
        sims.append(s)
        return s

    try:
        yield _start
    finally:
        for s in sims:
            s.stop()


def admin(sim):
    return RocketChat(ADMIN, ADMIN_PASS, server_url=sim.url, timeout=TIMEOUT)


def test_bootstrap_flow_with_real_client(start):
    sim = start("--version", "7.10.0")
    rc = admin(sim)
    me = rc.me()
    assert me["success"] is True and me["username"] == ADMIN and me["roles"] == ["admin"]
    # `info` is authRequired false and never authenticated after 6.x: admins see major.minor too.
    assert rc.info()["version"] == "7.10"
    assert requests.get(f"{sim.url}/api/info", timeout=TIMEOUT).json()["version"] == "7.10"

    bot = rc.users_create(email="hubot@example.org", name="Hubot", password="bot-pw", username="hubot")["user"]
    assert rc.users_info(username="hubot")["user"]["_id"] == bot["_id"]

    chan = rc.channels_create("devops")["channel"]
    assert rc.channels_info(channel="devops")["channel"]["_id"] == chan["_id"]
    for _ in range(2):  # re-inviting a member is not an error
        assert rc.channels_invite(chan["_id"], bot["_id"])["success"] is True
    assert rc.rooms_info(room_id=chan["_id"])["room"]["name"] == "devops"
    sub = rc.subscriptions_get_one(chan["_id"])["subscription"]
    assert sub["rid"] == chan["_id"] and sub["roles"] == ["owner"]

    grp = rc.groups_create("secret-ops")["group"]
    assert rc.groups_invite(grp["_id"], bot["_id"])["success"] is True
    assert rc.groups_info(room_id=grp["_id"])["group"]["t"] == "p"

    with pytest.raises(RocketApiException) as dup:
        rc.channels_create("devops")
    assert dup.value.status_code == 400
    assert dup.value.error_type == "error-duplicate-channel-name"
    assert dup.value.error == "A channel with name 'devops' exists [error-duplicate-channel-name]"

    script = ("class Script { process_incoming_request({ request }) {"
              " return { content: { text: request.headers['x-gitlab-event'] + ': ' + request.content.text } }; } }")
    integ = rc.integrations_create("webhook-incoming", "gitlab", True, "hubot", "#devops", True,
                                   script=script)["integration"]
    assert integ["channel"] == ["#devops"] and integ["script"] == script and integ["scriptEnabled"] is True
    assert "bot" in sim.sim("users/hubot")["roles"]  # side effect of addIncomingIntegration
    listed = list(rc.integrations_list())
    assert [i["_id"] for i in listed] == [integ["_id"]]
    assert rc.integrations_get(integ["_id"])["integration"]["token"] == integ["token"]

    hook = f"{sim.url}/hooks/{integ['_id']}/{integ['token']}"
    r = requests.post(hook, json={"text": "pipeline #1 passed"},
                      headers={"X-Gitlab-Event": "Pipeline Hook"}, timeout=TIMEOUT)
    assert r.status_code == 200 and r.json() == {"success": True}
    # 7.10 routes in registration order: the 4-segment info form reaches integrationInfoRest; an
    # unknown id/token throws outside the route's try/catch: a bare 500 (see hook_router.rs).
    assert requests.get(f"{sim.url}/hooks/info/{integ['_id']}/x/{integ['token']}", timeout=TIMEOUT).json() == \
        {"success": True}
    bad = requests.post(f"{sim.url}/hooks/{integ['_id']}/nope", json={"text": "x"}, timeout=TIMEOUT)
    assert (bad.status_code, bad.text) == (500, "Internal Server Error")

    msgs = sim.sim("rooms/devops/messages")["messages"]
    assert [m["msg"] for m in msgs] == ["Pipeline Hook: pipeline #1 passed"]  # the script ran
    assert msgs[0]["u"]["username"] == "hubot" and msgs[0]["bot"] == {"i": integ["_id"]}
    assert msgs[0]["_sim"]["scriptEnabled"] is True and msgs[0]["_sim"]["scriptRun"] is True
    assert msgs[0]["_sim"]["headers"]["x-gitlab-event"] == "Pipeline Hook"
    history = list(rc.channels_history(chan["_id"]))
    assert history[0]["msg"] == "Pipeline Hook: pipeline #1 passed"

    with pytest.raises(RocketApiException) as extra:
        rc.integrations_create("webhook-incoming", "x", True, "hubot", "#devops", False, bogusField=1)
    assert extra.value.error_type == "invalid-params"

    # 7.10 (post-Restivus router): an empty 200, which rocketchat_API returns as the text "".
    assert rc.logout() == ""
    with pytest.raises(RocketApiException) as gone:
        rc.me()
    assert gone.value.status_code == 401
    assert gone.value.response_json["message"] == "You must be logged in to do this."


def test_incoming_script_runs_like_rocket_chat(start):
    """integrations.create with a script (real client), then GitLab-style posts to the hook:
    the script's content is posted; a throw / {error} answer 400 like executeIntegrationRest."""
    sim = start("--setting", "API_Enable_Rate_Limiter=false")
    rc = admin(sim)
    rc.users_create(email="gl@example.org", name="GitLab", password="gl-pw", username="gitlab")
    rc.channels_create("devops")

    def hook(script):
        integ = rc.integrations_create("webhook-incoming", "gitlab", True, "gitlab", "#devops", True,
                                       script=script)["integration"]
        assert integ["scriptCompiled"] == script
        return f"{sim.url}/hooks/{integ['_id']}/{integ['token']}"

    fmt = hook("class Script { process_incoming_request({ request }) { const c = request.content;"
               " return { content: { text: `*${c.object_attributes.status}* pipeline in ${c.project.name}`,"
               " alias: request.user.username, attachments: [{ title: request.url.query.tag }] } }; } }")
    r = requests.post(f"{fmt}?tag=v1", json={"object_attributes": {"status": "failed"}, "project": {"name": "proj"}},
                      headers={"X-Gitlab-Event": "Pipeline Hook"}, timeout=TIMEOUT)
    assert r.status_code == 200 and r.json() == {"success": True}
    msg = sim.sim("rooms/devops/messages")["messages"][-1]
    assert msg["msg"] == "*failed* pipeline in proj" and msg["alias"] == "gitlab"
    assert msg["attachments"] == [{"title": "v1"}] and msg["_sim"]["scriptRun"] is True

    boom = hook("class Script { process_incoming_request() { throw new Error('boom'); } }")
    r = requests.post(boom, json={"a": 1}, timeout=TIMEOUT)
    assert r.status_code == 400 and r.json() == {"success": False, "error": "error-running-script"}

    refuse = hook("class Script { process_incoming_request() { return { error: 'ignored event' }; } }")
    r = requests.post(refuse, data={"payload": '{"a": 1}'}, timeout=TIMEOUT)  # form body with payload=
    assert r.status_code == 400 and r.json() == {"success": False, "error": "ignored event"}

    assert len(sim.sim("rooms/devops/messages")["messages"]) == 1
    assert [m["msg"] for m in rc.channels_history(rc.channels_info(channel="devops")["channel"]["_id"])] == \
        ["*failed* pipeline in proj"]


def test_rate_limiter_hits_plain_users_not_admins(start):
    sim = start("--rate-limit-calls", "3")
    rc = admin(sim)  # login call 1 of 3 from 127.0.0.1
    for _ in range(5):
        rc.me()  # admin holds api-bypass-rate-limit
    rc.users_create(email="joe@example.org", name="Joe", password="joe-pw", username="joe")
    joe = RocketChat("joe", "joe-pw", server_url=sim.url, timeout=TIMEOUT)  # login call 2 of 3
    for _ in range(3):
        joe.me()
    with pytest.raises(RocketApiException) as e:
        joe.me()
    assert e.value.status_code == 429
    assert e.value.error.endswith("before trying this endpoint again. [error-too-many-requests]")
    raw = requests.get(f"{sim.url}/api/v1/me", headers=joe.headers, timeout=TIMEOUT)
    assert raw.status_code == 429
    assert raw.headers["X-RateLimit-Limit"] == "3" and raw.headers["X-RateLimit-Remaining"] == "0"
    assert int(raw.headers["X-RateLimit-Reset"]) > 0
    # A bot (role bot via an incoming integration) bypasses it as well.
    rc.integrations_create("webhook-incoming", "h", True, "joe", "#general", False)
    assert joe.me()["username"] == "joe"


def test_login_token_cap_is_50(start):
    sim = start("--setting", "API_Enable_Rate_Limiter=false")
    first = admin(sim)
    for _ in range(54):
        admin(sim)
    assert sim.sim(f"users/{ADMIN}")["loginTokens"] == 50
    stale = RocketChat(auth_token=first.headers["X-Auth-Token"], user_id=first.headers["X-User-Id"],
                       server_url=sim.url, timeout=TIMEOUT)
    with pytest.raises(RocketApiException) as e:
        stale.me()
    assert e.value.status_code == 401
    # resume login does not add a token
    latest = admin(sim)
    r = requests.post(f"{sim.url}/api/v1/login", json={"resume": latest.headers["X-Auth-Token"]}, timeout=TIMEOUT)
    assert r.json()["status"] == "success"
    assert sim.sim(f"users/{ADMIN}")["loginTokens"] == 50


def test_verified_email_user_gets_totp_required(start):
    sim = start()
    rc = admin(sim)
    rc.users_create(email="v@example.org", name="V", password="v-pw", username="verified", verified=True)
    with pytest.raises(RocketAuthenticationException):
        RocketChat("verified", "v-pw", server_url=sim.url, timeout=TIMEOUT)
    r = requests.post(f"{sim.url}/api/v1/login", json={"username": "verified", "password": "v-pw"}, timeout=TIMEOUT)
    assert r.status_code == 401
    assert r.json()["error"] == "totp-required" and r.json()["details"]["method"] == "email"
    code = sim.sim("users/verified")["2fa"]["emailCode"]
    r = requests.post(f"{sim.url}/api/v1/login", json={"username": "verified", "password": "v-pw", "code": code},
                      timeout=TIMEOUT)
    assert r.json()["status"] == "success"
    # With auto opt-in disabled a verified user logs in directly.
    sim2 = start("--setting", "Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In=false")
    admin(sim2).users_create(email="w@example.org", name="W", password="w-pw", username="w", verified=True)
    assert RocketChat("w", "w-pw", server_url=sim2.url, timeout=TIMEOUT).me()["username"] == "w"


def test_users_update_password_fallback_2fa(start):
    sim = start("--setting", "Accounts_TwoFactorAuthentication_RememberFor=0")
    rc = admin(sim)
    uid = rc.headers["X-User-Id"]
    with pytest.raises(RocketApiException) as e:
        rc.users_update(uid, name="Big Boss")
    assert e.value.error_type == "totp-required"
    assert e.value.response_json["details"]["method"] == "password"
    rc.headers["x-2fa-method"] = "password"
    rc.headers["x-2fa-code"] = hashlib.sha256(ADMIN_PASS.encode()).hexdigest()
    assert rc.users_update(uid, name="Big Boss")["user"]["name"] == "Big Boss"


@pytest.mark.parametrize("version", ["6.13.0", "7.10.0", "8.1.0"])
def test_version_switch(start, version):
    sim = start("--version", version)
    assert sim.version == version
    health = requests.get(f"{sim.url}/health", timeout=TIMEOUT)
    livez = requests.get(f"{sim.url}/livez", timeout=TIMEOUT)
    unauth = requests.get(f"{sim.url}/api/v1/me", timeout=TIMEOUT)
    assert unauth.status_code == 401
    assert requests.get(f"{sim.url}/api/info", timeout=TIMEOUT).json()["version"] == version.rsplit(".", 1)[0]
    rc = admin(sim)
    if version == "8.1.0":
        assert health.json() == {"status": "ok"} and livez.status_code == 200
        assert requests.get(f"{sim.url}/readyz", timeout=TIMEOUT).json()["status"] == "ok"
        # applyBreakingChanges is shouldBreakInVersion('9.0.0') on 8.0.1+ (PR #38155): legacy fields.
        assert unauth.json() == {"success": False, "error": "You must be logged in to do this.",
                                 "status": "error", "message": "You must be logged in to do this."}
        with pytest.raises(RocketApiException) as e:
            rc.users_create(email="p@example.org", name="P", password="short", username="p")
        assert e.value.error_type == "error-password-policy-not-met"
        kinds = {d["error"] for d in e.value.response_json["details"]}
        assert "error-password-policy-not-met-minLength" in kinds
        # As 7.10 (loginErrorMessageOverride "User not found" -> the route's Unauthorized); the legacy
        # fields stay (applyBreakingChanges is 9.0.0).
        bad = requests.post(f"{sim.url}/api/v1/login", json={"username": ADMIN, "password": "wrong"}, timeout=TIMEOUT)
        assert bad.status_code == 401 and bad.json() == {
            "success": False, "status": "error", "error": "Unauthorized", "message": "Unauthorized"}
    else:
        assert health.text == "ok" and health.headers["Content-Type"].startswith("text/plain")
        assert livez.status_code == 404
        assert unauth.json()["status"] == "error"
        assert rc.users_create(email="p@example.org", name="P", password="short", username="p")["success"]
        # 6.13: the sync override is a no-op (Meteor's own 403 text); 7.10: every handler error
        # becomes "User not found", which the REST catch turns into Unauthorized.
        bad = requests.post(f"{sim.url}/api/v1/login", json={"username": ADMIN, "password": "wrong"}, timeout=TIMEOUT)
        want = [403, "Incorrect password"] if version == "6.13.0" else ["Unauthorized", "Unauthorized"]
        assert bad.status_code == 401 and [bad.json()["error"], bad.json()["message"]] == want
    fields = {"overrideDestinationChannelEnabled": False}
    if version == "6.13.0":
        with pytest.raises(RocketApiException):
            rc.integrations_create("webhook-incoming", "o", True, ADMIN, "#general", False, **fields)
    else:
        assert rc.integrations_create("webhook-incoming", "o", True, ADMIN, "#general", False, **fields)["success"]


@pytest.mark.parametrize("version", ["6.13.0", "7.10.0", "8.1.0"])
def test_rest_login_failures_per_release(start, version):
    # docs/reviews/rc-rest-login.md: Meteor's handler error, Rocket.Chat's loginErrorMessageOverride
    # (a no-op on 6.13), then the route's catch ("User not found" -> Unauthorized), 401 always.
    sim = start("--version", version, "--setting", "API_Enable_Rate_Limiter=false")
    with pytest.raises(RocketAuthenticationException):
        RocketChat(ADMIN, "wrong-password", server_url=sim.url, timeout=TIMEOUT)
    want = {
        "6.13.0": ([403, "Incorrect password"], ["Unauthorized", "Unauthorized"]),
        "7.10.0": (["Unauthorized", "Unauthorized"], ["Unauthorized", "Unauthorized"]),
        "8.1.0": (["Unauthorized", "Unauthorized"], ["Unauthorized", "Unauthorized"]),
    }[version]
    for who, expected in zip([ADMIN, "ghost"], want):
        r = requests.post(f"{sim.url}/api/v1/login", json={"user": who, "password": "nope"}, timeout=TIMEOUT)
        b = r.json()
        assert r.status_code == 401 and b["status"] == "error" and [b["error"], b["message"]] == expected
        assert b.get("success") is (None if version == "6.13.0" else False)


@pytest.mark.parametrize("version", ["7.10.0", "8.1.0"])
def test_real_client_sees_the_brute_force_block(start, version):
    # restrictLoginAttempts.ts: 10 failures per username block it for 5 minutes, even with the
    # right password; the reply names the block on 8.1 too (applyBreakingChanges is 9.0.0 there).
    sim = start("--version", version, "--setting", "API_Enable_Rate_Limiter=false")
    for _ in range(10):
        with pytest.raises(RocketAuthenticationException):
            RocketChat(ADMIN, "wrong-password", server_url=sim.url, timeout=TIMEOUT)
    with pytest.raises(RocketAuthenticationException):
        admin(sim)
    r = requests.post(f"{sim.url}/api/v1/login", json={"user": ADMIN, "password": ADMIN_PASS}, timeout=TIMEOUT)
    assert r.status_code == 401
    assert r.json()["error"] == "error-login-blocked-for-user"
    assert r.json()["message"] == "Login has been temporarily blocked For User"
    assert sim.sim("logins")["succeeded"] == 0


@pytest.mark.parametrize("version", ["6.13.0", "7.10.0", "8.1.0"])
def test_hook_routes_and_rooms_info_errors_per_version(start, version):
    sim = start("--version", version)
    rc = admin(sim)
    hook = rc.integrations_create("webhook-incoming", "h", True, ADMIN, "#general", False)["integration"]
    base = f"{sim.url}/hooks/info/{hook['_id']}"
    four = requests.get(f"{base}/x/{hook['token']}", timeout=TIMEOUT)
    assert four.json() == {"success": True}
    three = requests.get(f"{base}/{hook['token']}", timeout=TIMEOUT)
    if version == "6.13.0":  # Restivus: the literal `info` route wins
        assert three.json() == {"success": True}
        assert requests.get(f"{base}/x/wrong", timeout=TIMEOUT).status_code == 404
    else:  # registration order: :integrationId/:userId/:token, integrationId "info"
        assert (three.status_code, three.text) == (500, "Internal Server Error")
    with pytest.raises(RocketApiException) as e:
        rc.rooms_info(room_name="nowhere")
    assert e.value.error_type == "error-room-not-found"
    rc.groups_create("secret")
    other = requests.post(f"{sim.url}/api/v1/users.create", headers={
        "X-User-Id": rc.headers["X-User-Id"], "X-Auth-Token": rc.headers["X-Auth-Token"]},
        json={"email": "u@example.org", "name": "U", "password": ADMIN_PASS, "username": "u"}, timeout=TIMEOUT)
    assert other.json()["success"], other.text
    u = RocketChat("u", ADMIN_PASS, server_url=sim.url, timeout=TIMEOUT)
    with pytest.raises(RocketApiException) as e:
        u.rooms_info(room_name="secret")
    assert e.value.response_json == {"success": False, "error": "not-allowed", "errorType": "Not Allowed"}
    # An archived room: error-room-archived on every line (rooms.info skips the check only
    # since PR #41085, 2026-06, after 8.1.0).
    rc.channels_create("attic")
    assert requests.get(f"{sim.url}/_sim/rooms/attic/archive", timeout=TIMEOUT).ok
    with pytest.raises(RocketApiException) as e:
        rc.rooms_info(room_name="attic")
    assert e.value.error_type == "error-room-archived"
    # permissionsRequired: [error-unauthorized] (permissions.ts @ a1167b28 on 8.x).
    with pytest.raises(RocketApiException) as e:
        list(u.integrations_list())  # a paging generator: iterate to call
    assert e.value.status_code == 403
    assert e.value.response_json == {
        "success": False, "error": "User does not have the permissions required for this action [error-unauthorized]"}
    with pytest.raises(RocketApiException) as e:
        u.users_info(username="nobody")
    assert e.value.response_json == {"success": False, "error": "User not found."}
    out = requests.post(f"{sim.url}/api/v1/logout", headers={
        "X-User-Id": u.headers["X-User-Id"], "X-Auth-Token": u.headers["X-Auth-Token"]}, timeout=TIMEOUT)
    assert out.status_code == 200
    if version == "6.13.0":  # Restivus sends the action's object: no `success` field
        assert out.json() == {"status": "success", "data": {"message": "You've been logged out!"}}
    else:  # the router reads {body, statusCode}: neither is set
        assert out.text == ""


@pytest.mark.parametrize("version", ["6.13.0", "7.10.0", "8.1.0"])
def test_second_reading_corrections_with_real_client(start, version):
    # The reviewer's corrections (sims/rc-sim/README.md ledger), seen through rocketchat_API.
    sim = start("--version", version, "--setting", "API_Enable_Rate_Limiter=false")
    rc = admin(sim)  # rocketchat_API logs in on 6.13's raw {status, data} (no `success`) too
    raw = requests.post(f"{sim.url}/api/v1/login", json={"user": ADMIN, "password": ADMIN_PASS}, timeout=TIMEOUT)
    assert ("success" in raw.json()) == (version != "6.13.0")
    unauth = requests.get(f"{sim.url}/api/v1/me", timeout=TIMEOUT)
    if version == "6.13.0":  # Restivus answers it itself
        assert unauth.json() == {"status": "error", "message": "You must be logged in to do this."}
    # Room creation without create-c: API.v1.forbidden() (403).
    assert rc.users_create(email="g@example.org", name="G", password="Gu3st-User-Passw0rd!", username="guest1",
                           roles=["guest"])["success"]
    guest = RocketChat("guest1", "Gu3st-User-Passw0rd!", server_url=sim.url, timeout=TIMEOUT)
    with pytest.raises(RocketApiException) as e:
        guest.channels_create("nope")
    assert e.value.status_code == 403
    # forbidden()'s default is `unauthorized` until applyBreakingChanges (9.0.0), 8.1 too.
    assert e.value.response_json == {"success": False, "error": "unauthorized"}
    # integrations.list: natural (insertion) order.
    for n in ["first", "second", "third"]:
        rc.integrations_create("webhook-incoming", n, True, ADMIN, "#general", False)
    names = [i["name"] for i in rc.integrations_list()]  # rocketchat_API pages through it
    assert names == ["first", "second", "third"]
    # Blocked system usernames: error-blocked-username.
    with pytest.raises(RocketApiException) as e:
        rc.users_create(email="s@example.org", name="S", password="Sy5tem-User-Passw0rd!", username="system")
    assert e.value.error_type == "error-blocked-username"
    # Brute-force protection is off by default on 6.x: 12 failures do not block the admin.
    for _ in range(12):
        with pytest.raises(RocketAuthenticationException):
            RocketChat(ADMIN, "wrong-password", server_url=sim.url, timeout=TIMEOUT)
    if version == "6.13.0":
        assert admin(sim).me()["username"] == ADMIN
    else:
        with pytest.raises(RocketAuthenticationException):
            admin(sim)
