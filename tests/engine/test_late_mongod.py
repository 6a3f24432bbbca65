"""Scenario 2: mongod listening late. mongo-rs-init gives up (exit 1) before mongod listens, the
engine restarts it (restart: on-failure) until it exits 0, and Rocket.Chat's container starts
only after mongo is healthy (docker inspect timestamps)."""

from stack import HERE, Stack, first_healthy, timings, ts

import pytest


@pytest.fixture(scope="module")
def stack():
    s = Stack("coq-engine-late").with_override(HERE / "late.yaml")
    s.down()
    yield s
    s.down()


def test_2_late_mongod_init_restarted_and_rocketchat_after_healthy(stack):
    took = stack.up()
    init = stack.inspect("mongo-rs-init")
    print(f"\n[2] late mongod: up --wait {took:.1f}s; mongo-rs-init restarts: {init['RestartCount']}")
    for svc, t in timings(stack, ["mongo", "mongo-rs-init", "rocketchat"]).items():
        print(f"[2]   {svc}: {t}")
    assert init["RestartCount"] >= 1, "mongo-rs-init never failed: the delay did not bite"
    assert init["State"]["ExitCode"] == 0
    log = stack.logs("mongo-rs-init")
    assert "refused the connection" in log or "timed out" in log, log
    assert log.count("to answer (deadline 2s)") == init["RestartCount"] + 1, log
    first_ok = first_healthy(stack, "mongo")
    rc_started = ts(stack.inspect("rocketchat")["State"]["StartedAt"])
    print(f"[2]   rocketchat started {rc_started - first_ok:.2f}s after mongo's first healthy check")
    assert rc_started >= first_ok
    assert rc_started >= ts(init["State"]["FinishedAt"])
