"""Fidelity of sims/mongo-sim checked with the real PyPI driver (pymongo).

Binary: $MONGO_SIM_BIN, default <repo>/target/debug/mongo-sim (build: cargo build -p mongo-sim).
"""

import json
import os
import queue
import socket
import subprocess
import threading
import time
from pathlib import Path

import pymongo
import pytest
from pymongo import MongoClient
from pymongo.errors import NotPrimaryError, OperationFailure

REPO = Path(__file__).resolve().parents[2]
SIM = Path(os.environ.get("MONGO_SIM_BIN", REPO / "target" / "debug" / "mongo-sim"))
TIMEOUT_MS = 5000


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class Sim:
    """A running mongo-sim process; its JSON log lines are collected in a background thread."""

    def __init__(self, args, listeners):
        if not SIM.is_file():
            pytest.fail(f"mongo-sim binary not found at {SIM}: run `cargo build -p mongo-sim` "
                        "or set MONGO_SIM_BIN", pytrace=False)
        self.proc = subprocess.Popen([str(SIM), *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = []
        self._q = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.wait_log(lambda l: l.get("msg") == "Waiting for connections", count=listeners)

    def _pump(self):
        for raw in self.proc.stdout:
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            self.lines.append(obj)
            self._q.put(obj)

    def wait_log(self, pred, count=1, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            hits = [l for l in list(self.lines) if pred(l)]
            if len(hits) >= count:
                return hits
            if self.proc.poll() is not None:
                pytest.fail(f"mongo-sim exited with {self.proc.returncode}: {self.proc.stderr.read()}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for log lines; have {self.lines[-5:]}")
            time.sleep(0.02)

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def start_sim():
    sims = []

    def start(*args, listeners):
        sim = Sim(list(args), listeners)
        sims.append(sim)
        return sim

    try:
        yield start
    finally:
        for s in sims:
            s.stop()


def members_args(ports):
    out = []
    for p in ports:
        out += ["--member", f"127.0.0.1:{p}"]
    return out


def direct(port, **kw):
    return MongoClient("127.0.0.1", port, directConnection=True,
                       serverSelectionTimeoutMS=TIMEOUT_MS, connectTimeoutMS=TIMEOUT_MS, **kw)


def rs_config(ports, name="rs0"):
    return {"_id": name, "members": [{"_id": i, "host": f"127.0.0.1:{p}"} for i, p in enumerate(ports)]}


def wait_writable(port, timeout=10.0, **kw):
    c = direct(port, **kw)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if c.admin.command("hello").get("isWritablePrimary"):
                return
            time.sleep(0.05)
        pytest.fail(f"127.0.0.1:{port} never became a writable primary")
    finally:
        c.close()


def test_handshake_and_ghost_status(start_sim):
    (p,) = free_ports(1)
    start_sim(*members_args([p]), "--repl-set", "rs0", listeners=1)
    c = direct(p)
    try:
        hello = c.admin.command("hello")
        assert hello["isWritablePrimary"] is False
        assert hello["isreplicaset"] is True
        assert hello["info"] == "Does not have a valid replica set config"
        assert hello["maxWireVersion"] == 21
        assert "setName" not in hello
        assert c.admin.command("ping")["ok"] == 1.0
        assert c.admin.command("buildInfo")["version"].startswith("7.0")
        with pytest.raises(OperationFailure) as e:
            c.admin.command("replSetGetStatus")
        assert e.value.code == 94
        assert e.value.details["codeName"] == "NotYetInitialized"
        # generateErrorResponse resets the reply builder: no `info` on the 7.0 error reply.
        assert "info" not in e.value.details
        with pytest.raises(OperationFailure) as e:
            c.admin.command("frobnicate")
        assert e.value.code == 59
    finally:
        c.close()


def test_initiate_discovery_and_crud(start_sim):
    ports = free_ports(3)
    sim = start_sim(*members_args(ports), "--repl-set", "rs0", listeners=3)
    c = direct(ports[0])
    try:
        assert c.admin.command("replSetInitiate", rs_config(ports))["ok"] == 1.0
        with pytest.raises(OperationFailure) as e:
            c.admin.command("replSetInitiate", rs_config(ports))
        assert e.value.code == 23
        assert str(e.value.details["errmsg"]) == "already initialized"
    finally:
        c.close()
    received = sim.wait_log(lambda l: l.get("msg") == "replSetInitiate admin command received from client", count=2)
    assert len(received) == 2
    sim.wait_log(lambda l: l.get("msg") == "Transition to primary complete; database writes are now permitted")

    rs = MongoClient(f"mongodb://127.0.0.1:{ports[1]}/?replicaSet=rs0",
                     serverSelectionTimeoutMS=TIMEOUT_MS)
    try:
        rs.admin.command("ping")
        deadline = time.monotonic() + 10
        while (rs.primary is None or len(rs.secondaries) < 2) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rs.primary == ("127.0.0.1", ports[0])
        assert rs.secondaries == {("127.0.0.1", ports[1]), ("127.0.0.1", ports[2])}
        coll = rs.test.things
        res = coll.insert_one({"name": "coquelicot", "n": 1})
        assert res.acknowledged
        got = coll.find_one({"name": "coquelicot"})
        assert got["n"] == 1 and got["_id"] == res.inserted_id
        assert coll.find_one({"name": "absent"}) is None
        status = rs.admin.command("replSetGetStatus")
        assert status["set"] == "rs0"
        assert sorted(m["stateStr"] for m in status["members"]) == ["PRIMARY", "SECONDARY", "SECONDARY"]
        cfg = rs.admin.command("replSetGetConfig")["config"]
        assert [m["host"] for m in cfg["members"]] == [f"127.0.0.1:{p}" for p in ports]
    finally:
        rs.close()

    sec = direct(ports[1], retryWrites=False)
    try:
        with pytest.raises(NotPrimaryError) as e:
            sec.test.things.insert_one({"x": 1})
        assert e.value.details["code"] == 10107
    finally:
        sec.close()


def test_auth_scram(start_sim, tmp_path):
    (p,) = free_ports(1)
    users = tmp_path / "users"
    users.write_text("admin:s3cret-pw\nmonitor:mon-pw:clusterMonitor\n")
    start_sim(*members_args([p]), "--repl-set", "rs0", "--auth", "--users-file", str(users), listeners=1)

    anon = direct(p)
    try:
        assert anon.admin.command("ping")["ok"] == 1.0
        with pytest.raises(OperationFailure) as e:
            anon.admin.command("replSetGetStatus")
        assert e.value.code == 13
        hello = anon.admin.command("hello", saslSupportedMechs="admin.admin")
        assert "SCRAM-SHA-256" in hello["saslSupportedMechs"]
    finally:
        anon.close()

    bad = direct(p, username="admin", password="wrong", authSource="admin",
                 authMechanism="SCRAM-SHA-256")
    try:
        with pytest.raises(OperationFailure) as e:
            bad.admin.command("ping")
        assert e.value.code == 18
    finally:
        bad.close()

    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-1"):
        good = direct(p, username="admin", password="s3cret-pw", authSource="admin", authMechanism=mech)
        try:
            with pytest.raises(OperationFailure) as e:
                good.admin.command("replSetGetStatus")
            assert e.value.code == 94  # authenticated now, set not initiated yet
        finally:
            good.close()

    # Negotiated mechanism (no authMechanism) goes through saslSupportedMechs.
    nego = direct(p, username="admin", password="s3cret-pw")
    try:
        assert nego.admin.command("replSetInitiate")["ok"] == 1.0
    finally:
        nego.close()

    mon = direct(p, username="monitor", password="mon-pw")
    try:
        with pytest.raises(OperationFailure) as e:
            mon.admin.command("replSetReconfig", {"_id": "rs0", "version": 2, "members": []})
        assert e.value.code == 13
        assert "not authorized on admin to execute command" in e.value.details["errmsg"]
    finally:
        mon.close()


def test_restart_with_data_dir_keeps_set(start_sim, tmp_path):
    ports = free_ports(2)
    args = [*members_args(ports), "--repl-set", "rs0", "--data-dir", str(tmp_path)]
    sim = start_sim(*args, listeners=2)
    c = direct(ports[0])
    try:
        c.admin.command("replSetInitiate", rs_config(ports))
    finally:
        c.close()
    wait_writable(ports[0])
    sim.stop()

    sim2 = start_sim(*args, listeners=2)
    wait_writable(ports[0])
    c = direct(ports[1])
    try:
        status = c.admin.command("replSetGetStatus")
        assert status["set"] == "rs0"
        with pytest.raises(OperationFailure) as e:
            c.admin.command("replSetInitiate", rs_config(ports))
        assert e.value.code == 23
    finally:
        c.close()
    assert any(l.get("msg") == "Replica set state transition" and l["attr"]["newState"] == "STARTUP2"
               for l in sim2.lines)


def test_restart_with_another_set_name_is_removed_to_pymongo(start_sim, tmp_path):
    """_finishLoadLocalConfig: a stored set name other than --replSet keeps the config with
    myIndex -1 (warning 21406): REMOVED, a ghost to SDAM, 93 from replSetGetStatus, 23 from
    replSetInitiate."""
    ports = free_ports(2)
    sim = start_sim(*members_args(ports), "--repl-set", "rs0", "--data-dir", str(tmp_path), listeners=2)
    c = direct(ports[0])
    try:
        c.admin.command("replSetInitiate", rs_config(ports))
    finally:
        c.close()
    wait_writable(ports[0])
    sim.stop()

    sim2 = start_sim(*members_args(ports), "--repl-set", "rs1", "--data-dir", str(tmp_path), listeners=2)
    (warn,) = sim2.wait_log(lambda l: l.get("id") == 21406)
    assert warn["attr"] == {"localConfigSetName": "rs0", "commandLineSetName": "rs1"}
    c = direct(ports[0])
    try:
        assert server_type(c) == "RSGhost"
        with pytest.raises(OperationFailure) as e:
            c.admin.command("replSetGetStatus")
        assert e.value.code == 93
        with pytest.raises(OperationFailure) as e:
            c.admin.command("replSetInitiate", rs_config(ports, name="rs1"))
        assert (e.value.code, e.value.details["errmsg"]) == (23, "already initialized")
        assert "info" not in e.value.details
    finally:
        c.close()


def test_reconfig_self_missing_74_not_electable_104_limits_103(start_sim):
    ports = free_ports(2)
    start_sim(*members_args(ports), "--repl-set", "rs0", listeners=2)
    c = direct(ports[0])
    try:
        c.admin.command("replSetInitiate", rs_config(ports[:1]))
        wait_writable(ports[0])
        cfg = get_config(c)["config"]
        me, other = f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}"
        cases = [
            ([{"_id": 1, "host": other}], 74,
             f"No host described in new configuration with {{version: 2, term: 1}} for replica set rs0 maps to this node"),
            ([{"_id": 0, "host": me, "priority": 0}, {"_id": 1, "host": other}], 104,
             f"This node, {me}, with _id MemberId(0) is not electable under the new configuration with {{version: 2, term: 1}} for replica set rs0"),
            ([{"_id": 0, "host": me}, {"_id": 0, "host": other}], 103,
             "Found two member configurations with same _id field, members.0._id == members.1._id == 0"),
            ([{"_id": 0, "host": me}, {"_id": 1, "host": other, "votes": 0}], 93,
             "priority must be 0 when non-voting (votes:0)"),
            ([{"_id": 0}], 93, "BSON field 'MemberConfig.host' is missing but a required field"),
        ]
        for members, code, errmsg in cases:
            with pytest.raises(OperationFailure) as e:
                c.admin.command("replSetReconfig", {**cfg, "version": 2, "members": members})
            assert (e.value.code, e.value.details["errmsg"]) == (code, errmsg)
    finally:
        c.close()


def test_host_that_does_not_map_gives_93(start_sim):
    (p,) = free_ports(1)
    start_sim(*members_args([p]), "--repl-set", "rs0", listeners=1)
    c = direct(p)
    try:
        with pytest.raises(OperationFailure) as e:
            c.admin.command("replSetInitiate", {"_id": "rs0", "members": [{"_id": 0, "host": "elsewhere:27017"}]})
        assert e.value.code == 93
        assert e.value.details["errmsg"] == (
            "No host described in new configuration with {version: 1, term: 0} for replica set rs0 maps to this node")
    finally:
        c.close()


def test_unreachable_member_gives_74(start_sim):
    ports = free_ports(2)
    start_sim(*members_args(ports), "--repl-set", "rs0", "--down", f"127.0.0.1:{ports[1]}", listeners=1)
    c = direct(ports[0])
    try:
        with pytest.raises(OperationFailure) as e:
            c.admin.command("replSetInitiate", rs_config(ports))
        assert e.value.code == 74
        assert f"127.0.0.1:{ports[1]} failed with" in e.value.details["errmsg"]
    finally:
        c.close()


def test_standalone_gives_76(start_sim):
    (p,) = free_ports(1)
    sim = start_sim(*members_args([p]), listeners=1)
    c = direct(p)
    try:
        assert c.admin.command("hello")["isWritablePrimary"] is True
        with pytest.raises(OperationFailure) as e:
            c.admin.command("replSetInitiate", rs_config([p]))
        assert e.value.code == 76
        assert e.value.details["errmsg"] == "This node was not started with replication enabled."
        c.test.c.insert_one({"a": 1})
        assert c.test.c.find_one({"a": 1})["a"] == 1
    finally:
        c.close()
    # CmdReplSetInitiate::run answers 76 before processReplSetInitiate logs 21356.
    assert not any(l.get("id") == 21356 for l in sim.lines)


def test_reconfig_refused_by_the_commitment_precheck_logs_no_21352(start_sim):
    ports = free_ports(2)
    sim = start_sim(*members_args(ports), "--repl-set", "rs0", listeners=2)
    c = direct(ports[0])
    try:
        c.admin.command("replSetInitiate", rs_config(ports))
    finally:
        c.close()
    wait_writable(ports[0])
    s = direct(ports[1])
    try:
        deadline = time.monotonic() + 5
        while not s.admin.command("hello").get("secondary") and time.monotonic() < deadline:
            time.sleep(0.05)
        cfg = get_config(s)["config"]
        with pytest.raises(NotPrimaryError) as e:
            s.admin.command("replSetReconfig", {**cfg, "version": cfg["version"] + 1})
        assert e.value.details["code"] == 10107
        assert e.value.details["errmsg"].startswith("New config is rejected :: caused by :: ")
    finally:
        s.close()
    sim.wait_log(lambda l: l.get("msg") == "replSetReconfig failed (mongo-sim)")
    assert not any(l.get("id") == 21352 for l in sim.lines)


def test_pymongo_version_is_pinned():
    # Guards against silently testing with another driver than tests/requirements.txt pins.
    pinned = [l for l in (REPO / "tests" / "requirements.txt").read_text().splitlines() if l.startswith("pymongo==")]
    assert pinned and pinned[0].split("==")[1] == pymongo.version


def get_config(c, **kw):
    return c.admin.command({"replSetGetConfig": 1, **kw})


def test_reconfig_marks_new_member_newly_added_until_secondary(start_sim):
    # replication_coordinator_impl.cpp: a voter added by reconfig gets newlyAdded (no vote, not
    # shown by replSetGetConfig); an automatic reconfig (version + 1) drops it once SECONDARY.
    ports = free_ports(2)
    sim = start_sim(*members_args(ports), "--repl-set", "rs0", "--startup2-delay", "300ms",
                    "--election-delay", "50ms", "--drain-delay", "50ms",
                    "--config-commit-delay", "50ms", listeners=2)
    c = direct(ports[0])
    try:
        c.admin.command("replSetInitiate", rs_config(ports[:1]))
        wait_writable(ports[0])
        assert get_config(c, commitmentStatus=True)["commitmentStatus"] is True
        cfg = get_config(c)["config"]
        cfg["version"] += 1
        cfg["members"].append({"_id": 1, "host": f"127.0.0.1:{ports[1]}"})
        bad = {**cfg, "members": [*cfg["members"][:1], {**cfg["members"][1], "newlyAdded": True}]}
        with pytest.raises(OperationFailure) as e:
            c.admin.command("replSetReconfig", bad)
        assert e.value.code == 93
        assert e.value.details["errmsg"] == "Cannot provide newlyAdded field to member config during reconfig."
        c.admin.command("replSetReconfig", cfg)
        shown = get_config(c)["config"]
        assert shown["version"] == 2
        assert all("newlyAdded" not in m for m in shown["members"])
        status = c.admin.command("replSetGetStatus")
        assert status["votingMembersCount"] == 1  # the newlyAdded member does not vote yet
        assert f"127.0.0.1:{ports[1]}" in c.admin.command("hello").get("passives", [])
        sim.wait_log(lambda l: l.get("id") == 4634400)
        sim.wait_log(lambda l: l.get("msg") == "Beginning automatic reconfig to remove 'newlyAdded' config field")
        deadline = time.monotonic() + 10
        while get_config(c)["config"]["version"] < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        after = get_config(c)["config"]
        assert after["version"] == 3 and after["term"] == shown["term"]
        deadline = time.monotonic() + 10
        while c.admin.command("replSetGetStatus")["votingMembersCount"] != 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        s = direct(ports[1])
        try:
            # pymongo raises NotPrimaryError for 10107, as it would against mongod.
            with pytest.raises(NotPrimaryError) as e:
                get_config(s, commitmentStatus=True)
            assert e.value.details["code"] == 10107
            assert e.value.details["errmsg"] == "commitmentStatus is only supported on primary."
        finally:
            s.close()
    finally:
        c.close()


def test_reconfig_in_progress_109_and_uncommitted_308(start_sim):
    ports = free_ports(3)
    start_sim(*members_args(ports), "--repl-set", "rs0", "--startup2-delay", "20ms",
              "--election-delay", "50ms", "--drain-delay", "50ms",
              "--config-commit-delay", "800ms", "--quorum-check-delay", "400ms", listeners=3)
    c = direct(ports[0], socketTimeoutMS=10000)
    try:
        c.admin.command("replSetInitiate", rs_config(ports))
        wait_writable(ports[0])
        base = get_config(c)["config"]

        def version(v):
            return {**base, "version": v}

        done = queue.Queue()
        first = threading.Thread(target=lambda: done.put(c.admin.command("replSetReconfig", version(2))))
        first.start()
        time.sleep(0.15)
        with pytest.raises(OperationFailure) as e:
            c.admin.command("replSetReconfig", version(3))
        assert e.value.code == 109
        assert e.value.details["codeName"] == "ConfigurationInProgress"
        assert e.value.details["errmsg"] == (
            "Cannot run replSetReconfig because the node is currently updating its configuration")
        deadline = time.monotonic() + 10
        while get_config(c)["config"]["version"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert get_config(c, commitmentStatus=True)["commitmentStatus"] is False
        with pytest.raises(OperationFailure) as e:
            c.admin.command({"replSetReconfig": version(3), "maxTimeMS": 100})
        assert e.value.code == 308
        assert e.value.details["codeName"] == "CurrentConfigNotCommittedYet"
        assert e.value.details["errmsg"] == (
            "New config is rejected :: caused by :: Current config with {version: 2, term: 1} has not "
            "yet propagated to a majority of nodes :: caused by :: operation exceeded time limit")
        first.join(timeout=10)
        assert done.get(timeout=1)["ok"] == 1.0  # answered once version 2 is committed
        assert get_config(c, commitmentStatus=True)["commitmentStatus"] is True
    finally:
        c.close()


def server_type(client):
    """The SDAM server type pymongo's monitor derived from the member's hello."""
    from pymongo.server_type import SERVER_TYPE

    client.admin.command("ping")
    (sd,) = client.topology_description.server_descriptions().values()
    names = {v: k for k, v in SERVER_TYPE._asdict().items()}
    return names[sd.server_type]


def test_pymongo_sees_arbiter_recovering_and_rollback_as_such(start_sim):
    ports = free_ports(4)
    start_sim(*members_args(ports), "--repl-set", "rs0",
              "--member-state", f"127.0.0.1:{ports[1]}=ARBITER",
              "--member-state", f"127.0.0.1:{ports[2]}=RECOVERING",
              "--member-state", f"127.0.0.1:{ports[3]}=ROLLBACK",
              "--election-delay", "50ms", "--drain-delay", "50ms", listeners=4)
    c = direct(ports[0])
    try:
        c.admin.command("replSetInitiate", rs_config(ports))
    finally:
        c.close()
    wait_writable(ports[0])
    clients = [direct(p) for p in ports]
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            states = c_states = [cl.admin.command("hello") for cl in clients]
            if states[1].get("arbiterOnly") and not states[2].get("isreplicaset"):
                break
            time.sleep(0.05)
        assert server_type(clients[0]) == "RSPrimary"
        assert server_type(clients[1]) == "RSArbiter"
        # RECOVERING and ROLLBACK: setName but neither primary, secondary nor arbiter.
        assert server_type(clients[2]) == "RSOther"
        assert server_type(clients[3]) == "RSOther"
        status = clients[0].admin.command("replSetGetStatus")
        assert [m["stateStr"] for m in status["members"]] == ["PRIMARY", "ARBITER", "RECOVERING", "ROLLBACK"]
        assert c_states[1]["arbiters"] == [f"127.0.0.1:{ports[1]}"]
    finally:
        for cl in clients:
            cl.close()


def test_removed_member_by_flag_is_a_ghost_to_pymongo(start_sim):
    ports = free_ports(2)
    start_sim(*members_args(ports), "--repl-set", "rs0",
              "--member-state", f"127.0.0.1:{ports[1]}=REMOVED", listeners=2)
    c = direct(ports[0])
    try:
        c.admin.command("replSetInitiate", rs_config(ports))
    finally:
        c.close()
    wait_writable(ports[0])
    r = direct(ports[1])
    try:
        deadline = time.monotonic() + 5
        while r.admin.command("hello").get("isreplicaset") is not True and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server_type(r) == "RSGhost"
        with pytest.raises(OperationFailure) as e:
            r.admin.command("replSetGetStatus")
        assert e.value.code == 93
    finally:
        r.close()


def test_drain_mode_is_a_secondary_to_pymongo_and_primary_names_itself(start_sim):
    (p,) = free_ports(1)
    start_sim(*members_args([p]), "--repl-set", "rs0", "--election-delay", "10ms",
              "--drain-delay", "30s", listeners=1)
    c = direct(p)
    try:
        c.admin.command("replSetInitiate", {})
        deadline = time.monotonic() + 5
        while c.admin.command("replSetGetStatus")["myState"] != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        hello = c.admin.command("hello")
        assert hello["isWritablePrimary"] is False and hello["secondary"] is True
        assert hello["primary"] == hello["me"]
        assert server_type(c) == "RSSecondary"
        with pytest.raises(NotPrimaryError) as e:
            c.test.t.insert_one({"x": 1})
        assert "topologyVersion" in e.value.details
    finally:
        c.close()


def test_cluster_time_gossip_and_status_types(start_sim, tmp_path):
    ports = free_ports(2)
    start_sim(*members_args(ports), "--repl-set", "rs0", "--auth", "--user", "root:pw",
              "--user", "mon:pw:clusterMonitor", listeners=2)
    root = direct(ports[0], username="root", password="pw")
    try:
        root.admin.command("replSetInitiate", rs_config(ports))
        wait_writable(ports[0], username="root", password="pw")
        hello = root.admin.command("hello")
        # root may advance the clock: a dummy signature.
        assert hello["$clusterTime"]["signature"]["keyId"] == 0
        assert hello["operationTime"] == hello["$clusterTime"]["clusterTime"]
        status = root.admin.command("replSetGetStatus")
        me = status["members"][0]
        assert isinstance(me["uptime"], int) and isinstance(me["configVersion"], int)
        for k in ("optime", "optimeDate", "syncSourceHost", "infoMessage", "configTerm", "electionDate"):
            assert k in me, k
        other = status["members"][1]
        for k in ("lastHeartbeat", "lastHeartbeatRecv", "pingMs", "optimeDurable", "syncSourceHost"):
            assert k in other, k
        assert other["syncSourceHost"] == f"127.0.0.1:{ports[0]}"
        config = root.admin.command("replSetGetConfig")["config"]
        assert isinstance(config["term"], int)
        set_id = config["settings"]["replicaSetId"]
    finally:
        root.close()
    mon = direct(ports[0], username="mon", password="pw")
    try:
        signed = mon.admin.command("hello")["$clusterTime"]["signature"]
        assert signed["keyId"] != 0 and len(signed["hash"]) == 20 and any(signed["hash"])
    finally:
        mon.close()
    assert set_id is not None


def test_pymongo_streaming_monitor_sees_the_new_primary_without_waiting_for_a_heartbeat(start_sim):
    """pymongo 4 monitors with the SDAM streaming protocol (awaitable hello, exhaustAllowed):
    with a 60 s heartbeat it can only see the election promptly if the emulator answers the
    awaitable hello when the topology changes (_getHelloResponseFuture)."""
    (p,) = free_ports(1)
    start_sim(*members_args([p]), "--repl-set", "rs0", listeners=1)
    c = direct(p, heartbeatFrequencyMS=60000)
    try:
        c.admin.command("ping")  # the monitor now streams from the ghost's topologyVersion
        c.admin.command("replSetInitiate", {})
        from pymongo.server_type import SERVER_TYPE

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            (sd,) = c.topology_description.server_descriptions().values()
            if sd.server_type == SERVER_TYPE.RSPrimary:
                break
            time.sleep(0.05)
        assert sd.server_type == SERVER_TYPE.RSPrimary, sd
    finally:
        c.close()


# ------------------------------------------------------------------ TLS, X.509, SCRAM-SHA-1
# pymongo against mongo-sim's TLS listener as against a mongod with net.tls.mode requireTLS,
# net.tls.CAFile and MONGODB-X509 users. Certificates are generated here with the openssl CLI.

X509_SUBJECT = "CN=pyclient,OU=Ops,O=Coquelicot"


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture
def pki(tmp_path):
    d = tmp_path
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "2", "-subj", "/CN=Fidelity Test CA", cwd=d)
    for name, subj, ext in [
        ("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ("client", "/O=Coquelicot/OU=Ops/CN=pyclient", "extendedKeyUsage=clientAuth"),
    ]:
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", subj, cwd=d)
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=d)
        (d / f"{name}.pem").write_text((d / f"{name}.crt").read_text() + (d / f"{name}.key").read_text())
    return d


def test_pymongo_tls_and_x509_as_against_mongod(start_sim, pki):
    (p,) = free_ports(1)
    sim = start_sim(*members_args([p]), "--repl-set", "rs0", "--auth",
                    "--tls-cert-key-file", str(pki / "server.pem"), "--tls-ca-file", str(pki / "ca.pem"),
                    "--x509-user", X509_SUBJECT, listeners=1)
    assert sim.wait_log(lambda l: l.get("msg") == "Waiting for connections")[0]["attr"]["ssl"] == "on"
    c = MongoClient(f"mongodb://localhost:{p}/?directConnection=true&tls=true"
                    f"&tlsCAFile={pki / 'ca.pem'}&tlsCertificateKeyFile={pki / 'client.pem'}"
                    "&authMechanism=MONGODB-X509",
                    serverSelectionTimeoutMS=TIMEOUT_MS, connectTimeoutMS=TIMEOUT_MS)
    try:
        # Authenticated as the certificate's subject: a command that needs auth runs.
        c.admin.command("replSetInitiate", rs_config([p]))
        hits = sim.wait_log(lambda l: l.get("msg") == "Successfully authenticated")
        assert hits[0]["attr"]["user"] == X509_SUBJECT
        assert hits[0]["attr"]["db"] == "$external"
    finally:
        c.close()
    # An explicit user that is not the certificate's subject: refused as mongod does.
    c = MongoClient(f"mongodb://CN%3Dsomebody@localhost:{p}/?directConnection=true&tls=true"
                    f"&tlsCAFile={pki / 'ca.pem'}&tlsCertificateKeyFile={pki / 'client.pem'}"
                    "&authMechanism=MONGODB-X509",
                    serverSelectionTimeoutMS=TIMEOUT_MS, connectTimeoutMS=TIMEOUT_MS)
    try:
        with pytest.raises(OperationFailure) as e:
            c.admin.command("ping")
        assert e.value.code == 18
    finally:
        c.close()
    # No client certificate: as mongod, the handshake completes, then the member logs the
    # refusal and closes (pymongo sees a network error, server selection times out).
    c = MongoClient(f"mongodb://localhost:{p}/?directConnection=true&tls=true&tlsCAFile={pki / 'ca.pem'}",
                    serverSelectionTimeoutMS=1000, connectTimeoutMS=1000)
    try:
        with pytest.raises(pymongo.errors.ServerSelectionTimeoutError):
            c.admin.command("ping")
    finally:
        c.close()
    hits = sim.wait_log(lambda l: l.get("id") == 22988 and isinstance(l["attr"].get("error"), dict))
    assert hits[0]["attr"]["error"] == {"code": 141, "codeName": "SSLHandshakeFailed",
                                        "errmsg": "no SSL certificate provided by peer; connection rejected"}


def test_pymongo_refuses_the_sim_certificate_without_the_ca(start_sim, pki):
    (p,) = free_ports(1)
    # mongod 7.0.6+ needs a CA file to serve TLS at all; clients without a certificate in.
    start_sim(*members_args([p]), "--tls-cert-key-file", str(pki / "server.pem"),
              "--tls-ca-file", str(pki / "ca.pem"), "--tls-allow-connections-without-certificates",
              listeners=1)
    c = MongoClient(f"mongodb://localhost:{p}/?directConnection=true&tls=true",
                    serverSelectionTimeoutMS=1000, connectTimeoutMS=1000)
    try:
        with pytest.raises(pymongo.errors.ServerSelectionTimeoutError) as e:
            c.admin.command("ping")
        assert "certificate verify failed" in str(e.value)
    finally:
        c.close()
    ok = MongoClient(f"mongodb://localhost:{p}/?directConnection=true&tls=true&tlsCAFile={pki / 'ca.pem'}",
                     serverSelectionTimeoutMS=TIMEOUT_MS)
    try:
        assert ok.admin.command("ping")["ok"] == 1.0
    finally:
        ok.close()


def test_pymongo_tls_to_a_plain_sim_is_refused_like_mongod(start_sim, pki):
    (p,) = free_ports(1)
    sim = start_sim(*members_args([p]), listeners=1)
    c = MongoClient(f"mongodb://localhost:{p}/?directConnection=true&tls=true&tlsCAFile={pki / 'ca.pem'}",
                    serverSelectionTimeoutMS=1000, connectTimeoutMS=1000)
    try:
        with pytest.raises(pymongo.errors.ServerSelectionTimeoutError):
            c.admin.command("ping")
    finally:
        c.close()
    hits = sim.wait_log(lambda l: "SSLHandshakeFailed" in json.dumps(l.get("attr", {})))
    assert "without SSL support" in json.dumps(hits[0])


def test_pymongo_negotiates_scram_sha1_for_a_sha1_only_user(start_sim):
    (p,) = free_ports(1)
    sim = start_sim(*members_args([p]), "--auth", "--user", "old:Sha1pw:root",
                    "--user-mechanisms", "SCRAM-SHA-1", listeners=1)
    c = direct(p, username="old", password="Sha1pw", authSource="admin")
    try:
        assert c.admin.command("listDatabases")["ok"] == 1.0
    finally:
        c.close()
    hits = sim.wait_log(lambda l: l.get("msg") == "Authentication succeeded")
    assert hits[0]["attr"]["mechanism"] == "SCRAM-SHA-1"
    c = direct(p, username="old", password="Sha1pw", authSource="admin", authMechanism="SCRAM-SHA-256")
    try:
        with pytest.raises(OperationFailure) as e:
            c.admin.command("listDatabases")
        assert e.value.code == 334
    finally:
        c.close()
