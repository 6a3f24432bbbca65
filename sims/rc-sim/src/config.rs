//! Command line and configuration: the emulated release line and rc-sim's flags.

use crate::script;
use clap::Parser;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// The three release lines the sidecars are tested against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V6_13,
    V7_10,
    V8_1,
}

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        match s {
            "6.13.0" | "6.13" => Some(Version::V6_13),
            "7.10.0" | "7.10" => Some(Version::V7_10),
            "8.1.0" | "8.1" => Some(Version::V8_1),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V6_13 => "6.13.0",
            Version::V7_10 => "7.10.0",
            Version::V8_1 => "8.1.0",
        }
    }
    // No `breaking()` here: `applyBreakingChanges` is `shouldBreakInVersion('8.0.0')` in the 7.x
    // `apps/meteor/app/api/server/ApiClass.ts` (@ 019378e3, e5433893), bumped to '9.0.0' by the
    // 8.0.1 release (PR #38155, 2026-01-12; `apps/meteor/server/api/ApiClass.ts` @ 0358e0dc,
    // b2da2544), before 8.1.0 (2026-02). So only 8.0.0 sent the bare shapes: no emulated line
    // applies the breaking changes, and every call site answers the legacy way (ledger).
    /// /livez and /readyz came with RocketChat/Rocket.Chat PR #36955 (released in 7.11.0,
    /// see RocketChat/helm-charts issue #205); before that only /health existed.
    pub fn has_livez(self) -> bool {
        self == Version::V8_1
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub port: u16,
    pub bind: String,
    pub version: Version,
    pub root_url: Option<String>,
    pub listen_delay: Duration,
    pub admin_delay: Duration,
    pub settings: Vec<(String, String)>,
    pub rate_limit_calls: Option<u64>,
    pub rate_limit_window: Option<Duration>,
    pub env: HashMap<String, String>,
    /// Node.js binary that runs integration scripts (`--node`, default `node` on PATH).
    pub node: String,
    /// Sandbox timeout (`--script-timeout`, default 3 s as isolated-vm.ts).
    pub script_timeout: Duration,
    /// `--tls-cert-key-file`: serve https on --port (a TLS front, see tls_front.rs).
    pub tls_cert_key_file: Option<PathBuf>,
}

/// The emulators' one duration grammar (sims/sim-util): `500ms`, `2s`, `1m30s`; a bare number
/// means seconds, as in the shipped sidecars.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    sim_util::parse_duration(s)
}

/// rc-sim's flags. Every value may also be given as `--flag=value`; a repeated flag keeps
/// its last value (`--setting` accumulates).
#[derive(Parser, Debug)]
#[command(
    name = "rc-sim",
    about = "Test-only Rocket.Chat REST + DDP emulator",
    args_override_self = true,
    disable_version_flag = true
)]
pub struct Args {
    /// Port to listen on (0 = any free port, reported in the `listening` line).
    #[arg(long, value_name = "P", value_parser = port, allow_hyphen_values = true)]
    port: Option<u16>,
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1",
        allow_hyphen_values = true
    )]
    bind: String,
    /// Release line to emulate: 6.13.0, 7.10.0 or 8.1.0.
    #[arg(long, value_name = "V", default_value = "7.10.0", value_parser = version, allow_hyphen_values = true)]
    version: Version,
    /// Site_Url (default http(s)://127.0.0.1:<port>).
    #[arg(long, value_name = "URL", allow_hyphen_values = true)]
    root_url: Option<String>,
    /// Refuse connections for this long at start (a Rocket.Chat still starting).
    #[arg(long, value_name = "DUR", value_parser = duration, default_value = "0s", allow_hyphen_values = true)]
    listen_delay: Duration,
    /// Create the ADMIN_* admin only after this long.
    #[arg(long, value_name = "DUR", value_parser = duration, default_value = "0s", allow_hyphen_values = true)]
    admin_delay: Duration,
    /// A setting's start value (repeatable), like OVERWRITE_SETTING_<KEY>.
    #[arg(long = "setting", value_name = "KEY=VALUE", value_parser = setting, allow_hyphen_values = true)]
    settings: Vec<(String, String)>,
    /// API_Enable_Rate_Limiter_Limit_Calls_Default.
    #[arg(long, value_name = "N", value_parser = calls, allow_hyphen_values = true)]
    rate_limit_calls: Option<u64>,
    /// API_Enable_Rate_Limiter_Limit_Time_Default.
    #[arg(long, value_name = "DUR", value_parser = duration, allow_hyphen_values = true)]
    rate_limit_window: Option<Duration>,
    /// Node.js binary that runs integration scripts.
    #[arg(long, value_name = "PATH", default_value = "node", value_parser = node, allow_hyphen_values = true)]
    node: String,
    /// Integration script sandbox timeout (isolated-vm.ts: 3 s).
    #[arg(long, value_name = "DUR", value_parser = script_timeout, allow_hyphen_values = true)]
    script_timeout: Option<Duration>,
    /// Serve https on --port with this PEM (certificate chain + private key).
    #[arg(long, value_name = "PEM", allow_hyphen_values = true)]
    tls_cert_key_file: Option<PathBuf>,
}

fn duration(s: &str) -> Result<Duration, String> {
    parse_duration(s)
}

fn port(s: &str) -> Result<u16, String> {
    s.parse()
        .map_err(|_| format!("--port '{s}' is not a port number (0-65535)"))
}

fn version(s: &str) -> Result<Version, String> {
    Version::parse(s)
        .ok_or_else(|| format!("--version '{s}' is not emulated; use 6.13.0, 7.10.0 or 8.1.0"))
}

fn setting(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("--setting '{s}' must look like KEY=VALUE"))
}

fn calls(s: &str) -> Result<u64, String> {
    s.parse()
        .map_err(|_| format!("--rate-limit-calls '{s}' is not a number"))
}

fn node(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("--node needs the path of a Node.js binary".into());
    }
    Ok(s.to_string())
}

fn script_timeout(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err("--script-timeout must be greater than 0, e.g. 3s".into()),
        d => Ok(d),
    }
}

impl Args {
    /// The configuration these flags describe, with the process environment (ADMIN_*,
    /// OVERWRITE_SETTING_*, MAX_RESUME_LOGIN_TOKENS, DDP_*).
    pub fn into_config(self, env: HashMap<String, String>) -> Result<Config, String> {
        let port = self.port.ok_or_else(|| {
            "--port is required (0 picks a free port); see rc-sim --help".to_string()
        })?;
        Ok(Config {
            port,
            bind: self.bind,
            version: self.version,
            root_url: self.root_url,
            listen_delay: self.listen_delay,
            admin_delay: self.admin_delay,
            settings: self.settings,
            rate_limit_calls: self.rate_limit_calls,
            rate_limit_window: self.rate_limit_window,
            env,
            node: self.node,
            script_timeout: self.script_timeout.unwrap_or(script::DEFAULT_TIMEOUT),
            tls_cert_key_file: self.tls_cert_key_file,
        })
    }
}

/// The flags (without the program name) into a configuration; Err is one line saying what
/// is wrong (for `--help` too: only main_with_args prints the help).
pub fn parse_args(args: &[String], env: HashMap<String, String>) -> Result<Config, String> {
    let argv = std::iter::once("rc-sim".to_string()).chain(args.iter().cloned());
    Args::try_parse_from(argv)
        .map_err(|e| one_line(&e))?
        .into_config(env)
}

/// clap's error as one line: its first line without the `error: ` prefix, plus where to look.
pub fn one_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("bad flags");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    format!("{first}; see rc-sim --help")
}
