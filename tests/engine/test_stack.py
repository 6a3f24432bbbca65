"""Scenarios 1, 3, 4, 6, 10, 5, 7 and 8 of the engine suite, on one emulated stack (in this
order), with the real Hubot image (docker/hubot.Dockerfile: Hubot 3.5.0 + hubot-rocketchat 2.0.0;
its HEALTHCHECK, rc-probe, requires the bot's live connection)."""

import json
import os
import re
import time
from pathlib import Path

import pytest

from stack import CORE, ENV, HERE, Stack, run, timings, ts


@pytest.fixture(scope="module")
def stack():
    s = Stack("coq-engine")
    s.down()
    yield s
    s.down()


INITIATES = "replSetInitiate admin command received from client"
# @rocket.chat/sdk 0.1.0 (dist/lib/driver.js) logs every stream-room-messages event it receives,
# before its own filters (it then ignores messages the bot itself posted, as the webhook's are).
RECEIVED = "[received] Message in room "
# The SDK (driver.js reactToMessages), once logged in, rooms joined and the stream subscribed.
SUBSCRIBED = "[reactive] Listening for change events"


def test_1_cold_up_wait_converges(stack):
    took = stack.up()
    print(f"\n[1] cold up --wait: {took:.1f}s")
    for svc, t in timings(stack, CORE).items():
        print(f"[1]   {svc}: {t}")
    assert stack.health("mongo") == "healthy"
    assert stack.health("rocketchat") == "running"
    assert stack.health("hubot") == "healthy"
    for welder in ("mongo-rs-init", "rc-bootstrap"):
        st = stack.inspect(welder)["State"]
        assert (st["Status"], st["ExitCode"]) == ("exited", 0), f"{welder}: {st}"
    assert stack.logs("mongo").count(INITIATES) == 1
    url = stack.webhook_url()
    assert re.fullmatch(r"http://localhost:3000/hooks/[^/\s]+/[^/\s]+", url), "no webhook URL published"
    # Rocket.Chat started only once mongo had been healthy (scenario 2 checks it with a late mongod).
    assert ts(stack.inspect("rocketchat")["State"]["StartedAt"]) > ts(stack.inspect("mongo-rs-init")["State"]["FinishedAt"])


@pytest.mark.parametrize("how", ["restart", "kill+start"])
def test_3_mongo_restart_comes_back_without_reinitiation(stack, how):
    before = stack.inspect("mongo")["State"]["StartedAt"]
    if how == "restart":
        stack.compose("restart", "-t", "5", "mongo")
    else:
        stack.compose("kill", "mongo")
        assert stack.inspect("mongo")["State"]["Status"] == "exited"
        stack.compose("start", "mongo")
    # A new start, then not-healthy (Docker resets the status on start), then healthy again.
    stack.wait_for("mongo restarted", lambda: stack.inspect("mongo")["State"]["StartedAt"] != before, 30)
    t0 = ts(stack.inspect("mongo")["State"]["StartedAt"])
    stack.wait_for("mongo healthy again", lambda: stack.health("mongo") == "healthy", 60)
    hl = stack.inspect("mongo")["State"]["Health"]["Log"]
    first_ok = min(ts(h["End"]) for h in hl if h["ExitCode"] == 0 and ts(h["Start"]) >= t0)
    print(f"\n[3] {how}: healthy {first_ok - t0:.2f}s after the new start")
    assert stack.logs("mongo").count(INITIATES) == 1, "the set was initiated again"
    # Rocket.Chat and the welders were left alone.
    assert stack.inspect("mongo-rs-init")["RestartCount"] == 0


def test_4_second_up_recreates_nothing(stack):
    ids = {s: stack.cid(s) for s in CORE}
    url = stack.webhook_url()
    took = stack.up()
    print(f"\n[4] second up --wait: {took:.1f}s")
    assert {s: stack.cid(s) for s in CORE} == ids, "a container was recreated"
    assert stack.webhook_url() == url
    # Lines carry an ESC[2K (erase line) prefix, and a progress line ("waiting for ...", stderr)
    # may land after the final report (stdout) in `compose logs`: the report is the last other line.
    def report_lines(service):
        lines = [ln.replace("\x1b[2K", "") for ln in stack.logs(service).strip().splitlines()]
        return [ln for ln in lines if ln.strip() and "waiting for" not in ln]
    init_log, boot_log = report_lines("mongo-rs-init"), report_lines("rc-bootstrap")
    assert "already" in init_log[-1] or "unchanged" in init_log[-1] or "nothing" in init_log[-1], init_log[-1]
    tail = "\n".join(boot_log[-12:])
    assert "unchanged" in tail and "created" not in boot_log[-1], tail
    assert stack.logs("mongo").count(INITIATES) == 1


def test_6_gitlab_push_lands_in_the_room_as_the_bot(stack):
    url = stack.webhook_url()
    path = url.split("://", 1)[1].split("/", 1)[1]
    # ROOT_URL is for users; inside the network GitLab reaches Rocket.Chat by its service name.
    internal = f"http://rocketchat:3000/{path}"
    fixtures = Path(os.environ.get("GITLAB_FIXTURES", "/work/shared/fixtures/gitlab-webhooks"))
    payload = (fixtures / "push.json").read_text() if (fixtures / "push.json").exists() else json.dumps(
        {"object_kind": "push", "ref": "refs/heads/main", "user_name": "Ada", "project": {"path_with_namespace": "g/p", "web_url": "http://gitlab/g/p"},
         "commits": [{"id": "0123456789abcdef", "message": "engine suite push", "url": "http://gitlab/g/p/-/commit/0123", "author": {"name": "Ada"}}], "total_commits_count": 1})
    p = stack.on_net("sh", "-c", 'printf %s "$0" > /tmp/p && wget -q -O- --header "Content-Type: application/json" '
                     '--header "X-Gitlab-Event: Push Hook" --post-file /tmp/p "$1"', payload, internal)
    assert '"success":true' in p.stdout.replace(" ", ""), p.stdout
    # Read the room as the admin, from the network too.
    login = stack.on_net("wget", "-q", "-O-", "--header", "Content-Type: application/json", "--post-data",
                         json.dumps({"user": ENV["ADMIN_USERNAME"], "password": ENV["ADMIN_PASS"]}),
                         "http://rocketchat:3000/api/v1/login")
    data = json.loads(login.stdout)["data"]
    hist = stack.on_net("wget", "-q", "-O-", "--header", f"X-User-Id: {data['userId']}", "--header",
                        f"X-Auth-Token: {data['authToken']}",
                        f"http://rocketchat:3000/api/v1/channels.history?roomName={ENV['ROCKETCHAT_ROOM']}&count=5")
    msgs = json.loads(hist.stdout)["messages"]
    assert msgs, "no message in the room"
    assert msgs[0]["u"]["username"] == ENV["ROCKETCHAT_USER"], msgs[0]["u"]
    print(f"\n[6] push -> room #{ENV['ROCKETCHAT_ROOM']} as @{msgs[0]['u']['username']}: {msgs[0].get('msg', '')[:60]!r}")
    # The real Hubot's subscription (DDP stream-room-messages over the compose network) got it.
    rid = msgs[0]["rid"]
    t0 = time.monotonic()
    stack.wait_for("Hubot's adapter to receive the push", lambda: RECEIVED + rid in stack.logs("hubot"), 30)
    print(f"[6] the hubot container's adapter logged '{RECEIVED}{rid}' within {time.monotonic() - t0:.1f}s")


def test_10_net_probe_matrix_names_the_broken_link(stack):
    ok = stack.compose("--profile", "diagnose", "run", "--rm", "net-probe", check=False, timeout=60)
    print("\n[10] " + ok.stdout.strip().replace("\n", "\n[10] "))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert len(re.findall(r"^ok ", ok.stdout, re.M)) == 4, ok.stdout
    mongo = stack.cid("mongo")
    run(["docker", "network", "disconnect", stack.network(), mongo])
    try:
        bad = stack.compose("--profile", "diagnose", "run", "--rm", "net-probe", check=False, timeout=60)
        print("[10] after disconnecting mongo:\n[10] " + bad.stdout.strip().replace("\n", "\n[10] "))
        assert bad.returncode == 1, bad.stdout + bad.stderr
        for link in ("mongo-rs-init>mongo:27017", "rocketchat>mongo:27017"):
            assert re.search(rf"^BROKEN {re.escape(link)}\s", bad.stdout, re.M), link
        assert re.search(r"^ok +rc-bootstrap>rocketchat:3000", bad.stdout, re.M)
        assert re.search(r"^ok +hubot>rocketchat:3000", bad.stdout, re.M)
        assert "2 of 4 links broken" in bad.stderr
    finally:
        run(["docker", "network", "connect", "--alias", "mongo", stack.network(), mongo])


def test_5_down_up_keeps_the_set(stack):
    stack.down(volumes=False)
    took = stack.up()
    print(f"\n[5] down + up --wait (volumes kept): {took:.1f}s")
    assert stack.logs("mongo").count(INITIATES) == 0, "the set was initiated again"
    assert stack.health("mongo") == "healthy"
    # rc-sim keeps its state in memory: a new Rocket.Chat container is an empty server here, so
    # the webhook is created anew (a real Rocket.Chat keeps it in MongoDB): only published.
    assert stack.webhook_url().startswith("http://localhost:3000/hooks/")


def test_7_bot_password_rotation_through_env(stack):
    """compose/README.md "Password rotation": the new password in .env, one `up` with
    RC_BOOTSTRAP_FIX_DRIFT=true; without it rc-bootstrap reports the drift (exit 3)."""
    stack.env["ROCKETCHAT_PASSWORD"] = "R0tated-bot-pass"
    drift = stack.compose("run", "--rm", "--no-deps", "rc-bootstrap", check=False, timeout=120)
    assert drift.returncode == 3 and "drift" in (drift.stderr + drift.stdout), drift.stderr
    stack.env["RC_BOOTSTRAP_FIX_DRIFT"] = "true"
    took = stack.up()
    print(f"\n[7] rotation: up --wait with RC_BOOTSTRAP_FIX_DRIFT=true {took:.1f}s; hubot {timings(stack, ['hubot'])['hubot']}")
    assert stack.inspect("rc-bootstrap")["State"]["ExitCode"] == 0
    # The bot's healthcheck (rc-probe, the bot's own credentials) passes with the new password.
    assert stack.health("hubot") == "healthy"
    assert "R0tated-bot-pass" in " ".join(stack.inspect("hubot")["Config"]["Env"])
    # Healthy = connected (rc-probe's presence check); the new Hubot logged in with the new password.
    assert SUBSCRIBED in stack.logs("hubot"), stack.logs("hubot")[-2000:]
    # The admin is not locked out.
    login = stack.on_net("wget", "-q", "-O-", "--header", "Content-Type: application/json", "--post-data",
                         json.dumps({"user": ENV["ADMIN_USERNAME"], "password": ENV["ADMIN_PASS"]}),
                         "http://rocketchat:3000/api/v1/login")
    assert json.loads(login.stdout)["status"] == "success"
    bot = stack.on_net("wget", "-q", "-O-", "--header", "Content-Type: application/json", "--post-data",
                       json.dumps({"user": ENV["ROCKETCHAT_USER"], "password": "R0tated-bot-pass"}),
                       "http://rocketchat:3000/api/v1/login")
    assert json.loads(bot.stdout)["status"] == "success"


def test_8_hubot_healthy_only_while_connected(stack):
    """Rocket.Chat (rc-sim) stopped: hubot turns unhealthy and its entrypoint ends it, the restart
    policy starts it again; Rocket.Chat back: hubot healthy again, nobody touching hubot.

    rc-sim keeps its state in memory, a real Rocket.Chat keeps it in MongoDB. So after the
    emulator's restart the test re-runs the rc-bootstrap container (`docker start`, as `up` would)
    to put back the bot, its room and password — what a real Rocket.Chat would still have. The
    old session token is gone with rc-sim's memory (a real server would accept the resume), so
    the path back is the watchdog's: the adapter's resume is refused, the entrypoint ends the
    container, a fresh Hubot logs in with the password. Shorter health and watchdog periods
    (hubot-fast.yaml, this test only); the shipped ones are 30 s x 3 and 90 s grace. The same
    override turns rc-sim's per-user login block off: until rc-bootstrap has re-created the bot,
    the logins fail "User not found" and would block the bot for 5 minutes, which a real
    Rocket.Chat (the bot kept in MongoDB) never sees. Each probe while rocketchat is stopped
    takes ~8 s (its name no longer resolves on the internal network), hence ~27 s to unhealthy."""
    stack.with_override(HERE / "hubot-fast.yaml")
    stack.up()
    assert stack.health("hubot") == "healthy"
    hubot, rc = stack.cid("hubot"), stack.cid("rocketchat")
    restarts = stack.inspect("hubot")["RestartCount"]
    t0 = time.monotonic()
    run(["docker", "stop", "-t", "5", rc])
    # "unhealthy" (health checks failed), or already restarted by its entrypoint.
    seen = stack.wait_for("hubot unhealthy", lambda: "restarted" if stack.inspect("hubot")["RestartCount"] > restarts
                          else stack.health("hubot") == "unhealthy" and "unhealthy", 60, every=0.5)
    t_unhealthy = time.monotonic() - t0
    stack.wait_for("the entrypoint to end hubot (restart policy)",
                   lambda: stack.inspect("hubot")["RestartCount"] > restarts, 90, every=0.5)
    t_restart = time.monotonic() - t0
    assert "Hubot is not healthy: stopping it" in stack.logs("hubot")
    print(f"\n[8] rocketchat stopped: hubot {seen} after {t_unhealthy:.1f}s, restarted by its entrypoint after {t_restart:.1f}s")
    # Down long enough for more than one watchdog round: the restarted Hubot cannot connect either.
    stack.wait_for("hubot not healthy while Rocket.Chat is down", lambda: stack.health("hubot") != "healthy", 5)
    t1 = time.monotonic()
    run(["docker", "start", rc])
    run(["docker", "start", stack.cid("rc-bootstrap")])
    stack.wait_for("rc-bootstrap exit 0", lambda: (lambda st: st["Status"] == "exited" and st["ExitCode"] == 0)(
        stack.inspect("rc-bootstrap")["State"]), 60, every=0.5)
    stack.wait_for("hubot healthy again", lambda: stack.health("hubot") == "healthy", 150, every=0.5)
    print(f"[8] rocketchat started: hubot healthy again {time.monotonic() - t1:.1f}s later"
          f" ({stack.inspect('hubot')['RestartCount'] - restarts} restarts by the policy)")
    assert stack.cid("hubot") == hubot, "hubot was recreated: the restart policy should have restarted it"
    assert stack.logs("hubot").count(SUBSCRIBED) >= 1
