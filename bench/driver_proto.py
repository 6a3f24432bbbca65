#!/usr/bin/env python3
"""The official-driver prototype bench/run compares mongo-rs-probe with: the same probe (connect,
`hello` on admin, exit 0 on a writable PRIMARY) on the `mongodb` crate, written into a temporary
directory at bench time and built there with --release. Never shipped, never in the workspace.
The build directory is cached under the target directory (driver-proto/), so only the first
bench run pays for the crate build. Same release profile and static linking as `cargo dist`,
so sizes compare like with like. Prints nothing; tls_probe.py times it.
"""

import os
import shutil
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
CACHE = os.path.join(TARGET, "driver-proto")
DRIVER_VERSION = "3.9.1"

# Default features minus dns-resolver (no mongodb+srv:// here, like our probe); rustls with ring
# as ours. The sync API runs the driver's own tokio runtime, whose multi-thread flavour the
# `sync` feature alone does not turn on.
CARGO_TOML = f"""[package]
name = "driver-probe"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
mongodb = {{ version = "={DRIVER_VERSION}", default-features = false, features = ["compat-3-0-0", "rustls-tls", "sync"] }}
tokio = {{ version = "1", features = ["rt-multi-thread"] }}

[workspace]

# The workspace's release profile (Cargo.toml), so sizes and times compare like with like.
[profile.release]
opt-level = "z"
lto = true
codegen-units = 1
panic = "abort"
strip = true
"""

MAIN_RS = """use mongodb::bson::doc;
use mongodb::sync::Client;

// driver-probe URI: exit 0 when the server the driver selects is a writable PRIMARY.
fn main() {
    let uri = std::env::args().nth(1).unwrap_or_else(|| "mongodb://localhost:27017".into());
    let code = match probe(&uri) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("driver-probe: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn probe(uri: &str) -> mongodb::error::Result<bool> {
    let client = Client::with_uri_str(uri)?;
    let reply = client.database("admin").run_command(doc! {"hello": 1}).run()?;
    Ok(reply.get_bool("isWritablePrimary").unwrap_or(false))
}
"""


# Static like our binaries (`cargo dist`, .cargo/config.toml): crt-static for the target only.
STATIC = ["--target", "x86_64-unknown-linux-gnu",
          "--config", "target.x86_64-unknown-linux-gnu.rustflags=['-C','target-feature=+crt-static']"]


def build():
    """(path of the release binary, build seconds, crate count); the build runs offline first
    (the registry cache usually has the crates), then online."""
    src = tempfile.mkdtemp(prefix="driver-proto-")
    try:
        os.makedirs(os.path.join(src, "src"))
        with open(os.path.join(src, "Cargo.toml"), "w") as f:
            f.write(CARGO_TOML)
        with open(os.path.join(src, "src", "main.rs"), "w") as f:
            f.write(MAIN_RS)
        env = dict(os.environ, CARGO_TARGET_DIR=CACHE)
        t0 = time.monotonic()
        for extra in (["--offline"], []):
            p = subprocess.run(["cargo", "build", "--release", "-q", *STATIC, *extra], cwd=src, env=env,
                               capture_output=True, text=True, timeout=1800)
            if p.returncode == 0:
                break
        else:
            raise SystemExit(f"driver prototype: cargo build failed:\n{p.stderr[-2000:]}")
        took = time.monotonic() - t0
        with open(os.path.join(src, "Cargo.lock")) as f:
            crates = f.read().count("[[package]]") - 1
        return os.path.join(CACHE, "x86_64-unknown-linux-gnu", "release", "driver-probe"), took, crates
    finally:
        shutil.rmtree(src, ignore_errors=True)


def linkage(path):
    """'static' or 'dynamic' (an ELF program interpreter means the dynamic loader runs first)."""
    with open(path, "rb") as f:
        head = f.read(4096)
    return "dynamic" if b"/ld-linux" in head else "static"
