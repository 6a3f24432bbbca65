"""mongodb+srv:// seed lists: pymongo (the real driver, with dnspython) and our mongo-rs-init /
mongo-rs-probe resolve the same records from the same real DNS server (dnsmasq on a loopback
port) and must agree on the seed list, the TXT options, the URI overriding TXT, and on which
records are refused (MongoDB's Initial DNS Seedlist Discovery spec; crates/mongo-wire/src/srv.rs).

Binaries: $MONGO_SIM_BIN (default <repo>/target/debug/mongo-sim); mongo-rs-init and
mongo-rs-probe from the same directory. dnsmasq: Debian's dnsmasq-base (scripts/test installs it).
"""

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import dns.resolver
import pytest
from pymongo.errors import ConfigurationError
from pymongo.uri_parser import parse_uri

REPO = Path(__file__).resolve().parents[2]
SIM = Path(os.environ.get("MONGO_SIM_BIN", REPO / "target" / "debug" / "mongo-sim"))
BIN = SIM.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dnsmasq_bin():
    found = shutil.which("dnsmasq") or next(
        (p for p in ("/usr/sbin/dnsmasq",) if Path(p).is_file()), None)
    if not found:
        pytest.fail("dnsmasq is missing: apt-get install dnsmasq-base", pytrace=False)
    return found


@pytest.fixture
def dns_server(tmp_path):
    """Starts dnsmasq with the given records; points dnspython and our binaries at it."""
    procs = []
    saved = dns.resolver.default_resolver

    def start(records):
        port = free_port()
        proc = subprocess.Popen(
            [dnsmasq_bin(), "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
             "--no-hosts", "--pid-file", "--bind-interfaces", "--listen-address=127.0.0.1",
             "--log-facility=-", "--local=/0.0.1/", "--local=/example.test/",
             f"--port={port}", *records],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        deadline = time.monotonic() + 10
        while "started, version" not in proc.stderr.readline():
            assert time.monotonic() < deadline and proc.poll() is None, "dnsmasq did not start"
        # dnspython's own configuration, as its docs describe: no /etc/resolv.conf.
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = ["127.0.0.1"]
        r.port = port
        dns.resolver.default_resolver = r
        conf = tmp_path / "resolv.conf"
        conf.write_text(f"nameserver [127.0.0.1]:{port}\n")
        return {"MONGO_RESOLV_CONF": str(conf)}

    yield start
    dns.resolver.default_resolver = saved
    for p in procs:
        p.kill()
        p.wait(timeout=10)


@pytest.fixture
def sim():
    procs = []

    def start(n, set_name="rs0"):
        if not SIM.is_file():
            pytest.fail(f"mongo-sim not found at {SIM}: cargo build --workspace", pytrace=False)
        ports = [free_port() for _ in range(n)]
        args = [str(SIM), "--repl-set", set_name]
        for p in ports:
            args += ["--member", f"127.0.0.1:{p}"]
        procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        for p in ports:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", p), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, f"mongo-sim did not listen on {p}"
                    time.sleep(0.02)
        return ports

    yield start
    for p in procs:
        p.kill()
        p.wait(timeout=10)


def ours(binary, uri, env, *args):
    full = {k: v for k, v in os.environ.items() if not k.startswith("MONGO_")}
    full.update(env)
    return subprocess.run([str(BIN / binary), "--uri", uri, *args], env=full,
                          capture_output=True, text=True, timeout=60)


def srv(host, ports):
    return [f"--srv-host=_mongodb._tcp.{host},127.0.0.1,{p}" for p in ports]


def test_same_seed_list_and_txt_options_as_pymongo(dns_server, sim):
    ports = sim(3)
    env = dns_server(srv("rs.0.0.1", ports) + [
        "--txt-record=rs.0.0.1,replicaSet=rs0&auth,Source=admin"])
    uri = "mongodb+srv://rs.0.0.1/?tls=false"
    theirs = parse_uri(uri)
    assert sorted(theirs["nodelist"]) == sorted(("127.0.0.1", p) for p in ports)
    assert theirs["options"]["replicaSet"] == "rs0"
    assert theirs["options"]["authSource"] == "admin"
    assert theirs["options"]["tls"] is False
    assert parse_uri("mongodb+srv://rs.0.0.1")["options"]["tls"] is True

    r = ours("mongo-rs-init", uri, env, "--json", "--timeout", "20s")
    assert r.returncode == 0, r
    report = json.loads(r.stdout)
    # No --replica-set and no --member: the set name and members are what DNS gave us.
    assert report["setName"] == theirs["options"]["replicaSet"], report
    assert sorted(report["members"]) == sorted(f"{h}:{p}" for h, p in theirs["nodelist"]), report


def test_the_uri_overrides_txt_as_in_pymongo(dns_server, sim):
    ports = sim(1)
    env = dns_server(srv("other.0.0.1", ports) + ["--txt-record=other.0.0.1,replicaSet=elsewhere"])
    assert parse_uri("mongodb+srv://other.0.0.1")["options"]["replicaSet"] == "elsewhere"
    uri = "mongodb+srv://other.0.0.1/?tls=false&replicaSet=rs0"
    assert parse_uri(uri)["options"]["replicaSet"] == "rs0"
    r = ours("mongo-rs-init", uri, env, "--json", "--timeout", "20s")
    assert r.returncode == 0, r
    assert json.loads(r.stdout)["setName"] == "rs0"
    # TXT's name is used without the override: mongod (the sim) was started as rs0.
    r = ours("mongo-rs-probe", "mongodb+srv://other.0.0.1/?tls=false", env)
    assert r.returncode != 0 and "elsewhere" in r.stderr, r


@pytest.mark.parametrize("host,records,why", [
    ("rs.example.test", ["--srv-host=_mongodb._tcp.rs.example.test,127.0.0.1,27017"],
     "not in the domain"),
    ("bad.0.0.1", ["--srv-host=_mongodb._tcp.bad.0.0.1,127.0.0.1,27017",
                   "--txt-record=bad.0.0.1,ssl=false"], "may not come from DNS"),
    ("two.0.0.1", ["--srv-host=_mongodb._tcp.two.0.0.1,127.0.0.1,27017",
                   "--txt-record=two.0.0.1,replicaSet=rs0",
                   "--txt-record=two.0.0.1,authSource=admin"], "TXT records"),
    ("missing.0.0.1", [], "NXDOMAIN"),
])
def test_pymongo_refuses_what_we_refuse(dns_server, host, records, why):
    env = dns_server(records)
    uri = f"mongodb+srv://user:Sup3rS3cret@{host}/"
    with pytest.raises(ConfigurationError):
        parse_uri(uri)
    r = ours("mongo-rs-probe", uri, env)
    assert r.returncode == 3, r
    assert why in r.stderr and "Sup3rS3cret" not in r.stderr + r.stdout, r
