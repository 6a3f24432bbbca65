//! README.md documents each binary's flags in a `| flag | env | … |` table under the binary's
//! `## name` heading; `--help` is what the binary really accepts. Both must list the same flags
//! and the same environment variables, and every flag has its variable. Also: the one
//! secret-in-argv policy, as the built processes show it.

use e2e::bin;
use std::collections::BTreeSet;
use std::process::Command;

const BINARIES: [&str; 6] = [
    "mongo-rs-init",
    "mongo-rs-probe",
    "mongo-rs-follow",
    "rc-bootstrap",
    "rc-probe",
    "net-probe",
];

/// (flags without `--`, env vars) of a `--help` text; `--help`/`--version` left out.
fn from_help(help: &str) -> (BTreeSet<String>, BTreeSet<String>, Vec<String>) {
    let options = help
        .split_once("\nOptions:\n")
        .map(|(_, o)| o)
        .expect("--help has an Options: section");
    let (mut flags, mut envs, mut without_env) = (BTreeSet::new(), BTreeSet::new(), Vec::new());
    let mut current: Option<(String, bool)> = None;
    let close = |c: Option<(String, bool)>, without_env: &mut Vec<String>| {
        if let Some((flag, false)) = c {
            without_env.push(flag);
        }
    };
    for line in options.lines() {
        let t = line.trim_start();
        let t = t
            .strip_prefix("-h, ")
            .or(t.strip_prefix("-V, "))
            .unwrap_or(t);
        if line.starts_with("  ") && t.starts_with("--") && line.len() - t.len() <= 10 {
            let name: String = t[2..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            close(current.take(), &mut without_env);
            if name != "help" && name != "version" {
                flags.insert(name.clone());
                current = Some((name, false));
            }
        } else if let Some(rest) = t.strip_prefix("[env: ") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            envs.insert(name);
            if let Some(c) = current.as_mut() {
                c.1 = true;
            }
        }
    }
    close(current.take(), &mut without_env);
    (flags, envs, without_env)
}

/// The backticked words of a table cell.
fn ticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// (flags, env vars) of the `| flag | env |` tables in README's `## name` section.
fn from_readme(readme: &str, name: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let heading = format!("## {name}");
    let section: Vec<&str> = readme
        .lines()
        .skip_while(|l| l.trim_end() != heading)
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .collect();
    assert!(!section.is_empty(), "README.md has no `{heading}` section");
    let (mut flags, mut envs) = (BTreeSet::new(), BTreeSet::new());
    let mut in_table = false;
    for line in section {
        if line.starts_with("| flag | env |") {
            in_table = true;
            continue;
        }
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        if !in_table || line.starts_with("|---") {
            continue;
        }
        let cells: Vec<&str> = line.split('|').collect();
        for f in ticked(cells[1]) {
            let f = f
                .strip_prefix("--")
                .unwrap_or_else(|| panic!("README {name}: flag cell `{f}` does not start with --"));
            flags.insert(f.to_string());
        }
        for e in ticked(cells[2]) {
            envs.insert(e);
        }
    }
    assert!(
        !flags.is_empty(),
        "README `{heading}` has no `| flag | env |` table"
    );
    (flags, envs)
}

fn help_of(name: &str) -> String {
    let out = Command::new(bin(name))
        .arg("--help")
        .env_clear()
        .output()
        .expect("run --help");
    assert!(out.status.success(), "{name} --help: {:?}", out.status);
    String::from_utf8(out.stdout).expect("utf-8 help")
}

#[test]
fn readme_flag_tables_match_every_binarys_help() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let mut problems = Vec::new();
    for name in BINARIES {
        let (help_flags, help_envs, without_env) = from_help(&help_of(name));
        let (doc_flags, doc_envs) = from_readme(&readme, name);
        for f in help_flags.difference(&doc_flags) {
            problems.push(format!("{name}: --{f} is in --help, not in README's table"));
        }
        for f in doc_flags.difference(&help_flags) {
            problems.push(format!("{name}: README lists --{f}, --help does not"));
        }
        for e in help_envs.difference(&doc_envs) {
            problems.push(format!("{name}: {e} is in --help, not in README's table"));
        }
        for e in doc_envs.difference(&help_envs) {
            problems.push(format!("{name}: README lists {e}, --help does not"));
        }
        for f in without_env {
            problems.push(format!("{name}: --{f} has no environment variable"));
        }
        assert!(
            help_flags.contains("timeout") && help_flags.contains("json"),
            "{name}: the shared --timeout/--json are missing"
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_help_parser_sees_flags_envs_and_a_flag_without_env() {
    let help = "Usage: x\n\nOptions:\n      --a <A>\n          A\n          \n          [env: X_A=]\n\n      --b\n          B\n\n  -h, --help\n          Print help\n";
    let (flags, envs, without) = from_help(help);
    assert_eq!(flags.into_iter().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(envs.into_iter().collect::<Vec<_>>(), ["X_A"]);
    assert_eq!(without, ["b"]);
}

#[test]
fn every_binary_states_the_secret_policy_in_its_help() {
    for name in BINARIES {
        if name == "net-probe" {
            continue; // it takes no secret
        }
        let help = help_of(name)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            help.contains("warning line on stderr"),
            "{name} --help does not state the secret-in-argv rule"
        );
    }
}

/// A secret value in argv works but warns once, naming the flag and the file alternative; the
/// same value from the environment prints no warning. Nothing listens on port 9 of loopback:
/// the runs end with exit 1 (unavailable), after the configuration was accepted.
#[test]
fn a_secret_in_argv_warns_once_and_the_environment_does_not() {
    let dir = std::env::temp_dir().join(format!("e2e-cli-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cache = dir.join("token");
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(bin("rc-probe"))
            .args(args)
            .env_clear()
            .envs(env.iter().copied())
            .args([
                "--url",
                "http://127.0.0.1:9",
                "--user",
                "bot",
                "--room",
                "ops",
            ])
            .args(["--timeout", "2s", "--token-cache", cache.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        stderr
    };
    let stderr = run(&["--password", "Zq-argv-secret"], &[]);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].starts_with("rc-probe: warning: --password given on the command line")
            && warnings[0].contains("--password-file / ROCKETCHAT_PASSWORD_FILE"),
        "{stderr}"
    );
    assert!(!stderr.contains("Zq-argv-secret"), "{stderr}");
    let quiet = run(&[], &[("ROCKETCHAT_PASSWORD", "Zq-env-secret")]);
    assert!(!quiet.contains("warning"), "{quiet}");
    // A configuration refused (exit 2) prints its one error line only.
    let out = Command::new(bin("rc-probe"))
        .env_clear()
        .args([
            "--url",
            "http://127.0.0.1:9",
            "--room",
            ",",
            "--password",
            "Zq-x-y",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();

    let out = Command::new(bin("mongo-rs-init"))
        .env_clear()
        .args([
            "--uri",
            "mongodb://root:Zq-uri-secret@127.0.0.1:9/?replicaSet=rs0",
        ])
        .args(["--timeout", "1s"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let warnings = stderr.lines().filter(|l| l.contains("warning")).count();
    assert_eq!(warnings, 1, "{stderr}");
    assert!(
        stderr.contains("mongo-rs-init: warning: --uri holds a password on the command line")
            && stderr.contains("set MONGO_URL instead"),
        "{stderr}"
    );
    assert!(!stderr.contains("Zq-uri-secret"), "{stderr}");
}
