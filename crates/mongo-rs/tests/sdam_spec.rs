//! Our reading of a hello reply (`state::interpret`) against MongoDB's Server Discovery and
//! Monitoring spec tests (mongodb/specifications, source/server-discovery-and-monitoring/tests,
//! `rs/` and `single/`): for every reply in every phase, the server type the spec expects.
//!
//! The files are NOT copied here (CC BY-NC-SA 3.0 US, see their LICENSE.md): they are read
//! from `shared/conformance/sdam` in an ancestor directory of this crate, or `$SDAM_SPEC_DIR`.
//! A plain clone has no such corpus, so the test is `#[ignore]`d for `cargo test`: scripts/test
//! runs it (`--ignored`) whenever the corpus is there, and says so in one line when it is not.
//!
//! Skipped, because the spec decides them from the whole topology rather than from one reply:
//! expected `Unknown` / `PossiblePrimary` (stale electionId/setVersion, wrong set name, ok: 0,
//! a network error) and hosts the topology dropped (`me` mismatch, not in the primary's list).
//! Deliberate differences (this crate asks "can it take writes?", not "where to route reads"):
//! a PRIMARY that is not writable (drain mode: `secondary: true, primary == me`; stepping down)
//! is `Primary { writable: false }` where SDAM says RSSecondary or RSOther, and a hidden
//! SECONDARY is `Secondary` where SDAM says RSOther.

use mongo_rs::state::{interpret, MemberState};
use mongo_wire::{Doc, Value};
use serde_json::Value as J;
use std::path::{Path, PathBuf};

fn spec_dir() -> PathBuf {
    if let Ok(d) = std::env::var("SDAM_SPEC_DIR") {
        return PathBuf::from(d);
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared/conformance/sdam"))
        .find(|d| d.join("rs").is_dir())
        .unwrap_or_else(|| {
            panic!(
                "SDAM spec tests not found in an ancestor's shared/conformance/sdam of {}: set SDAM_SPEC_DIR",
                here.display()
            )
        })
}

/// MongoDB extended JSON (as the spec files use it) to our BSON document.
fn value(j: &J) -> Value {
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => i32::try_from(i).map_or(Value::Int64(i), Value::Int32),
            None => Value::Double(n.as_f64().unwrap_or(0.0)),
        },
        J::String(s) => Value::String(s.clone()),
        J::Array(a) => Value::Array(a.iter().map(value).collect()),
        J::Object(o) => {
            if let Some(J::String(hex)) = o.get("$oid") {
                let mut b = [0u8; 12];
                for (i, byte) in b.iter_mut().enumerate() {
                    *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
                }
                return Value::ObjectId(b);
            }
            if let Some(J::String(n)) = o.get("$numberLong") {
                return Value::Int64(n.parse().unwrap());
            }
            Value::Document(doc(j))
        }
    }
}

fn doc(j: &J) -> Doc {
    let mut d = Doc::new();
    for (k, v) in j.as_object().unwrap() {
        d.insert(k, value(v));
    }
    d
}

/// Whether our state agrees with the spec's server type for this reply.
fn agrees(state: &MemberState, expected: &str, reply: &Doc) -> bool {
    let hidden = reply.get_bool("hidden") == Some(true);
    match (expected, state) {
        ("RSPrimary", MemberState::Primary { writable: true }) => true,
        ("RSSecondary", MemberState::Secondary) => true,
        ("RSSecondary" | "RSOther", MemberState::Primary { writable: false }) => true,
        ("RSOther", MemberState::Secondary) => hidden,
        ("RSOther", MemberState::Other(_)) => true,
        ("RSArbiter", MemberState::Arbiter) => true,
        ("RSGhost", MemberState::NotInitiated | MemberState::Removed) => true,
        ("Standalone", MemberState::Standalone) => true,
        ("Mongos", MemberState::Mongos) => true,
        _ => false,
    }
}

#[test]
#[ignore = "needs the SDAM spec corpus (shared/conformance/sdam or $SDAM_SPEC_DIR); scripts/test runs it when present"]
fn hello_replies_classify_as_the_sdam_spec_says() {
    let dir = spec_dir();
    let mut compared = 0;
    let mut failures = Vec::new();
    for sub in ["rs", "single"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for file in files {
            let t: J = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            for (n, phase) in t["phases"].as_array().unwrap().iter().enumerate() {
                let Some(responses) = phase["responses"].as_array() else {
                    continue;
                };
                for (i, pair) in responses.iter().enumerate() {
                    let (host, reply) = (pair[0].as_str().unwrap(), &pair[1]);
                    // The last reply of a host in the phase is what the outcome describes.
                    if responses[i + 1..].iter().any(|p| p[0] == pair[0]) {
                        continue;
                    }
                    let ok = reply.get("ok").and_then(J::as_f64) == Some(1.0);
                    let expected = phase["outcome"]["servers"][host]["type"].as_str();
                    let Some(expected) =
                        expected.filter(|t| ok && !matches!(*t, "Unknown" | "PossiblePrimary"))
                    else {
                        continue;
                    };
                    let reply = doc(reply);
                    let hello = interpret(&reply);
                    compared += 1;
                    let set_ok = match phase["outcome"]["servers"][host]["setName"].as_str() {
                        Some(s) => hello.set_name.as_deref() == Some(s),
                        None => true,
                    };
                    if !agrees(&hello.state, expected, &reply) || !set_ok {
                        failures.push(format!(
                            "{sub}/{} phase {n} {host}: spec {expected}, we {:?} (set {:?})",
                            file.file_name().unwrap().to_string_lossy(),
                            hello.state,
                            hello.set_name
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        compared >= 100,
        "only {compared} replies compared: is {} the SDAM test tree?",
        dir.display()
    );
    eprintln!(
        "{compared} hello replies agree with the SDAM spec tests in {}",
        dir.display()
    );
}
