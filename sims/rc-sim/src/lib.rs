//! rc-sim — a test-only Rocket.Chat REST emulator.
//!
//! Written from the RocketChat/Rocket.Chat sources (paths cited next to each
//! behaviour, all under https://github.com/RocketChat/Rocket.Chat). It keeps all
//! state in memory behind one Mutex and serves HTTP/1.1 with tiny_http.
//! Routes under `/_sim/` are NOT Rocket.Chat: they let tests inspect state.

// LoginFail (the refused-login value) is ~170 bytes, built once per refused login.
#![allow(clippy::result_large_err)]

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub mod ddp;
pub mod hook_router;
pub mod http;
pub mod login_block;
pub mod script;
pub mod startup;
pub mod tls_front;

// ---------------------------------------------------------------- versions

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
    /// apps/meteor/app/api/server/api.ts: `applyBreakingChanges = semver.gte(Info.version, '8.0.0')`.
    pub fn breaking(self) -> bool {
        self == Version::V8_1
    }
    /// /livez and /readyz came with RocketChat/Rocket.Chat PR #36955 (released in 7.11.0,
    /// see RocketChat/helm-charts issue #205); before that only /health existed.
    pub fn has_livez(self) -> bool {
        self == Version::V8_1
    }
}

// ---------------------------------------------------------------- config

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
    pub tls_cert_key_file: Option<std::path::PathBuf>,
}

/// Parses `500ms`, `2s`, `1m` (and a bare number of seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult_ms) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1u64)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000)
    } else {
        (s, 1000)
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration '{s}': use e.g. 500ms, 2s, 1m"))?;
    Ok(Duration::from_millis(n * mult_ms))
}

pub const USAGE: &str =
    "usage: rc-sim --port P [--bind 127.0.0.1] [--version 6.13.0|7.10.0|8.1.0] \
[--root-url URL] [--listen-delay DUR] [--admin-delay DUR] [--setting KEY=VALUE]... \
[--rate-limit-calls N] [--rate-limit-window DUR] [--node PATH] [--script-timeout DUR] \
[--tls-cert-key-file PEM]";

pub fn parse_args(args: &[String], env: HashMap<String, String>) -> Result<Config, String> {
    let mut cfg = Config {
        port: 0,
        bind: "127.0.0.1".into(),
        version: Version::V7_10,
        root_url: None,
        listen_delay: Duration::ZERO,
        admin_delay: Duration::ZERO,
        settings: vec![],
        rate_limit_calls: None,
        rate_limit_window: None,
        env,
        node: "node".into(),
        script_timeout: script::DEFAULT_TIMEOUT,
        tls_cert_key_file: None,
    };
    let mut port_seen = false;
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (flag, None),
        };
        if name == "--help" || name == "-h" {
            return Err(USAGE.into());
        }
        let val = match inline {
            Some(v) => v,
            None => {
                i += 1;
                args.get(i)
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value; {USAGE}"))?
            }
        };
        match name {
            "--port" => {
                cfg.port = val
                    .parse()
                    .map_err(|_| format!("--port '{val}' is not a port number (0-65535)"))?;
                port_seen = true;
            }
            "--bind" => cfg.bind = val,
            "--version" => {
                cfg.version = Version::parse(&val).ok_or_else(|| {
                    format!("--version '{val}' is not emulated; use 6.13.0, 7.10.0 or 8.1.0")
                })?
            }
            "--root-url" => cfg.root_url = Some(val),
            "--listen-delay" => cfg.listen_delay = parse_duration(&val)?,
            "--admin-delay" => cfg.admin_delay = parse_duration(&val)?,
            "--setting" => {
                let (k, v) = val
                    .split_once('=')
                    .ok_or_else(|| format!("--setting '{val}' must look like KEY=VALUE"))?;
                cfg.settings.push((k.to_string(), v.to_string()));
            }
            "--rate-limit-calls" => {
                cfg.rate_limit_calls = Some(
                    val.parse()
                        .map_err(|_| format!("--rate-limit-calls '{val}' is not a number"))?,
                )
            }
            "--rate-limit-window" => cfg.rate_limit_window = Some(parse_duration(&val)?),
            "--node" if val.trim().is_empty() => {
                return Err("--node needs the path of a Node.js binary".into())
            }
            "--node" => cfg.node = val,
            "--tls-cert-key-file" => cfg.tls_cert_key_file = Some(val.into()),
            "--script-timeout" => {
                cfg.script_timeout = parse_duration(&val)?;
                if cfg.script_timeout.is_zero() {
                    return Err("--script-timeout must be greater than 0, e.g. 3s".into());
                }
            }
            other => return Err(format!("unknown flag '{other}'; {USAGE}")),
        }
        i += 1;
    }
    if !port_seen {
        return Err(format!("--port is required; {USAGE}"));
    }
    Ok(cfg)
}

/// `--setting` / `OVERWRITE_SETTING_*` values are strings; settings are typed.
fn setting_value(raw: &str) -> Value {
    match raw {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => raw
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(raw.to_string())),
    }
}

/// Setting ids and defaults as registered in apps/meteor/server/settings/*.ts
/// (accounts.ts, general.ts, rate.ts) of the emulated release line.
fn default_settings(v: Version, root_url: &str) -> Map<String, Value> {
    let mut s = Map::new();
    let mut set = |k: &str, val: Value| {
        s.insert(k.to_string(), val);
    };
    set("Site_Url", json!(root_url));
    set("Show_Setup_Wizard", json!("pending"));
    // apps/meteor/server/settings/rate.ts: API rate limiter defaults.
    set("API_Enable_Rate_Limiter", json!(true));
    // server/settings/general.ts (REST API section; default not re-read): count=0 allowed.
    set("API_Allow_Infinite_Count", json!(true));
    set("API_Enable_Rate_Limiter_Limit_Calls_Default", json!(10));
    set("API_Enable_Rate_Limiter_Limit_Time_Default", json!(60000));
    // users.register's own rule: Rate_Limiter_Limit_RegisterUser (?? 1) per IP per window.
    set("Rate_Limiter_Limit_RegisterUser", json!(1));
    set("Accounts_RegistrationForm", json!("Public"));
    // Hidden setting (server/settings/accounts.ts), checked by validateName().
    set(
        "Accounts_SystemBlockedUsernameList",
        json!("admin,administrator,system,user"),
    );
    set("Accounts_RegistrationForm_SecretURL", json!(""));
    set("Accounts_BlockedUsernameList", json!(""));
    set("Accounts_RequireNameForSignUp", json!(true));
    set("UTF8_User_Names_Validation", json!("[0-9a-zA-Z-_.]+"));
    set("UTF8_Channel_Names_Validation", json!("[0-9a-zA-Z-_.]+"));
    // apps/meteor/app/2fa/server/startup/settings.ts
    set("Accounts_TwoFactorAuthentication_Enabled", json!(true));
    set(
        "Accounts_TwoFactorAuthentication_By_Email_Enabled",
        json!(true),
    );
    set(
        "Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In",
        json!(true),
    );
    set(
        "Accounts_TwoFactorAuthentication_Enforce_Password_Fallback",
        json!(true),
    );
    set("Accounts_TwoFactorAuthentication_RememberFor", json!(1800));
    // Brute-force protection (server/settings/accounts.ts, see login_block.rs): the 6.x
    // settings file registers Block_Multiple_Failed_Logins_Enabled false, the >= 7.0 one true.
    set(
        "Block_Multiple_Failed_Logins_Enabled",
        json!(v != Version::V6_13),
    );
    set("Block_Multiple_Failed_Logins_By_User", json!(true));
    set(
        "Block_Multiple_Failed_Logins_Attempts_Until_Block_by_User",
        json!(10),
    );
    set(
        "Block_Multiple_Failed_Logins_Time_To_Unblock_By_User_In_Minutes",
        json!(5),
    );
    set("Block_Multiple_Failed_Logins_By_Ip", json!(true));
    set(
        "Block_Multiple_Failed_Logins_Attempts_Until_Block_By_Ip",
        json!(50),
    );
    set(
        "Block_Multiple_Failed_Logins_Time_To_Unblock_By_Ip_In_Minutes",
        json!(5),
    );
    set("Block_Multiple_Failed_Logins_Ip_Whitelist", json!(""));
    // Password policy: apps/meteor/server/settings/accounts.ts. The 8.x line ships the
    // stricter policy (enabled, min 14, all character classes); older lines default to
    // a disabled policy (min 7), which only rejects empty passwords.
    let strict = v == Version::V8_1;
    set("Accounts_Password_Policy_Enabled", json!(strict));
    set(
        "Accounts_Password_Policy_MinLength",
        json!(if strict { 14 } else { 7 }),
    );
    set("Accounts_Password_Policy_MaxLength", json!(-1));
    set(
        "Accounts_Password_Policy_ForbidRepeatingCharacters",
        json!(true),
    );
    set(
        "Accounts_Password_Policy_ForbidRepeatingCharactersCount",
        json!(3),
    );
    set("Accounts_Password_Policy_AtLeastOneLowercase", json!(true));
    set("Accounts_Password_Policy_AtLeastOneUppercase", json!(true));
    set("Accounts_Password_Policy_AtLeastOneNumber", json!(true));
    set(
        "Accounts_Password_Policy_AtLeastOneSpecialCharacter",
        json!(true),
    );
    s
}

// ---------------------------------------------------------------- helpers

const UNMISTAKABLE: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";
const BASE64ISH: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

fn random_from(alphabet: &[u8], n: usize) -> String {
    let mut buf = vec![0u8; n];
    // getrandom failing means the OS has no entropy source; nothing sensible to do.
    getrandom::getrandom(&mut buf).unwrap_or_default();
    buf.iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect()
}

/// @rocket.chat/random `Random.id(n)`: unmistakable characters, 17 by default.
pub fn random_id(n: usize) -> String {
    random_from(UNMISTAKABLE, n)
}

/// Meteor `Random.secret()` (43 chars) used for login tokens.
fn random_secret() -> String {
    random_from(BASE64ISH, 43)
}

pub fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// JS `Date.prototype.toJSON()` format.
pub fn iso(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60,
        ms % 1000
    )
}

/// Default `UTF8_User_Names_Validation` / `UTF8_Channel_Names_Validation` regex
/// `^[0-9a-zA-Z-_.]+$` (any other configured value falls back to this check).
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// Minimal check equivalent to @rocket.chat/tools validateEmail.
fn valid_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((l, d)) => !l.is_empty() && d.contains('.') && !d.starts_with('.') && !s.contains(' '),
        None => false,
    }
}

// ---------------------------------------------------------------- errors

/// One failed API call: HTTP status + JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiErr {
    pub status: u16,
    pub body: Value,
}

/// `throw new Meteor.Error(code, reason, details)` inside an endpoint becomes
/// `API.v1.failure(e.message, e.error, stack, e)`: Meteor.Error's message is
/// `"<reason> [<code>]"` (apps/meteor/app/api/server/api.ts, failure()).
pub fn meteor_err(code: &str, reason: &str, details: Option<Value>) -> ApiErr {
    let mut body =
        json!({"success": false, "error": format!("{reason} [{code}]"), "errorType": code});
    if let Some(d) = details {
        body["details"] = d;
    }
    ApiErr { status: 400, body }
}

/// PasswordPolicyError(message, error, reasons) is not a Meteor.Error: failure(e.message,
/// e.error, …) sends its message as is, without Meteor's " [<code>]" suffix.
fn policy_err(message: &str, details: Option<Value>) -> ApiErr {
    let mut e = meteor_err("error-password-policy-not-met", message, details);
    e.body["error"] = json!(message);
    e
}

/// `API.v1.failure('plain message')` (api.ts failure() with a string result).
pub fn failure(msg: &str) -> ApiErr {
    ApiErr {
        status: 400,
        body: json!({"success": false, "error": msg}),
    }
}

/// Permission failures: api.ts maps `error-unauthorized` to 403 forbidden() before 8.0
/// and throws `error-forbidden` (also 403) from 8.0 on.
fn no_permission(v: Version) -> ApiErr {
    let code = if v.breaking() {
        "error-forbidden"
    } else {
        "error-unauthorized"
    };
    ApiErr {
        status: 403,
        body: json!({"success": false,
            "error": format!("User does not have the permissions required for this action [{code}]")}),
    }
}

// ---------------------------------------------------------------- permissions

/// apps/meteor/app/authorization/server/constant/permissions.ts (the subset used here).
pub fn permission_roles(perm: &str) -> &'static [&'static str] {
    match perm {
        "api-bypass-rate-limit" => &["admin", "bot", "app"],
        "create-c" | "create-p" => &["admin", "user", "federated-external", "bot", "app"],
        "create-user"
        | "edit-other-user-info"
        | "edit-other-user-password"
        | "view-statistics"
        | "view-full-other-user-info"
        | "assign-admin-role"
        | "add-user-to-any-c-room"
        | "manage-incoming-integrations"
        | "manage-own-incoming-integrations"
        | "manage-outgoing-integrations"
        | "manage-own-outgoing-integrations"
        | "access-permissions"
        | "view-room-administration" => &["admin"],
        "add-user-to-joined-room" | "mute-user" | "ban-user" | "remove-user" | "edit-room" => {
            &["admin", "owner", "moderator"]
        }
        "post-readonly" => &["admin", "owner", "moderator"],
        "set-readonly" | "set-owner" | "set-moderator" => &["admin", "owner"],
        "view-c-room" => &[
            "admin",
            "user",
            "federated-external",
            "bot",
            "app",
            "anonymous",
        ],
        "view-p-room" => &["admin", "user", "federated-external", "anonymous", "guest"],
        "view-joined-room" => &["guest", "bot", "app", "anonymous"],
        "message-impersonate" => &["bot", "app"],
        "send-many-messages" => &["admin", "bot", "app"],
        "join-without-join-code" => &["admin", "bot", "app"],
        "add-user-to-any-p-room" => &[],
        _ => &[],
    }
}

const ALL_PERMISSIONS: &[&str] = &[
    "api-bypass-rate-limit",
    "create-c",
    "create-p",
    "create-user",
    "edit-other-user-info",
    "edit-other-user-password",
    "view-statistics",
    "view-full-other-user-info",
    "assign-admin-role",
    "add-user-to-any-c-room",
    "add-user-to-any-p-room",
    "add-user-to-joined-room",
    "manage-incoming-integrations",
    "manage-own-incoming-integrations",
    "manage-outgoing-integrations",
    "manage-own-outgoing-integrations",
    "access-permissions",
    "view-room-administration",
    "mute-user",
    "ban-user",
    "remove-user",
    "edit-room",
    "post-readonly",
    "set-readonly",
    "set-owner",
    "set-moderator",
    "view-c-room",
    "view-p-room",
    "view-joined-room",
    "message-impersonate",
    "send-many-messages",
    "join-without-join-code",
];

// ---------------------------------------------------------------- state

#[derive(Clone, Debug)]
pub struct LoginToken {
    pub hashed: String,
    pub when: u64,
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub username: String,
    pub name: String,
    pub emails: Vec<(String, bool)>,
    /// sha256 hex of the password: Meteor clients send this digest, the server bcrypts it.
    pub password_digest: Option<String>,
    pub roles: Vec<String>,
    pub active: bool,
    pub kind: String,
    pub created_at: u64,
    pub tokens: Vec<LoginToken>,
    pub email2fa: bool,
    /// Last generated e-mail 2FA code (the real server mails it; exposed via /_sim/).
    pub email_code: Option<String>,
    pub require_password_change: bool,
}

#[derive(Clone, Debug)]
pub struct Room {
    pub id: String,
    pub name: String,
    pub t: String,
    pub owner: (String, String),
    pub ts: u64,
    pub ro: bool,
    pub muted: Vec<String>,
    /// Read-only rooms: users unmuted by hand, who may post (canSendMessage.ts).
    pub unmuted: Vec<String>,
    pub default: bool,
    /// Set only through the test route /_sim/rooms/<name>/archive.
    pub archived: bool,
}

#[derive(Clone, Debug)]
pub struct Subscription {
    pub id: String,
    pub rid: String,
    pub uid: String,
    pub roles: Vec<String>,
    pub ts: u64,
}

#[derive(Clone, Debug)]
pub struct Message {
    pub id: String,
    pub rid: String,
    pub msg: String,
    pub uid: String,
    pub username: String,
    pub ts: u64,
    pub extra: Value,
}

pub struct RateRule {
    last_reset: Instant,
    counters: HashMap<String, u64>,
}

pub struct State {
    pub version: Version,
    pub settings: Map<String, Value>,
    pub users: Vec<User>,
    pub rooms: Vec<Room>,
    pub subs: Vec<Subscription>,
    pub messages: Vec<Message>,
    pub integrations: Vec<Value>,
    pub rate: HashMap<String, RateRule>,
    /// server_events: failed/successful logins for the brute-force protection.
    pub logins: login_block::Events,
    pub started: Instant,
    pub max_tokens: usize,
    /// 2FA remembered after a good code: (hashed login token, IP, user agent) → until (ms).
    pub two_factor_until: HashMap<String, u64>,
}

/// Result of one Meteor rate-limiter check.
#[derive(Debug, PartialEq)]
pub struct RateResult {
    pub allowed: bool,
    pub remaining: u64,
    pub time_to_reset_ms: u64,
    pub limit: u64,
}

impl State {
    pub fn new(cfg: &Config) -> State {
        let root = cfg
            .root_url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", cfg.port));
        let mut settings = default_settings(cfg.version, &root);
        if let Some(n) = cfg.rate_limit_calls {
            settings.insert(
                "API_Enable_Rate_Limiter_Limit_Calls_Default".into(),
                json!(n),
            );
        }
        if let Some(w) = cfg.rate_limit_window {
            settings.insert(
                "API_Enable_Rate_Limiter_Limit_Time_Default".into(),
                json!(w.as_millis() as u64),
            );
        }
        for (k, v) in &cfg.settings {
            settings.insert(k.clone(), setting_value(v));
        }
        // apps/meteor/app/settings/server/functions/overwriteSetting.ts:
        // OVERWRITE_SETTING_<id>=value wins over stored values at start.
        for (k, v) in &cfg.env {
            if let Some(id) = k.strip_prefix("OVERWRITE_SETTING_") {
                settings.insert(id.to_string(), setting_value(v));
            }
        }
        // apps/meteor/server/lib/accounts.ts: MAX_RESUME_LOGIN_TOKENS env, default 50.
        let max_tokens = cfg
            .env
            .get("MAX_RESUME_LOGIN_TOKENS")
            .and_then(|v| v.parse().ok())
            .filter(|n: &usize| *n > 0)
            .unwrap_or(50);
        let mut st = State {
            version: cfg.version,
            settings,
            users: vec![],
            rooms: vec![],
            subs: vec![],
            messages: vec![],
            integrations: vec![],
            rate: HashMap::new(),
            logins: login_block::Events::default(),
            started: Instant::now(),
            max_tokens,
            two_factor_until: HashMap::new(),
        };
        // apps/meteor/server/startup/initialData.ts: the GENERAL room and rocket.cat (bot).
        st.rooms.push(Room {
            id: "GENERAL".into(),
            name: "general".into(),
            t: "c".into(),
            owner: (String::new(), String::new()),
            ts: now_ms(),
            ro: false,
            muted: vec![],
            unmuted: vec![],
            default: true,
            archived: false,
        });
        st.users.push(User {
            id: "rocket.cat".into(),
            username: "rocket.cat".into(),
            name: "Rocket.Cat".into(),
            emails: vec![],
            password_digest: None,
            roles: vec!["bot".into()],
            active: true,
            kind: "bot".into(),
            created_at: now_ms(),
            tokens: vec![],
            email2fa: false,
            email_code: None,
            require_password_change: false,
        });
        st
    }

    pub fn setting_bool(&self, k: &str) -> bool {
        self.settings
            .get(k)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
    pub fn setting_i64(&self, k: &str) -> i64 {
        match self.settings.get(k) {
            Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
            Some(Value::String(s)) => s.parse().unwrap_or(0),
            _ => 0,
        }
    }
    pub fn setting_str(&self, k: &str) -> String {
        match self.settings.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        }
    }

    pub fn user_idx_by_id(&self, id: &str) -> Option<usize> {
        self.users.iter().position(|u| u.id == id)
    }
    pub fn user_idx_by_username(&self, name: &str) -> Option<usize> {
        self.users
            .iter()
            .position(|u| u.username.eq_ignore_ascii_case(name))
    }
    fn user_idx_by_email(&self, email: &str) -> Option<usize> {
        self.users
            .iter()
            .position(|u| u.emails.iter().any(|(a, _)| a.eq_ignore_ascii_case(email)))
    }
    pub fn room_idx_by_name(&self, name: &str) -> Option<usize> {
        self.rooms.iter().position(|r| r.name == name)
    }
    pub fn room_idx_by_id(&self, id: &str) -> Option<usize> {
        self.rooms.iter().position(|r| r.id == id)
    }
    pub fn sub(&self, rid: &str, uid: &str) -> Option<&Subscription> {
        self.subs.iter().find(|s| s.rid == rid && s.uid == uid)
    }

    /// apps/meteor/app/authorization/server/functions/hasPermission.ts: global roles of the
    /// user plus, for a room scope, the roles of the user's subscription (owner, moderator).
    pub fn has_permission(&self, uid: &str, perm: &str, rid: Option<&str>) -> bool {
        let allowed = permission_roles(perm);
        let Some(u) = self.user_idx_by_id(uid).map(|i| &self.users[i]) else {
            return false;
        };
        if u.roles.iter().any(|r| allowed.contains(&r.as_str())) {
            return true;
        }
        if let Some(rid) = rid {
            if let Some(s) = self.sub(rid, uid) {
                return s.roles.iter().any(|r| allowed.contains(&r.as_str()));
            }
        }
        false
    }

    fn admin_exists(&self) -> bool {
        self.users
            .iter()
            .any(|u| u.roles.iter().any(|r| r == "admin"))
    }

    /// apps/meteor/app/lib/server/functions/checkUsernameAvailability.ts @ 0fc73039: a name in
    /// Accounts_BlockedUsernameList (usernameIsBlocked) or refused by validateName() (`all`,
    /// `here`, the hidden Accounts_SystemBlockedUsernameList) THROWS `error-blocked-username`;
    /// an existing username only returns false.
    pub fn username_available(&self, name: &str) -> Result<bool, ApiErr> {
        let blocked = self.setting_str("Accounts_BlockedUsernameList");
        let system = self.setting_str("Accounts_SystemBlockedUsernameList");
        let mut list: Vec<&str> = vec!["all", "here"];
        for l in [&blocked, &system] {
            list.extend(l.split(',').map(str::trim).filter(|s| !s.is_empty()));
        }
        if list.iter().any(|b| b.eq_ignore_ascii_case(name.trim())) {
            return Err(meteor_err(
                "error-blocked-username",
                &format!("{name} is blocked and can't be used!"),
                Some(json!({"method": "checkUsernameAvailability", "field": name})),
            ));
        }
        Ok(self.user_idx_by_username(name).is_none())
    }

    /// packages/password-policies/src/PasswordPolicy.ts validate(), configured from the
    /// Accounts_Password_Policy_* settings.
    pub fn validate_password(&self, pw: &str) -> Result<(), ApiErr> {
        let base = "The password provided does not meet the server's password policy.";
        if pw.trim().is_empty() {
            return Err(policy_err(base, None));
        }
        if !self.setting_bool("Accounts_Password_Policy_Enabled") {
            return Ok(());
        }
        let mut reasons: Vec<Value> = vec![];
        let mut push = |e: &str, m: &str| reasons.push(json!({"error": e, "message": m}));
        let min = self.setting_i64("Accounts_Password_Policy_MinLength");
        let max = self.setting_i64("Accounts_Password_Policy_MaxLength");
        let len = pw.chars().count() as i64;
        if min >= 1 && len < min {
            push(
                "error-password-policy-not-met-minLength",
                "The password does not meet the minimum length password policy.",
            );
        }
        if max >= 1 && len > max {
            push(
                "error-password-policy-not-met-maxLength",
                "The password does not meet the maximum length password policy.",
            );
        }
        if self.setting_bool("Accounts_Password_Policy_ForbidRepeatingCharacters") {
            // regex (.)\1{count,}: a run of count+1 equal characters.
            let count = self
                .setting_i64("Accounts_Password_Policy_ForbidRepeatingCharactersCount")
                .max(1) as usize;
            let chars: Vec<char> = pw.chars().collect();
            let mut run = 1;
            let mut bad = false;
            for w in chars.windows(2) {
                run = if w[0] == w[1] { run + 1 } else { 1 };
                if run > count {
                    bad = true;
                }
            }
            if bad {
                push(
                    "error-password-policy-not-met-repeatingCharacters",
                    "The password contains repeating characters which is against the password policy.",
                );
            }
        }
        if self.setting_bool("Accounts_Password_Policy_AtLeastOneLowercase")
            && !pw.chars().any(|c| c.is_ascii_lowercase())
        {
            push("error-password-policy-not-met-oneLowercase", "The password does not contain at least one lowercase character which is against the password policy.");
        }
        if self.setting_bool("Accounts_Password_Policy_AtLeastOneUppercase")
            && !pw.chars().any(|c| c.is_ascii_uppercase())
        {
            push("error-password-policy-not-met-oneUppercase", "The password does not contain at least one uppercase character which is against the password policy.");
        }
        if self.setting_bool("Accounts_Password_Policy_AtLeastOneNumber")
            && !pw.chars().any(|c| c.is_ascii_digit())
        {
            push("error-password-policy-not-met-oneNumber", "The password does not contain at least one numerical character which is against the password policy.");
        }
        if self.setting_bool("Accounts_Password_Policy_AtLeastOneSpecialCharacter")
            && !pw.chars().any(|c| !c.is_ascii_alphanumeric() && c != ' ')
        {
            push("error-password-policy-not-met-oneSpecial", "The password does not contain at least one special character which is against the password policy.");
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(policy_err(base, Some(Value::Array(reasons))))
        }
    }

    /// apps/meteor/server/startup/initialData.ts insertAdminUserFromEnv(): only with
    /// ADMIN_PASS and only while no user holds the admin role. Username falls back to
    /// `admin` when ADMIN_USERNAME is invalid or taken; the user gets roles ['admin']
    /// only (Users.create + addUserRolesAsync), no e-mail 2FA, and the e-mail is verified
    /// only with ADMIN_EMAIL_VERIFIED=true.
    pub fn insert_admin_from_env(&mut self, env: &HashMap<String, String>) -> Option<String> {
        let pass = env.get("ADMIN_PASS")?;
        if self.admin_exists() {
            return None;
        }
        let mut username = "admin".to_string();
        if let Some(u) = env.get("ADMIN_USERNAME") {
            // Only a throw (blocked name) falls back to `admin`; a taken name is kept
            // (initialData ignores checkUsernameAvailability's false), then Users.create fails.
            if valid_name(u) && self.username_available(u).is_ok() {
                username = u.clone();
            }
        }
        // A taken name: Users.create hits the unique username index and no admin is made.
        if self.user_idx_by_username(&username).is_some() {
            return None;
        }
        let mut emails = vec![];
        if let Some(e) = env.get("ADMIN_EMAIL") {
            if valid_email(e) && self.user_idx_by_email(e).is_none() {
                emails.push((
                    e.clone(),
                    env.get("ADMIN_EMAIL_VERIFIED").map(String::as_str) == Some("true"),
                ));
            }
        }
        let id = random_id(17);
        self.users.push(User {
            id: id.clone(),
            username,
            name: env
                .get("ADMIN_NAME")
                .cloned()
                .unwrap_or_else(|| "Administrator".into()),
            emails,
            password_digest: Some(sha256_hex(pass)),
            roles: vec!["admin".into()],
            active: true,
            kind: "user".into(),
            created_at: now_ms(),
            tokens: vec![],
            email2fa: false,
            email_code: None,
            require_password_change: false,
        });
        // initialData.ts: Show_Setup_Wizard pending -> in_progress once an admin exists.
        if self.setting_str("Show_Setup_Wizard") == "pending" {
            self.settings
                .insert("Show_Setup_Wizard".into(), json!("in_progress"));
        }
        Some(id)
    }

    /// Meteor packages/rate-limit/rate-limit.js as used by api.ts enforceRateLimit():
    /// one rule per route keyed by IP; the window is fixed per route and restarts on
    /// the first call after it elapsed; the call that makes the counter exceed the
    /// limit is refused. Headers are set from this result even when allowed.
    pub fn rate_check(&mut self, route: &str, ip: &str, now: Instant) -> RateResult {
        let limit = self
            .setting_i64("API_Enable_Rate_Limiter_Limit_Calls_Default")
            .max(0) as u64;
        self.rate_check_limit(route, ip, now, limit)
    }

    /// rate_check with a route's own `rateLimiterOptions.numRequestsAllowed`.
    pub fn rate_check_limit(
        &mut self,
        route: &str,
        ip: &str,
        now: Instant,
        limit: u64,
    ) -> RateResult {
        let window = self
            .setting_i64("API_Enable_Rate_Limiter_Limit_Time_Default")
            .max(0) as u64;
        let started = self.started;
        let rule = self.rate.entry(route.to_string()).or_insert(RateRule {
            last_reset: started,
            counters: HashMap::new(),
        });
        // increment()
        if now.duration_since(rule.last_reset).as_millis() as u64 > window {
            rule.counters.clear();
            rule.last_reset = now;
        }
        *rule.counters.entry(ip.to_string()).or_insert(0) += 1;
        // check()
        let since = now.duration_since(rule.last_reset).as_millis() as i64;
        let mut to_next = window as i64 - since;
        let mut n = rule.counters.get(ip).copied().unwrap_or(0);
        if to_next < 0 {
            rule.counters.clear();
            rule.last_reset = now;
            to_next = window as i64;
            n = 0;
        }
        if n > limit {
            RateResult {
                allowed: false,
                remaining: 0,
                time_to_reset_ms: to_next.max(0) as u64,
                limit,
            }
        } else {
            // rate-limit.js check(): timeToReset = timeToNextReset on allowed calls too.
            RateResult {
                allowed: true,
                remaining: limit - n,
                time_to_reset_ms: to_next.max(0) as u64,
                limit,
            }
        }
    }

    /// Adds a login token and applies the MAX_RESUME_LOGIN_TOKENS cap
    /// (apps/meteor/server/lib/accounts.ts Accounts.onLogin: keep the newest N).
    pub fn add_login_token(&mut self, idx: usize) -> String {
        let token = random_secret();
        let max = self.max_tokens;
        let u = &mut self.users[idx];
        u.tokens.push(LoginToken {
            hashed: sha256_hex(&token),
            when: now_ms(),
        });
        if u.tokens.len() > max {
            let drop = u.tokens.len() - max;
            u.tokens.drain(0..drop);
        }
        token
    }
}

// ---------------------------------------------------------------- JSON views

fn user_json(u: &User, full: bool) -> Value {
    let mut v = json!({
        "_id": u.id, "username": u.username, "name": u.name, "type": u.kind,
        "status": "offline", "active": u.active, "utcOffset": 0,
        "roles": u.roles, "createdAt": iso(u.created_at), "_updatedAt": iso(u.created_at),
    });
    if full {
        v["emails"] = Value::Array(
            u.emails
                .iter()
                .map(|(a, ver)| json!({"address": a, "verified": ver}))
                .collect(),
        );
        if u.require_password_change {
            v["requirePasswordChange"] = json!(true);
        }
    }
    v
}

fn room_json(st: &State, r: &Room) -> Value {
    let count = st.subs.iter().filter(|s| s.rid == r.id).count();
    let msgs = st.messages.iter().filter(|m| m.rid == r.id).count();
    let mut v = json!({
        "_id": r.id, "name": r.name, "fname": r.name, "t": r.t, "usersCount": count,
        "msgs": msgs, "ts": iso(r.ts), "_updatedAt": iso(r.ts), "ro": r.ro,
        "default": r.default, "sysMes": true, "muted": r.muted,
    });
    if !r.unmuted.is_empty() {
        v["unmuted"] = json!(r.unmuted);
    }
    if r.archived {
        v["archived"] = json!(true);
    }
    if !r.owner.0.is_empty() {
        v["u"] = json!({"_id": r.owner.0, "username": r.owner.1});
    }
    v
}

fn sub_json(st: &State, s: &Subscription) -> Value {
    let r = st.room_idx_by_id(&s.rid).map(|i| &st.rooms[i]);
    let u = st.user_idx_by_id(&s.uid).map(|i| &st.users[i]);
    let mut v = json!({
        "_id": s.id, "rid": s.rid, "name": r.map(|r| r.name.clone()), "fname": r.map(|r| r.name.clone()),
        "t": r.map(|r| r.t.clone()), "u": {"_id": s.uid, "username": u.map(|u| u.username.clone())},
        "open": true, "alert": false, "unread": 0, "ts": iso(s.ts), "ls": iso(s.ts), "_updatedAt": iso(s.ts),
    });
    if !s.roles.is_empty() {
        v["roles"] = json!(s.roles);
    }
    v
}

fn message_json(m: &Message) -> Value {
    let mut v = json!({
        "_id": m.id, "rid": m.rid, "msg": m.msg, "ts": iso(m.ts), "_updatedAt": iso(m.ts),
        "u": {"_id": m.uid, "username": m.username},
    });
    if let (Some(o), Value::Object(extra)) = (v.as_object_mut(), &m.extra) {
        for (k, val) in extra {
            o.insert(k.clone(), val.clone());
        }
    }
    v
}

/// A refused login: the Meteor.Error's `error`, reason and details (built once per refused
/// login; its size does not matter).
struct LoginFail {
    error: Value,
    message: String,
    details: Option<Value>,
}

impl LoginFail {
    fn new(error: Value, message: &str) -> LoginFail {
        LoginFail {
            error,
            message: message.to_string(),
            details: None,
        }
    }
}

// ---------------------------------------------------------------- requests

/// A parsed HTTP request, independent of the HTTP library (unit-testable).
#[derive(Debug, Clone, Default)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub body: Value,
    pub raw_body: String,
    pub ip: String,
    /// Query string as sent (without `?`), for the script's `request.url`.
    pub raw_query: String,
}

impl Req {
    fn header(&self, k: &str) -> Option<&str> {
        self.headers.get(k).map(String::as_str)
    }
    fn param(&self, k: &str) -> Option<String> {
        let v = if self.method == "GET" {
            self.query.get(k).map(|s| Value::String(s.clone()))
        } else {
            self.body.get(k).cloned()
        };
        match v {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub content_type: String,
    pub body: String,
}

impl Resp {
    fn json(status: u16, v: Value) -> Resp {
        Resp {
            status,
            headers: vec![],
            content_type: "application/json".into(),
            body: v.to_string(),
        }
    }
}

fn ok(mut v: Value) -> Result<Value, ApiErr> {
    if let Some(o) = v.as_object_mut() {
        o.insert("success".into(), json!(true));
    }
    Ok(v)
}

/// The simulator: state + config, shared by all worker threads.
pub struct Sim {
    pub state: Mutex<State>,
    pub cfg: Config,
    /// Live DDP sessions (presence), see ddp/mod.rs.
    pub ddp: ddp::Hub,
}

type Handler = fn(&Sim, &mut State, &Req, &str) -> Result<Value, ApiErr>;

struct Route {
    name: &'static str,
    method: &'static str,
    auth: bool,
    /// twoFactorRequired: true in the route options (users.update).
    two_factor: bool,
    handler: Handler,
}

const ROUTES: &[Route] = &[
    Route {
        name: "me",
        method: "GET",
        auth: true,
        two_factor: false,
        handler: h_me,
    },
    Route {
        name: "logout",
        method: "POST",
        auth: true,
        two_factor: false,
        handler: h_logout,
    },
    Route {
        name: "logout",
        method: "GET",
        auth: true,
        two_factor: false,
        handler: h_logout,
    },
    Route {
        name: "users.create",
        method: "POST",
        auth: true,
        two_factor: false,
        handler: h_users_create,
    },
    Route {
        name: "users.register",
        method: "POST",
        auth: false,
        two_factor: false,
        handler: h_users_register,
    },
    Route {
        name: "users.info",
        method: "GET",
        auth: true,
        two_factor: false,
        handler: h_users_info,
    },
    Route {
        name: "users.update",
        method: "POST",
        auth: true,
        two_factor: true,
        handler: h_users_update,
    },
    Route {
        name: "channels.create",
        method: "POST",
        auth: true,
        two_factor: false,
        handler: h_channels_create,
    },
    Route {
        name: "groups.create",
        method: "POST",
        auth: true,
        two_factor: false,
        handler: h_groups_create,
    },
    Route {
        name: "channels.info",
        method: "GET",
        auth: true,
        two_factor: false,
        handler: h_channels_info,
    },
    Route {
        name: "groups.info",
        method: "GET",
        auth: true,
        two_factor: false,
        handler: h_groups_info,
    },
    Route {
        name: "rooms.info",
        method: "GET",
        auth: true,
        two_factor: false,
        handler: h_rooms_info,
    },
    Route {
        name: "channels.invite",
        method: "POST",
        auth: true,
        two_factor: false,
        handler: h_channels_invite,
    },
    Route {
        name: "groups.invite",
        method: "POST",
        auth: true,
        two_factor: false,
        handler: h_groups_invite,
    },
    Route {
        name: "channels.setReadOnly",
        method: "POST",
        auth: true,
        two_factor: false,
        handler: h_channels_ro,
    },
    Route {
        name: "groups.setReadOnly",
        method: "POST",
        auth: true,
        two_factor: false,
        handler: h_groups_ro,
    },
    Route {
        name: "channels.addOwner",
        method: "POST",
        auth: true,
        two_factor: false,
        handler: h_c_add_owner,
    },
    Route {
        name: "groups.addOwner",
        method: "POST",
        auth: true,
        two_factor: false,
        handler: h_g_add_owner,
    },
    Route {
        name: "channels.addModerator",
        method: "POST",
        auth: true,
        two_factor: false,
        handler: h_c_add_mod,
    },
    Route {
        name: "groups.addModerator",
        method: "POST",
        auth: true,
        two_factor: false,
        handler: h_g_add_mod,
    },
    Route {
        name: "channels.history",
        method: "GET",
        auth: true,
        two_factor: false,
        handler: h_channels_history,
    },
    Route {
        name: "groups.history",
        method: "GET",
        auth: true,
        two_factor: false,
        handler: h_groups_history,
    },
    Route {
        name: "subscriptions.getOne",
        method: "GET",
        auth: true,
        two_factor: false,
        handler: h_sub_get_one,
    },
    Route {
        name: "permissions.listAll",
        method: "GET",
        auth: true,
        two_factor: false,
        handler: h_permissions,
    },
    Route {
        name: "integrations.create",
        method: "POST",
        auth: true,
        two_factor: false,
        handler: h_int_create,
    },
    Route {
        name: "integrations.list",
        method: "GET",
        auth: true,
        two_factor: false,
        handler: h_int_list,
    },
    Route {
        name: "integrations.get",
        method: "GET",
        auth: true,
        two_factor: false,
        handler: h_int_get,
    },
    Route {
        name: "integrations.update",
        method: "PUT",
        auth: true,
        two_factor: false,
        handler: h_int_update,
    },
    Route {
        name: "integrations.remove",
        method: "POST",
        auth: true,
        two_factor: false,
        handler: h_int_remove,
    },
    // DDP-backed presence and token removal: handlers in ddp/mod.rs.
    Route {
        name: "users.getPresence",
        method: "GET",
        auth: true,
        two_factor: false,
        handler: ddp::h_users_get_presence,
    },
    Route {
        name: "users.removeOtherTokens",
        method: "POST",
        auth: true,
        two_factor: false,
        handler: ddp::h_users_remove_other_tokens,
    },
    Route {
        name: "method.call/muteUserInRoom",
        method: "POST",
        auth: true,
        two_factor: false,
        handler: h_mute,
    },
    Route {
        name: "method.call/unmuteUserInRoom",
        method: "POST",
        auth: true,
        two_factor: false,
        handler: h_unmute,
    },
];

impl Sim {
    pub fn new(cfg: Config) -> Sim {
        Sim {
            state: Mutex::new(State::new(&cfg)),
            cfg,
            ddp: ddp::Hub::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panicking handler must not wedge the emulator: keep serving the state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Dispatches one request. Never panics on bad input.
    pub fn handle(&self, req: &Req) -> Resp {
        let path = req.path.trim_end_matches('/');
        let path = if path.is_empty() { "/" } else { path };
        if let Some(rest) = path.strip_prefix("/_sim/") {
            return self.sim_route(rest);
        }
        match path {
            "/health" => return self.health(),
            "/livez" | "/readyz" if self.cfg.version.has_livez() => return self.livez(path),
            "/api/info" => return self.info(req),
            _ => {}
        }
        if let Some(rest) = path.strip_prefix("/hooks/") {
            return self.hook(req, rest);
        }
        if let Some(name) = path.strip_prefix("/api/v1/") {
            if name == "login" && req.method == "POST" {
                return self.v1_wrapped(req, "login", |s, st| s.login(st, req));
            }
            if let Some(r) = ROUTES
                .iter()
                .find(|r| r.name == name && r.method == req.method)
            {
                return self.v1_route(req, r);
            }
        }
        // Unknown routes: the real server answers 404 (no JSON contract relied upon).
        Resp::json(
            404,
            json!({"success": false, "error": "Resource not found"}),
        )
    }

    fn unauthorized_resp(&self) -> Resp {
        // Restivus (6.13) answers unauthenticated calls itself (Restivus-era api.ts, find_string
        // id 123587997): no `success`, no `error`.
        if self.cfg.version == Version::V6_13 {
            return Resp::json(
                401,
                json!({"status": "error", "message": "You must be logged in to do this."}),
            );
        }
        // ApiClass.ts: api.unauthorized('You must be logged in to do this.') plus, before 8.0,
        // the legacy `status`/`message` fields.
        let mut b = json!({"success": false, "error": "You must be logged in to do this."});
        if !self.cfg.version.breaking() {
            b["status"] = json!("error");
            b["message"] = json!("You must be logged in to do this.");
        }
        Resp::json(401, b)
    }

    /// api.ts authenticatedRoute(): X-User-Id + X-Auth-Token (hashed) must match.
    fn authenticate(&self, st: &State, req: &Req) -> Option<String> {
        let uid = req.header("x-user-id")?;
        let tok = req.header("x-auth-token")?;
        let h = sha256_hex(tok);
        st.users
            .iter()
            .find(|u| u.id == uid && u.tokens.iter().any(|t| t.hashed == h))
            .map(|u| u.id.clone())
    }

    /// Rate limiting as in api.ts enforceRateLimit(); returns headers or the 429.
    fn rate_limit(
        &self,
        st: &mut State,
        route_key: &str,
        req: &Req,
        uid: Option<&str>,
        bypass_allowed: bool,
        own_limit: Option<u64>,
    ) -> Result<Vec<(String, String)>, Resp> {
        // shouldVerifyRateLimit(): setting on, and the caller lacks api-bypass-rate-limit.
        if !st.setting_bool("API_Enable_Rate_Limiter") {
            return Ok(vec![]);
        }
        if bypass_allowed {
            if let Some(uid) = uid {
                if st.has_permission(uid, "api-bypass-rate-limit", None) {
                    return Ok(vec![]);
                }
            }
        }
        // shouldAddRateLimitToRoute(): no rule when calls or window is 0.
        if st.setting_i64("API_Enable_Rate_Limiter_Limit_Calls_Default") <= 0
            || st.setting_i64("API_Enable_Rate_Limiter_Limit_Time_Default") <= 0
        {
            return Ok(vec![]);
        }
        // getRequestIP(): x-real-ip wins over the socket address.
        let ip = req.header("x-real-ip").unwrap_or(&req.ip).to_string();
        let r = match own_limit {
            Some(limit) => st.rate_check_limit(route_key, &ip, Instant::now(), limit),
            None => st.rate_check(route_key, &ip, Instant::now()),
        };
        let headers = vec![
            ("X-RateLimit-Limit".to_string(), r.limit.to_string()),
            ("X-RateLimit-Remaining".to_string(), r.remaining.to_string()),
            (
                "X-RateLimit-Reset".to_string(),
                (now_ms() + r.time_to_reset_ms).to_string(),
            ),
        ];
        if r.allowed {
            return Ok(headers);
        }
        let secs = r.time_to_reset_ms.div_ceil(1000);
        // api.ts: Meteor.Error('error-too-many-requests', ...) -> API.v1.tooManyRequests(e.message)
        let mut resp = Resp::json(
            429,
            json!({"success": false, "error": format!(
                "Error, too many requests. Please slow down. You must wait {secs} seconds before trying this endpoint again. [error-too-many-requests]")}),
        );
        resp.headers = headers;
        Err(resp)
    }

    fn v1_route(&self, req: &Req, r: &Route) -> Resp {
        let mut st = self.lock();
        let uid = self.authenticate(&st, req);
        // api.ts: the auth check runs before the rate limiter.
        if r.auth && uid.is_none() {
            return self.unauthorized_resp();
        }
        let key = format!("/api/v1/{}{}", r.name, r.method.to_lowercase());
        // users.register has its own rateLimiterOptions (Rate_Limiter_Limit_RegisterUser ?? 1).
        let own_limit = (r.name == "users.register").then(|| {
            match st.settings.get("Rate_Limiter_Limit_RegisterUser") {
                Some(Value::Number(n)) => n.as_u64().unwrap_or(1),
                _ => 1,
            }
        });
        let headers = match self.rate_limit(&mut st, &key, req, uid.as_deref(), true, own_limit) {
            Ok(h) => h,
            Err(resp) => return resp,
        };
        let uid_s = uid.unwrap_or_default();
        let result = if r.two_factor {
            self.two_factor(&mut st, &uid_s, req)
                .and_then(|_| (r.handler)(self, &mut st, req, &uid_s))
        } else {
            (r.handler)(self, &mut st, req, &uid_s)
        };
        let mut resp = match result {
            // After Restivus (PR #34999; here 7.10, 8.1) the logout action's `{status, data}` is read
            // as `{body, statusCode = 200}` by the router (apps/meteor/app/api/server/router.ts
            // express era @0715d8bb, packages/http-router/src/Router.ts Hono era): no body, an
            // empty 200. Restivus sent the object itself (no `success` field).
            Ok(_) if r.name == "logout" && !hook_router::literal_first(self.cfg.version) => Resp {
                status: 200,
                headers: vec![],
                content_type: "application/json".into(),
                body: String::new(),
            },
            Ok(v) => Resp::json(200, v),
            Err(e) => Resp::json(e.status, e.body),
        };
        resp.headers.extend(headers);
        resp
    }

    fn v1_wrapped(&self, req: &Req, name: &str, f: impl FnOnce(&Sim, &mut State) -> Resp) -> Resp {
        let mut st = self.lock();
        let key = format!("/api/v1/{name}{}", req.method.to_lowercase());
        // login has no user yet: never bypassed.
        let headers = match self.rate_limit(&mut st, &key, req, None, false, None) {
            Ok(h) => h,
            Err(resp) => return resp,
        };
        let mut resp = f(self, &mut st);
        resp.headers.extend(headers);
        resp
    }

    /// apps/meteor/app/2fa/server/code/index.ts checkCodeForUser() for REST routes with
    /// twoFactorRequired (api.ts processTwoFactor: x-2fa-code / x-2fa-method headers).
    fn two_factor(&self, st: &mut State, uid: &str, req: &Req) -> Result<(), ApiErr> {
        if !st.setting_bool("Accounts_TwoFactorAuthentication_Enabled") {
            return Ok(());
        }
        let Some(idx) = st.user_idx_by_id(uid) else {
            return Err(meteor_err(
                "totp-user-not-found",
                "TOTP User not found",
                None,
            ));
        };
        // isAuthorizedForToken(): users are remembered for RememberFor seconds after
        // their registration (createdAt), so a fresh admin passes without a code.
        let remember = st.setting_i64("Accounts_TwoFactorAuthentication_RememberFor");
        if remember > 0 && st.users[idx].created_at + (remember as u64) * 1000 >= now_ms() {
            return Ok(());
        }
        // rememberAuthorization(): after a good code the calling token is authorized, for this
        // IP + user agent, for RememberFor seconds.
        let ip = req.header("x-real-ip").unwrap_or(&req.ip);
        let remember_key = format!(
            "{}|{ip}|{}",
            sha256_hex(req.header("x-auth-token").unwrap_or("")),
            req.header("user-agent").unwrap_or("")
        );
        if remember > 0
            && st
                .two_factor_until
                .get(&remember_key)
                .is_some_and(|until| *until >= now_ms())
        {
            return Ok(());
        }
        let code = req.header("x-2fa-code").map(str::to_string);
        let method = req.header("x-2fa-method").map(str::to_string);
        let email_on = self.email_2fa_enabled(st, idx);
        // getSecondFactorMethod(): a named method only if it is a registered check
        // (totp, email); else the first active one; else the password fallback.
        let selected = match method.as_deref() {
            Some("email") => "email",
            _ if email_on => "email",
            _ if st.setting_bool("Accounts_TwoFactorAuthentication_Enforce_Password_Fallback")
                && st.users[idx].password_digest.is_some() =>
            {
                "password"
            }
            _ => return Ok(()),
        };
        let available: Vec<&str> = if email_on { vec!["email"] } else { vec![] };
        let mut details =
            json!({"method": selected, "codeGenerated": false, "availableMethods": available});
        if selected == "email" {
            details["codeGenerated"] = json!(true);
            details["emailOrUsername"] = json!(st.users[idx].username);
            if st.users[idx].email_code.is_none() {
                st.users[idx].email_code = Some(random_from(b"0123456789", 6));
            }
        }
        let Some(code) = code else {
            return Err(meteor_err("totp-required", "TOTP Required", Some(details)));
        };
        let valid = match selected {
            // PasswordCheckFallback.verify(): the code is the sha256 hex digest of the password.
            "password" => {
                st.users[idx].password_digest.as_deref() == Some(code.to_lowercase().as_str())
            }
            _ => {
                let digits: String = code.chars().filter(char::is_ascii_digit).collect();
                let good = st.users[idx].email_code.as_deref() == Some(digits.as_str());
                if good {
                    st.users[idx].email_code = None;
                }
                good
            }
        };
        if !valid {
            return Err(meteor_err("totp-invalid", "TOTP Invalid", Some(details)));
        }
        if remember > 0 {
            if st.two_factor_until.len() >= 10_000 {
                st.two_factor_until.clear(); // bounded memory
            }
            st.two_factor_until
                .insert(remember_key, now_ms() + remember as u64 * 1000);
        }
        Ok(())
    }

    /// apps/meteor/app/2fa/server/code/EmailCheck.ts isEnabled().
    fn email_2fa_enabled(&self, st: &State, idx: usize) -> bool {
        let u = &st.users[idx];
        st.setting_bool("Accounts_TwoFactorAuthentication_By_Email_Enabled")
            && u.email2fa
            && u.emails.iter().any(|(_, v)| *v)
    }

    // ------------------------------------------------------------ login

    fn login_error(&self, error: Value, message: &str, details: Option<Value>) -> Resp {
        // api.ts login catch: 401 unauthorized(); before 8.0 the Meteor error is spread in.
        // Restivus-era api.ts (6.13): `{statusCode: 401, body: {status:'error', error, details,
        // message}}`, no `success`.
        let mut b = if self.cfg.version == Version::V6_13 {
            json!({"error": "unauthorized"})
        } else {
            json!({"success": false, "error": "unauthorized"})
        };
        if !self.cfg.version.breaking() {
            b["status"] = json!("error");
            b["error"] = error;
            b["message"] = json!(message);
            if let Some(d) = details {
                b["details"] = d;
            }
        }
        Resp::json(401, b)
    }

    /// Meteor's login method as the REST route runs it: the login handler (resume or
    /// password) decides `allowed`, then validateLoginAttempt (brute-force blocks first, see
    /// login_block.rs; then inactive users, e-mail 2FA), then onLoginFailure /
    /// afterValidateLogin record the outcome.
    fn login(&self, st: &mut State, req: &Req) -> Resp {
        let ip = req.header("x-real-ip").unwrap_or(&req.ip).to_string();
        // methodArguments[0].user.username: only a username login (not e-mail, not resume).
        let b = &req.body;
        let by_name = match b.get("user").and_then(Value::as_str) {
            Some(u) if !u.contains('@') => Some(u.to_string()),
            Some(_) => None,
            None => b
                .get("username")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        let now = now_ms();
        let handled = self.login_handler(st, req);
        let outcome = match st.logins.check(&st.settings, &ip, by_name.as_deref(), now) {
            Some(block) => Err(LoginFail {
                error: json!(block.error()),
                message: block.reason().to_string(),
                details: Some(json!({"function": "Accounts.validateLoginAttempt"})),
            }),
            None => handled.and_then(|idx| self.validate_login(st, req, idx)),
        };
        match outcome {
            Ok((idx, token)) => {
                let username = st.users[idx].username.clone();
                st.logins.succeeded(&ip, &username, now);
                self.login_success(st, idx, token)
            }
            Err(f) => {
                let id = match &f.error {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                };
                // saveFailedLoginAttempts (restrictLoginAttempts.ts, post-#30018): stored under
                // `login.user?.username || methodArguments[0].user?.username`, so a failed e-mail
                // login of an existing user counts against that user (the check above reads
                // only the username given).
                let stored = login_identity(st, b).or(by_name);
                st.logins.failed(&ip, stored.as_deref(), &id, now);
                self.login_error(f.error, &f.message, f.details)
            }
        }
    }

    /// The login handlers: resume token (adds no token) or password. Ok(user index).
    fn login_handler(&self, st: &mut State, req: &Req) -> Result<usize, LoginFail> {
        let b = &req.body;
        // Resume login: exempt from 2FA (2fa/server/loginHandler.ts) and adds no token.
        if let Some(tok) = b.get("resume").and_then(Value::as_str) {
            let h = sha256_hex(tok);
            if let Some(idx) = st
                .users
                .iter()
                .position(|u| u.tokens.iter().any(|t| t.hashed == h))
            {
                return Ok(idx);
            }
            // Meteor accounts-base: "You've been logged out by the server. Please log in again." (403)
            return Err(LoginFail::new(
                json!(403),
                "You've been logged out by the server. Please log in again.",
            ));
        }
        // api.ts loginCompatibility(): user (email if it contains @) | username | email.
        let who = b
            .get("user")
            .and_then(Value::as_str)
            .map(|u| (u.contains('@'), u.to_string()))
            .or_else(|| {
                b.get("username")
                    .and_then(Value::as_str)
                    .map(|u| (false, u.to_string()))
            })
            .or_else(|| {
                b.get("email")
                    .and_then(Value::as_str)
                    .map(|u| (true, u.to_string()))
            });
        let digest = match b.get("password") {
            Some(Value::String(p)) => Some(sha256_hex(p)),
            Some(Value::Object(o)) => o
                .get("digest")
                .and_then(Value::as_str)
                .map(str::to_lowercase),
            _ => None,
        };
        let (Some((is_email, who)), Some(digest)) = (who, digest) else {
            return Err(LoginFail::new(json!("Unauthorized"), "Unauthorized"));
        };
        let idx = if is_email {
            st.user_idx_by_email(&who)
        } else {
            st.user_idx_by_username(&who)
        };
        // Meteor accounts-password: 'User not found' -> api.ts rewrites to Unauthorized.
        let Some(idx) = idx else {
            return Err(LoginFail::new(json!("Unauthorized"), "Unauthorized"));
        };
        if st.users[idx].password_digest.as_deref() != Some(digest.as_str()) {
            // Meteor accounts-password checkPassword(): Meteor.Error(403, 'Incorrect password').
            return Err(LoginFail::new(json!(403), "Incorrect password"));
        }
        Ok(idx)
    }

    /// validateLoginAttempt after the blocks: inactive users, e-mail 2FA; then the token.
    fn validate_login(
        &self,
        st: &mut State,
        req: &Req,
        idx: usize,
    ) -> Result<(usize, String), LoginFail> {
        let b = &req.body;
        if let Some(tok) = b.get("resume").and_then(Value::as_str) {
            return Ok((idx, tok.to_string()));
        }
        if !st.users[idx].active {
            // apps/meteor/server/lib/accounts.ts validateLoginAttempt: inactive users.
            return Err(LoginFail::new(
                json!("error-user-is-not-activated"),
                "User is not activated",
            ));
        }
        // 2fa/server/loginHandler.ts onValidateLogin: checkCodeForUser with
        // disablePasswordFallback, so only e-mail (or TOTP) 2FA applies to logins.
        if st.setting_bool("Accounts_TwoFactorAuthentication_Enabled")
            && self.email_2fa_enabled(st, idx)
        {
            let code = b
                .get("code")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| req.header("x-2fa-code").map(str::to_string));
            let details = json!({"method": "email", "codeGenerated": true,
                "emailOrUsername": st.users[idx].username, "availableMethods": ["email"]});
            match code {
                None => {
                    if st.users[idx].email_code.is_none() {
                        st.users[idx].email_code = Some(random_from(b"0123456789", 6));
                    }
                    return Err(LoginFail {
                        error: json!("totp-required"),
                        message: "TOTP Required".into(),
                        details: Some(details),
                    });
                }
                Some(c) => {
                    let digits: String = c.chars().filter(char::is_ascii_digit).collect();
                    if st.users[idx].email_code.as_deref() != Some(digits.as_str()) {
                        return Err(LoginFail {
                            error: json!("totp-invalid"),
                            message: "TOTP Invalid".into(),
                            details: Some(details),
                        });
                    }
                    st.users[idx].email_code = None;
                }
            }
        }
        let token = st.add_login_token(idx);
        Ok((idx, token))
    }

    fn login_success(&self, st: &State, idx: usize, token: String) -> Resp {
        let u = &st.users[idx];
        let mut b = json!({"status": "success", "success": true, "data": {
            "userId": u.id, "authToken": token, "me": me_json(st, idx)}});
        // Restivus (6.13) sends the action's raw `{status, data}`: no `success`.
        if self.cfg.version == Version::V6_13 {
            b.as_object_mut().map(|o| o.remove("success"));
        }
        Resp::json(200, b)
    }

    // ------------------------------------------------------------ misc routes

    fn health(&self) -> Resp {
        if self.cfg.version.has_livez() {
            // 7.11+: /health is a deprecated alias answering JSON.
            return Resp::json(200, json!({"status": "ok"}));
        }
        // apps/meteor/server/routes/health.ts (<= 7.10): text/plain "ok".
        Resp {
            status: 200,
            headers: vec![(
                "Cache-Control".into(),
                "no-cache, no-store, must-revalidate".into(),
            )],
            content_type: "text/plain".into(),
            body: "ok".into(),
        }
    }

    fn livez(&self, path: &str) -> Resp {
        if path == "/livez" {
            return Resp::json(200, json!({"status": "ok"}));
        }
        Resp::json(
            200,
            json!({"status": "ok", "checks": {
            "memory": {"status": "ok", "percentile": 10.0},
            "eventLoop": {"status": "ok", "lagMs": 1.0},
            "mongo": {"status": "ok"}}}),
        )
    }

    /// apps/meteor/app/api/server/lib/getServerInfo.ts: version trimmed to major.minor
    /// unless the caller holds view-statistics, then the full version plus `info`. From 7.x
    /// (ApiClass.ts @ 019378e3) `info` is `authRequired: false` and the router authenticates
    /// only authRequired/authOrAnonRequired routes: `this.userId` is always undefined, so
    /// nobody gets the full version. 6.13 (Restivus) is kept as first read (not re-verified).
    fn info(&self, req: &Req) -> Resp {
        let st = self.lock();
        let full = self.cfg.version == Version::V6_13
            && self
                .authenticate(&st, req)
                .map(|uid| st.has_permission(&uid, "view-statistics", None))
                .unwrap_or(false);
        let v = self.cfg.version.as_str();
        let short: String = v
            .rsplit_once('.')
            .map(|(a, _)| a.to_string())
            .unwrap_or_default();
        let mut b = json!({"version": short, "minimumClientVersions": {"desktop": "3.9.6", "mobile": "4.39.0"}, "success": true});
        if full {
            b["version"] = json!(v);
            b["info"] = json!({"version": v, "build": {"nodeVersion": "v22"}});
        }
        Resp::json(200, b)
    }

    // ------------------------------------------------------------ webhooks

    fn engine(&self) -> script::Engine {
        script::Engine {
            node: self.cfg.node.clone(),
            timeout: self.cfg.script_timeout,
        }
    }

    /// apps/meteor/app/integrations/server/api/api.ts, routed as the emulated release's router
    /// does (hook_router.rs); WebHookAPI.authenticatedRoute finds the integration by id+token.
    fn hook(&self, req: &Req, rest: &str) -> Resp {
        let parts: Vec<&str> = rest.split('/').collect();
        let Some(m) = hook_router::route(self.cfg.version, &req.method, &parts) else {
            return Resp::json(
                404,
                json!({"success": false, "error": "Resource not found"}),
            );
        };
        let is_info = m.route == hook_router::HookRoute::Info;
        let (id, user_part) = (m.integration_id, m.user_id);
        let mut st = self.lock();
        let token = percent_decode(m.token);
        let Some(ii) = st.integrations.iter().position(|i| {
            i["_id"] == json!(id)
                && i["token"] == json!(token)
                && i["type"] == json!("webhook-incoming")
        }) else {
            return self.invalid_hook();
        };
        // WebHookAPI.shouldVerifyRateLimit(): only the setting counts, no bypass
        // permission; the rule is keyed by the full hook URL.
        let key = format!("/hooks/{rest}{}", req.method.to_lowercase());
        let headers = match self.rate_limit(&mut st, &key, req, None, false, None) {
            Ok(h) => h,
            Err(r) => return r,
        };
        let mut resp = if is_info {
            Resp::json(200, json!({"success": true}))
        } else {
            let mut params = json!({"integrationId": percent_decode(id), "token": token});
            if let Some(u) = user_part {
                params["userId"] = json!(percent_decode(u));
            }
            let integ = st.integrations[ii].clone();
            // The script may run for seconds: never hold the state lock meanwhile.
            drop(st);
            self.execute_hook(&integ, req, params)
        };
        resp.headers.extend(headers);
        resp
    }

    /// No integration for that id+token. Restivus: the auth.user hook answers 404
    /// `{success:false, error:"Invalid integration id or token provided."}`. Later releases
    /// throw that Error from authenticatedRoute outside the endpoint's try/catch (ApiClass.ts);
    /// the Hono app has no onError, so Hono's default handler answers 500
    /// `Internal Server Error` (text/plain).
    fn invalid_hook(&self) -> Resp {
        if hook_router::literal_first(self.cfg.version) {
            return Resp::json(
                404,
                json!({"success": false, "error": "Invalid integration id or token provided."}),
            );
        }
        Resp {
            status: 500,
            headers: vec![],
            content_type: "text/plain; charset=UTF-8".into(),
            body: "Internal Server Error".into(),
        }
    }

    /// api.ts executeIntegrationRest(): enabled check, the integration script (if any), then
    /// processWebhookMessage() with the script's `content` or the request body.
    fn execute_hook(&self, integ: &Value, req: &Req, url_params: Value) -> Resp {
        if integ["enabled"] != json!(true) {
            return Resp::json(
                503,
                json!({"success": false, "error": "Service Unavailable"}),
            );
        }
        let mut body = req.body.clone();
        let mut script_response = None;
        let mut sim_meta = json!({"scriptRun": false});
        if script::has_valid_script(integ) {
            let request = {
                let st = self.lock();
                script_request(&st, integ, req, url_params)
            };
            let code = integ["scriptCompiled"].as_str().unwrap_or_default();
            let outcome = self.engine().run_incoming(code, &request);
            match self.script_verdict(integ, outcome) {
                Ok((content, response, meta)) => {
                    body = content;
                    script_response = response;
                    sim_meta = meta;
                }
                Err(r) => return r,
            }
        }
        let mut st = self.lock();
        match self.post_webhook(&mut st, integ, req, &body, sim_meta) {
            Ok(()) => match script_response {
                // API.v1.success(scriptResponse): objects get success:true, others go as-is.
                Some(Value::Object(mut o)) => {
                    o.insert("success".into(), json!(true));
                    Resp::json(200, Value::Object(o))
                }
                Some(v) => Resp::json(200, v),
                None => Resp::json(200, json!({"success": true})),
            },
            Err(e) => Resp::json(e.status, e.body),
        }
    }

    /// What executeIntegrationRest() makes of the script run. Ok = post (content, response,
    /// `_sim` fields); Err = the final answer. Failures are logged on stderr like the real
    /// server logs them (incomingLogger.error), one JSON line.
    fn script_verdict(
        &self,
        integ: &Value,
        outcome: script::Outcome,
    ) -> Result<(Value, Option<Value>, Value), Resp> {
        use script::Outcome;
        let name = integ["name"].clone();
        let log = |stage: &str, err: &str| {
            eprintln!(
                "{}",
                json!({"msg": "integration script failed", "integration": name, "stage": stage, "error": err})
            );
        };
        let fail = |error: &str| Resp::json(400, json!({"success": false, "error": error}));
        match outcome {
            // isolated-vm.ts getIntegrationScript(): any evaluation failure is rethrown as
            // Error('error-evaluating-script'); ApiClass turns a thrown Error into
            // API.v1.failure(e.message) -> 400 {success:false, error}.
            Outcome::Engine(e) => {
                log("engine", &e);
                Err(fail("error-evaluating-script"))
            }
            Outcome::Evaluate(e) => {
                log("evaluate", &e);
                Err(fail("error-evaluating-script"))
            }
            // ScriptEngine.ts executeIncomingScript(): a missing method is logged and the
            // result is undefined -> `if (!result) return API.v1.success()`.
            Outcome::MissingMethod { .. } => {
                log(
                    "missing-method",
                    "Method \"process_incoming_request\" not found",
                );
                Err(Resp::json(200, json!({"success": true})))
            }
            // executeIncomingScript(): errors while running -> Error('error-running-script').
            Outcome::Run(e) => {
                log("run", &e);
                Err(fail("error-running-script"))
            }
            Outcome::Result { value, logs } => {
                if !script::truthy(&value) {
                    return Err(Resp::json(200, json!({"success": true})));
                }
                if script::truthy(&value["error"]) {
                    // API.v1.failure(result.error): an object is the body (+ success:false),
                    // anything else becomes `error`.
                    let b = match value["error"].clone() {
                        Value::Object(mut o) => {
                            o.insert("success".into(), json!(false));
                            Value::Object(o)
                        }
                        v => json!({"success": false, "error": v}),
                    };
                    return Err(Resp::json(400, b));
                }
                let content = value["content"].clone();
                if !content.is_object() && !content.is_array() {
                    // `'separateResponse' in bodyParams` throws a TypeError inside the try ->
                    // API.v1.failure('error-running-script').
                    log("result", "the result has no `content` object");
                    return Err(fail("error-running-script"));
                }
                let response = value.get("response").cloned().filter(script::truthy);
                let meta = json!({"scriptRun": true, "scriptResult": value, "scriptLogs": logs});
                Ok((content, response, meta))
            }
        }
    }

    /// The part of executeIntegrationRest() after the script, and processWebhookMessage()
    /// (apps/meteor/app/lib/server/functions/processWebhookMessage.ts).
    fn post_webhook(
        &self,
        st: &mut State,
        integ: &Value,
        req: &Req,
        body: &Value,
        sim_meta: Value,
    ) -> Result<(), ApiErr> {
        let script_enabled = integ["scriptEnabled"] == json!(true);
        let empty = match body {
            Value::Object(o) => o.is_empty(),
            Value::Array(a) => a.is_empty(),
            _ => true,
        };
        if empty && !script_enabled {
            return Ok(());
        }
        if (script::truthy(&body["channel"]) || script::truthy(&body["roomId"]))
            && integ["overrideDestinationChannelEnabled"] != json!(true)
        {
            return Err(failure(
                "overriding destination channel is disabled for this integration",
            ));
        }
        let uid = integ["userId"].as_str().unwrap_or_default().to_string();
        let Some(uidx) = st.user_idx_by_id(&uid) else {
            return Err(failure("unknown-error"));
        };
        let username = st.users[uidx].username.clone();
        // messageObj.channel || messageObj.roomId || defaultValues.channel, ensureArray, unique.
        let target = [&body["channel"], &body["roomId"], &integ["channel"]]
            .into_iter()
            .find(|v| script::truthy(v))
            .cloned()
            .unwrap_or(Value::Null);
        let mut channels: Vec<String> = vec![];
        let list = match target {
            Value::Array(a) => a,
            v => vec![v],
        };
        for c in list {
            let c = match c {
                Value::String(s) => s,
                Value::Null => continue,
                v => v.to_string(),
            };
            if !channels.contains(&c) {
                channels.push(c);
            }
        }
        let (text, extra_fields) = webhook_message(body, integ);
        for ch in channels {
            let ri = match ch.chars().next() {
                // Direct messages are not emulated: nothing is stored for `@user` targets.
                Some('@') => continue,
                Some('#') => st
                    .room_idx_by_name(&ch[1..])
                    .or_else(|| st.room_idx_by_id(&ch[1..])),
                // No prefix: room by id or name (then a DM by user id, not emulated).
                _ => st.room_idx_by_id(&ch).or_else(|| st.room_idx_by_name(&ch)),
            };
            // getRoomByNameOrIdWithOptionToJoin(): unknown room -> Meteor.Error('invalid-channel')
            let Some(ri) = ri else {
                return Err(failure("invalid-channel"));
            };
            let rid = st.rooms[ri].id.clone();
            if st.sub(&rid, &uid).is_none() {
                if st.rooms[ri].t == "c" {
                    // getRoomByNameOrIdWithOptionToJoin({joinChannel: true}) joins public rooms.
                    add_sub(st, &rid, &uid, vec![]);
                } else {
                    return Err(failure("invalid-channel"));
                }
            }
            // apps/meteor/app/authorization/server/functions/canSendMessage.ts
            // (unless the user was unmuted by hand in the read-only room).
            if st.rooms[ri].ro
                && !st.has_permission(&uid, "post-readonly", Some(&rid))
                && !st.rooms[ri].unmuted.iter().any(|u| u == &username)
            {
                return Err(failure(
                    "You can't send messages because the room is readonly.",
                ));
            }
            if st.rooms[ri].muted.iter().any(|m| m == &username) {
                return Err(failure("You_have_been_muted"));
            }
            let mut extra = extra_fields.clone();
            extra["_sim"] = json!({"rawBody": req.raw_body, "contentType": req.header("content-type"),
                "scriptEnabled": script_enabled, "script": integ.get("script"),
                "headers": req.headers});
            if let (Some(o), Value::Object(m)) = (extra["_sim"].as_object_mut(), &sim_meta) {
                o.extend(m.clone());
            }
            st.messages.push(Message {
                id: random_id(17),
                rid,
                msg: text.clone(),
                uid: uid.clone(),
                username: username.clone(),
                ts: now_ms(),
                extra,
            });
        }
        Ok(())
    }

    // ------------------------------------------------------------ /_sim/

    /// NOT Rocket.Chat: inspection routes for tests.
    fn sim_route(&self, rest: &str) -> Resp {
        let mut st = self.lock();
        let parts: Vec<String> = rest.split('/').map(percent_decode).collect();
        match parts
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["users", name] => match st.user_idx_by_username(name) {
                Some(i) => {
                    let u = &st.users[i];
                    Resp::json(
                        200,
                        json!({
                            "_id": u.id, "username": u.username, "roles": u.roles,
                            "loginTokens": u.tokens.len(),
                            "emails": u.emails.iter().map(|(a, v)| json!({"address": a, "verified": v})).collect::<Vec<_>>(),
                            "2fa": {"email2fa": u.email2fa, "emailCode": u.email_code},
                            "active": u.active, "type": u.kind,
                        }),
                    )
                }
                None => Resp::json(404, json!({"error": "no such user"})),
            },
            ["rooms", name, "messages"] => match st.room_idx_by_name(name) {
                Some(i) => {
                    let rid = &st.rooms[i].id;
                    let msgs: Vec<Value> = st
                        .messages
                        .iter()
                        .filter(|m| &m.rid == rid)
                        .map(message_json)
                        .collect();
                    Resp::json(200, json!({"messages": msgs}))
                }
                None => Resp::json(404, json!({"error": "no such room"})),
            },
            ["rooms", name] => match st.room_idx_by_name(name) {
                Some(i) => {
                    let r = &st.rooms[i];
                    let members: Vec<Value> = st
                        .subs
                        .iter()
                        .filter(|s| s.rid == r.id)
                        .map(|s| {
                            let un = st
                                .user_idx_by_id(&s.uid)
                                .map(|i| st.users[i].username.clone());
                            json!({"username": un, "roles": s.roles})
                        })
                        .collect();
                    let mut v = room_json(&st, r);
                    v["members"] = json!(members);
                    Resp::json(200, v)
                }
                None => Resp::json(404, json!({"error": "no such room"})),
            },
            ["rooms", name, "archive"] => match st.room_idx_by_name(name) {
                Some(i) => {
                    st.rooms[i].archived = true;
                    Resp::json(200, json!({"archived": name}))
                }
                None => Resp::json(404, json!({"error": "no such room"})),
            },
            ["logins"] => Resp::json(
                200,
                json!({"failed": st.logins.failed_total, "succeeded": st.logins.ok_total}),
            ),
            ["settings"] => Resp::json(200, Value::Object(st.settings.clone())),
            ["integrations"] => Resp::json(200, json!({"integrations": st.integrations})),
            _ => Resp::json(404, json!({"error": "unknown /_sim/ route"})),
        }
    }
}

/// The `request` executeIntegrationRest() (api.ts) hands to process_incoming_request.
fn script_request(st: &State, integ: &Value, req: &Req, url_params: Value) -> Value {
    let search = if req.raw_query.is_empty() {
        String::new()
    } else {
        format!("?{}", req.raw_query)
    };
    let path = format!("{}{search}", req.path);
    let uid = integ["userId"].as_str().unwrap_or_default();
    let user = match st.user_idx_by_id(uid) {
        Some(i) => {
            json!({"_id": uid, "name": st.users[i].name, "username": st.users[i].username})
        }
        None => json!({"_id": uid, "name": "", "username": null}),
    };
    json!({
        "url": {"hash": "", "search": search, "query": req.query, "pathname": req.path, "path": path},
        "url_raw": path,
        "url_params": url_params,
        "content": req.body,
        "content_raw": req.raw_body,
        "headers": req.headers,
        "body": req.body,
        "user": user,
    })
}

/// underscore `_.isEmpty` for JSON values (strings, arrays, objects by length; others empty).
fn is_empty_js(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => true,
    }
}

/// `a || b || c` in JS.
fn js_or<'a>(vals: &[&'a Value]) -> &'a Value {
    vals.iter()
        .copied()
        .find(|v| script::truthy(v))
        .unwrap_or(vals[vals.len() - 1])
}

/// processWebhookMessage.ts: the message built from the payload (or the script's content)
/// and the integration's defaults (alias, avatar, emoji). Returns (msg, other fields).
fn webhook_message(body: &Value, integ: &Value) -> (String, Value) {
    let text = match js_or(&[&body["text"], &body["msg"]]) {
        Value::String(s) => s.trim().to_string(),
        Value::Null => String::new(),
        v if !script::truthy(v) => String::new(),
        v => v.to_string(),
    };
    let def_alias = js_or(&[&integ["alias"], &json!("")]).clone();
    // Attachments that are not an array are ignored (logged as a warning).
    let attachments = match &body["attachments"] {
        Value::Array(a) => Some(
            a.iter()
                .map(|att| {
                    let mut att = att.clone();
                    if let Some(o) = att.as_object_mut() {
                        if let Some(m) = o.remove("msg").filter(script::truthy) {
                            let t = m.as_str().map(|s| s.trim().to_string());
                            o.insert("text".into(), t.map(Value::String).unwrap_or(m));
                        }
                    }
                    att
                })
                .collect::<Vec<_>>(),
        ),
        _ => None,
    };
    let mut m = json!({
        "bot": {"i": integ["_id"]},
        "alias": js_or(&[&body["username"], &body["alias"], &def_alias]),
        "attachments": attachments.clone().unwrap_or_default(),
        "parseUrls": body.get("parseUrls").cloned().unwrap_or(json!(attachments.is_none())),
        "groupable": body.get("groupable").cloned().unwrap_or(json!(false)),
    });
    for k in ["tmid", "customFields"] {
        if let Some(v) = body.get(k).filter(|v| !v.is_null()) {
            m[k] = v.clone();
        }
    }
    if !is_empty_js(&body["icon_url"]) || !is_empty_js(&body["avatar"]) {
        m["avatar"] = js_or(&[&body["icon_url"], &body["avatar"]]).clone();
    } else if !is_empty_js(&body["icon_emoji"]) || !is_empty_js(&body["emoji"]) {
        m["emoji"] = js_or(&[&body["icon_emoji"], &body["emoji"]]).clone();
    } else if !is_empty_js(&integ["avatar"]) {
        m["avatar"] = integ["avatar"].clone();
    } else if !is_empty_js(&integ["emoji"]) {
        m["emoji"] = integ["emoji"].clone();
    }
    (text, m)
}

/// addIncomingIntegration.ts / updateIncomingIntegration.ts: with `scriptEnabled === true` and
/// a non-blank script, compileIntegrationScript() sets `scriptCompiled` or, on a syntax error,
/// `scriptError` (and no scriptCompiled). Babel is not available here: the script is stored
/// untranspiled after the same syntax check as the `skipTranspile` path (validateOnly).
fn compile_script(sim: &Sim, integ: &mut Value) {
    let Some(o) = integ.as_object_mut() else {
        return;
    };
    let src = o.get("script").and_then(Value::as_str).unwrap_or_default();
    if o.get("scriptEnabled") != Some(&json!(true)) || src.trim().is_empty() {
        return;
    }
    match sim.engine().check_syntax(src) {
        Ok(None) => {
            o.insert("scriptCompiled".into(), json!(src));
            o.remove("scriptError");
        }
        Ok(Some(err)) => {
            o.remove("scriptCompiled");
            o.insert("scriptError".into(), err);
        }
        Err(e) => {
            // Cannot check without node: keep the script; running it will fail the same way.
            eprintln!(
                "{}",
                json!({"msg": "integration script not checked", "error": e})
            );
            o.insert("scriptCompiled".into(), json!(src));
            o.remove("scriptError");
        }
    }
}

/// The user a password login names (by username, case-insensitively as Meteor finds it, or by
/// e-mail): Meteor's `login.user` even when the password is wrong. None for resume logins.
fn login_identity(st: &State, b: &Value) -> Option<String> {
    let (is_email, who) = b
        .get("user")
        .and_then(Value::as_str)
        .map(|u| (u.contains('@'), u))
        .or_else(|| {
            b.get("username")
                .and_then(Value::as_str)
                .map(|u| (false, u))
        })
        .or_else(|| b.get("email").and_then(Value::as_str).map(|u| (true, u)))?;
    let idx = if is_email {
        st.user_idx_by_email(who)
    } else {
        st.user_idx_by_username(who)
    }?;
    Some(st.users[idx].username.clone())
}

fn me_json(st: &State, idx: usize) -> Value {
    let mut v = user_json(&st.users[idx], true);
    v["settings"] = json!({"preferences": {}});
    v
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn add_sub(st: &mut State, rid: &str, uid: &str, roles: Vec<String>) {
    if st.sub(rid, uid).is_none() {
        st.subs.push(Subscription {
            id: random_id(17),
            rid: rid.to_string(),
            uid: uid.to_string(),
            roles,
            ts: now_ms(),
        });
    }
}

// ---------------------------------------------------------------- handlers

fn h_me(_: &Sim, st: &mut State, _: &Req, uid: &str) -> Result<Value, ApiErr> {
    let idx = st
        .user_idx_by_id(uid)
        .ok_or_else(|| failure("User not found"))?;
    ok(me_json(st, idx))
}

fn h_logout(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    // api.ts logout: $pull the hashed token of this request.
    let h = sha256_hex(req.header("x-auth-token").unwrap_or_default());
    if let Some(i) = st.user_idx_by_id(uid) {
        st.users[i].tokens.retain(|t| t.hashed != h);
    }
    // The logout action returns `{status, data}` itself, not API.v1.success(): no `success`
    // field. Post-Restivus routers read it as a route result (`{statusCode, body}`) that has
    // neither, so the answer is an empty 200 (see Sim::v1_route).
    Ok(json!({"status": "success", "data": {"message": "You've been logged out!"}}))
}

/// packages/rest-typings users.create schema (additionalProperties: false).
const USERS_CREATE_FIELDS: &[&str] = &[
    "email",
    "name",
    "password",
    "username",
    "active",
    "bio",
    "nickname",
    "statusText",
    "roles",
    "joinDefaultChannels",
    "requirePasswordChange",
    "setRandomPassword",
    "sendWelcomeEmail",
    "verified",
    "customFields",
    "fields",
    "settings",
];

fn invalid_params(msg: &str) -> ApiErr {
    // api.ts: Meteor.Error('invalid-params', ajv errors joined by '\n ').
    meteor_err("invalid-params", msg, None)
}

fn reject_unknown(body: &Value, allowed: &[&str]) -> Result<(), ApiErr> {
    let Some(o) = body.as_object() else {
        return Err(invalid_params("must be object"));
    };
    if o.keys().any(|k| !allowed.contains(&k.as_str())) {
        return Err(invalid_params("must NOT have additional properties"));
    }
    Ok(())
}

fn str_field(b: &Value, k: &str) -> Option<String> {
    b.get(k).and_then(Value::as_str).map(str::to_string)
}

/// apps/meteor/app/lib/server/functions/saveUser/{validateUserData,saveNewUser}.ts and
/// Accounts.insertUserDoc (apps/meteor/app/lib/server/lib/... onCreateUser): validation
/// order, password policy, `user` role, first user without an admin becomes admin,
/// e-mail 2FA auto opt-in.
#[allow(clippy::too_many_arguments)] // mirrors the saveUser field list
fn create_user(
    st: &mut State,
    username: &str,
    name: &str,
    email: &str,
    password: &str,
    verified: bool,
    roles: Option<Vec<String>>,
    active: bool,
) -> Result<usize, ApiErr> {
    if st.setting_bool("Accounts_RequireNameForSignUp") && name.trim().is_empty() {
        return Err(meteor_err(
            "error-the-field-is-required",
            "The field Name is required",
            Some(json!({"method": "insertOrUpdateUser", "field": "Name"})),
        ));
    }
    if username.trim().is_empty() {
        return Err(meteor_err(
            "error-the-field-is-required",
            "The field Username is required",
            Some(json!({"method": "insertOrUpdateUser", "field": "Username"})),
        ));
    }
    if !valid_name(username) {
        return Err(meteor_err(
            "error-input-is-not-a-valid-field",
            &format!("{username} is not a valid username"),
            Some(json!({"method": "insertOrUpdateUser", "input": username, "field": "Username"})),
        ));
    }
    if password.is_empty() {
        return Err(meteor_err(
            "error-the-field-is-required",
            "The field Password is required",
            Some(json!({"method": "insertOrUpdateUser", "field": "Password"})),
        ));
    }
    if !st.username_available(username)? {
        return Err(meteor_err(
            "error-field-unavailable",
            &format!("{username} is already in use :("),
            Some(json!({"method": "insertOrUpdateUser", "field": username})),
        ));
    }
    if !email.is_empty() && st.user_idx_by_email(email).is_some() {
        return Err(meteor_err(
            "error-field-unavailable",
            &format!("{email} is already in use :("),
            Some(json!({"method": "insertOrUpdateUser", "field": email})),
        ));
    }
    st.validate_password(password)?;
    let mut roles = roles
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| vec!["user".into()]);
    if !st.admin_exists() && !roles.iter().any(|r| r == "admin") {
        roles.push("admin".into());
    }
    let email2fa = st.setting_bool("Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In");
    st.users.push(User {
        id: random_id(17),
        username: username.to_string(),
        name: name.to_string(),
        emails: if email.is_empty() {
            vec![]
        } else {
            vec![(email.to_string(), verified)]
        },
        password_digest: Some(sha256_hex(password)),
        roles,
        active,
        kind: "user".into(),
        created_at: now_ms(),
        tokens: vec![],
        email2fa,
        email_code: None,
        require_password_change: false,
    });
    if st.setting_str("Show_Setup_Wizard") == "pending" && st.admin_exists() {
        st.settings
            .insert("Show_Setup_Wizard".into(), json!("in_progress"));
    }
    Ok(st.users.len() - 1)
}

fn h_users_create(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    reject_unknown(&req.body, USERS_CREATE_FIELDS)?;
    let b = &req.body;
    for f in ["email", "name", "password", "username"] {
        if str_field(b, f).is_none() {
            return Err(invalid_params(&format!(
                "must have required property '{f}'"
            )));
        }
    }
    if !st.has_permission(uid, "create-user", None) {
        return Err(meteor_err(
            "error-action-not-allowed",
            "Adding user is not allowed",
            Some(json!({"method": "insertOrUpdateUser", "action": "Adding_user"})),
        ));
    }
    let roles: Option<Vec<String>> = b.get("roles").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|r| r.as_str().map(str::to_string))
            .collect()
    });
    let idx = create_user(
        st,
        &str_field(b, "username").unwrap_or_default(),
        &str_field(b, "name").unwrap_or_default(),
        &str_field(b, "email").unwrap_or_default(),
        &str_field(b, "password").unwrap_or_default(),
        b.get("verified").and_then(Value::as_bool).unwrap_or(false),
        roles,
        b.get("active").and_then(Value::as_bool).unwrap_or(true),
    )?;
    if b.get("requirePasswordChange").and_then(Value::as_bool) == Some(true) {
        st.users[idx].require_password_change = true;
    }
    ok(json!({"user": user_json(&st.users[idx], true)}))
}

/// apps/meteor/app/api/server/v1/users.ts `users.register` (6.x/7.x async era, find_string
/// ids 108728258 / 11365695037): validateParams (username, email, pass, name), then the route's
/// own checks with plain failures — `validateUsername` → "The username provided is not valid",
/// checkUsernameAvailability (throws error-blocked-username; false → "Username is already in
/// use") — and only then the registerUser method (Disabled / Secret URL, checked against the
/// body's `secret` field), then the user itself.
fn h_users_register(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    let b = &req.body;
    for f in ["username", "email", "pass", "name"] {
        if str_field(b, f).is_none() {
            return Err(invalid_params(&format!(
                "must have required property '{f}'"
            )));
        }
    }
    if !uid.is_empty() {
        return Err(failure("Logged in users can not register again."));
    }
    let username = str_field(b, "username").unwrap_or_default();
    if !valid_name(&username) {
        return Err(failure("The username provided is not valid"));
    }
    if !st.username_available(&username)? {
        return Err(failure("Username is already in use"));
    }
    // apps/meteor/app/lib/server/methods/registerUser (registerUser method).
    match st.setting_str("Accounts_RegistrationForm").as_str() {
        "Disabled" => {
            return Err(meteor_err(
                "error-user-registration-disabled",
                "User registration is disabled",
                Some(json!({"method": "registerUser"})),
            ))
        }
        "Secret URL"
            if str_field(b, "secret")
                != Some(st.setting_str("Accounts_RegistrationForm_SecretURL")) =>
        {
            return Err(meteor_err(
                "error-user-registration-secret",
                "User registration is only allowed via Secret URL",
                Some(json!({"method": "registerUser"})),
            ))
        }
        _ => {}
    }
    let idx = create_user(
        st,
        &username,
        &str_field(b, "name").unwrap_or_default(),
        &str_field(b, "email").unwrap_or_default(),
        &str_field(b, "pass").unwrap_or_default(),
        false,
        None,
        true,
    )?;
    ok(json!({"user": user_json(&st.users[idx], false)}))
}

/// apps/meteor/app/api/server/helpers/getUserFromParams.ts
fn user_from_params(st: &State, req: &Req) -> Result<usize, ApiErr> {
    let idx = if let Some(id) = req.param("userId") {
        st.user_idx_by_id(&id)
    } else if let Some(un) = req.param("username") {
        st.user_idx_by_username(&un)
    } else {
        return Err(meteor_err(
            "error-user-param-not-provided",
            "The required \"userId\" or \"username\" param was not provided",
            None,
        ));
    };
    idx.ok_or_else(|| {
        meteor_err(
            "error-invalid-user",
            "The required \"userId\" or \"username\" param provided does not match any users",
            None,
        )
    })
}

/// apps/meteor/app/api/server/v1/users.ts users.info: an unknown user is
/// `API.v1.failure('User not found.')` (no errorType), not getUserFromParams' error.
fn h_users_info(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    let idx = match user_from_params(st, req) {
        Err(e) if e.body["errorType"] == json!("error-invalid-user") => {
            return Err(failure("User not found."))
        }
        r => r?,
    };
    let full = st.has_permission(uid, "view-full-other-user-info", None) || st.users[idx].id == uid;
    ok(json!({"user": user_json(&st.users[idx], full)}))
}

fn h_users_update(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    reject_unknown(&req.body, &["userId", "data", "confirmRelogin"])?;
    let target = str_field(&req.body, "userId")
        .ok_or_else(|| invalid_params("must have required property 'userId'"))?;
    let data = req
        .body
        .get("data")
        .cloned()
        .ok_or_else(|| invalid_params("must have required property 'data'"))?;
    reject_unknown(
        &data,
        &[
            "email",
            "name",
            "password",
            "username",
            "bio",
            "nickname",
            "statusText",
            "active",
            "type",
            "roles",
            "joinDefaultChannels",
            "requirePasswordChange",
            "sendWelcomeEmail",
            "verified",
            "customFields",
            "setRandomPassword",
            "status",
            "settings",
        ],
    )?;
    let idx = st
        .user_idx_by_id(&target)
        .ok_or_else(|| meteor_err("error-invalid-user", "Invalid user", None))?;
    if target != uid && !st.has_permission(uid, "edit-other-user-info", None) {
        return Err(meteor_err(
            "error-action-not-allowed",
            "Editing user is not allowed",
            Some(json!({"method": "insertOrUpdateUser", "action": "Editing_user"})),
        ));
    }
    if let Some(un) = str_field(&data, "username") {
        if !un.eq_ignore_ascii_case(&st.users[idx].username) && !st.username_available(&un)? {
            return Err(meteor_err(
                "error-field-unavailable",
                &format!("{un} is already in use :("),
                None,
            ));
        }
    }
    if let Some(pw) = str_field(&data, "password") {
        st.validate_password(&pw)?;
        st.users[idx].password_digest = Some(sha256_hex(&pw));
    }
    let u = &mut st.users[idx];
    if let Some(un) = str_field(&data, "username") {
        u.username = un;
    }
    if let Some(n) = str_field(&data, "name") {
        u.name = n;
    }
    if let Some(e) = str_field(&data, "email") {
        let verified = data
            .get("verified")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        u.emails = vec![(e, verified)];
    } else if let Some(v) = data.get("verified").and_then(Value::as_bool) {
        for e in &mut u.emails {
            e.1 = v;
        }
    }
    if let Some(a) = data.get("active").and_then(Value::as_bool) {
        u.active = a;
    }
    if let Some(r) = data.get("roles").and_then(Value::as_array) {
        u.roles = r
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect();
    }
    if let Some(r) = data.get("requirePasswordChange").and_then(Value::as_bool) {
        u.require_password_change = r;
    }
    ok(json!({"user": user_json(u, true)}))
}

/// apps/meteor/app/lib/server/functions/createRoom.ts + app/utils/server/lib/getValidRoomName.ts
fn create_room(st: &mut State, req: &Req, uid: &str, t: &str) -> Result<usize, ApiErr> {
    reject_unknown(
        &req.body,
        &[
            "name",
            "members",
            "readOnly",
            "extraData",
            "customFields",
            "excludeSelf",
        ],
    )?;
    let name = str_field(&req.body, "name")
        .ok_or_else(|| invalid_params("must have required property 'name'"))?;
    let perm = if t == "c" { "create-c" } else { "create-p" };
    if !st.has_permission(uid, perm, None) {
        // channels.ts (id 58521006345): `e.message === 'unauthorized'` → API.v1.forbidden()
        // (403 `unauthorized`, `forbidden` from 8.0); 6.x: API.v1.unauthorized() (403).
        let error = if st.version.breaking() {
            "forbidden"
        } else {
            "unauthorized"
        };
        return Err(ApiErr {
            status: 403,
            body: json!({"success": false, "error": error}),
        });
    }
    // getValidRoomName.ts (id 1338652500): the name regex and validateName() (validateName.ts
    // @ 462bf029: the lowercased name against Accounts_SystemBlockedUsernameList split on ',')
    // → error-invalid-room-name; then a room with that name → error-archived-duplicate-name
    // when archived, else error-duplicate-channel-name.
    let system = st.setting_str("Accounts_SystemBlockedUsernameList");
    let lower = name.to_lowercase();
    let reserved = !system.is_empty() && system.split(',').any(|b| b == lower);
    let details = json!({"function": "RocketChat.getValidRoomName", "channel_name": name});
    if !valid_name(&name) || reserved {
        return Err(meteor_err(
            "error-invalid-room-name",
            &format!("{name} is not a valid room name."),
            Some(details),
        ));
    }
    if let Some(ri) = st.room_idx_by_name(&name) {
        let (code, reason) = if st.rooms[ri].archived {
            (
                "error-archived-duplicate-name",
                format!("There's an archived channel with name {name}"),
            )
        } else {
            (
                "error-duplicate-channel-name",
                format!("A channel with name '{name}' exists"),
            )
        };
        return Err(meteor_err(code, &reason, Some(details)));
    }
    let owner = st
        .user_idx_by_id(uid)
        .map(|i| st.users[i].username.clone())
        .unwrap_or_default();
    let mut members: Vec<String> = vec![];
    if let Some(arr) = req.body.get("members").and_then(Value::as_array) {
        for m in arr.iter().filter_map(Value::as_str) {
            let i = st
                .user_idx_by_username(m)
                .ok_or_else(|| meteor_err("error-invalid-user", "Invalid user", None))?;
            members.push(st.users[i].id.clone());
        }
    }
    let id = random_id(17);
    st.rooms.push(Room {
        id: id.clone(),
        name,
        t: t.into(),
        owner: (uid.to_string(), owner),
        ts: now_ms(),
        ro: req
            .body
            .get("readOnly")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        muted: vec![],
        unmuted: vec![],
        default: false,
        archived: false,
    });
    // createRoom(): the creator is subscribed with the owner role.
    if req.body.get("excludeSelf").and_then(Value::as_bool) != Some(true) {
        add_sub(st, &id, uid, vec!["owner".into()]);
    }
    for m in members {
        add_sub(st, &id, &m, vec![]);
    }
    Ok(st.rooms.len() - 1)
}

fn h_channels_create(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    let i = create_room(st, req, uid, "c")?;
    ok(json!({"channel": room_json(st, &st.rooms[i])}))
}

fn h_groups_create(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    let i = create_room(st, req, uid, "p")?;
    ok(json!({"group": room_json(st, &st.rooms[i])}))
}

/// apps/meteor/app/api/server/v1/channels.ts findChannelByIdOrName /
/// groups.ts findPrivateGroupByIdOrName (a group is only visible to its members).
fn find_room(st: &State, req: &Req, t: &str, uid: &str) -> Result<usize, ApiErr> {
    let idx = if let Some(id) = req.param("roomId") {
        st.room_idx_by_id(&id)
    } else if let Some(n) = req.param("roomName") {
        st.room_idx_by_name(&n)
    } else {
        return Err(meteor_err(
            "error-room-param-not-provided",
            "The parameter \"roomId\" or \"roomName\" is required",
            None,
        ));
    };
    let what = if t == "c" { "channel" } else { "group" };
    let not_found = || {
        meteor_err(
            "error-room-not-found",
            &format!(
                "The required \"roomId\" or \"roomName\" param provided does not match any {what}"
            ),
            None,
        )
    };
    let idx = idx.filter(|i| st.rooms[*i].t == t).ok_or_else(not_found)?;
    if t == "p" && st.sub(&st.rooms[idx].id, uid).is_none() {
        return Err(not_found());
    }
    Ok(idx)
}

fn h_channels_info(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    let i = find_room(st, req, "c", uid)?;
    ok(json!({"channel": room_json(st, &st.rooms[i])}))
}

fn h_groups_info(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    let i = find_room(st, req, "p", uid)?;
    ok(json!({"group": room_json(st, &st.rooms[i])}))
}

/// apps/meteor/app/api/server/v1/rooms.ts rooms.info: findRoomByIdOrName() throws
/// `error-room-not-found` for an unknown room and, with its default `checkedArchived = true`
/// (6.x, 7.x), `error-room-archived` before any access check; newer code passes
/// `checkedArchived: false` (here 8.1). Then `API.v1.failure('not-allowed', 'Not Allowed')`
/// when the caller cannot read it: error and errorType the other way round from a Meteor.Error.
fn h_rooms_info(sim: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    let idx = if let Some(id) = req.param("roomId") {
        st.room_idx_by_id(&id)
    } else if let Some(n) = req.param("roomName") {
        st.room_idx_by_name(&n)
    } else {
        return Err(meteor_err(
            "error-roomid-param-not-provided",
            "The parameter \"roomId\" or \"roomName\" is required",
            None,
        ));
    };
    let Some(i) = idx else {
        return Err(meteor_err(
            "error-room-not-found",
            "The required \"roomId\" or \"roomName\" param provided does not match any channel",
            None,
        ));
    };
    if st.rooms[i].archived && !sim.cfg.version.breaking() {
        return Err(meteor_err(
            "error-room-archived",
            &format!("The channel, {}, is archived", st.rooms[i].name),
            None,
        ));
    }
    let readable = st.rooms[i].t == "c" || st.sub(&st.rooms[i].id, uid).is_some();
    if !readable {
        return Err(ApiErr {
            status: 400,
            body: json!({"success": false, "error": "not-allowed", "errorType": "Not Allowed"}),
        });
    }
    ok(json!({"room": room_json(st, &st.rooms[i])}))
}

/// apps/meteor/app/lib/server/functions/addUserToRoom.ts: adding an existing member is a no-op.
fn invite(st: &mut State, req: &Req, uid: &str, t: &str) -> Result<usize, ApiErr> {
    let ri = find_room(st, req, t, uid)?;
    let rid = st.rooms[ri].id.clone();
    let target = user_from_params(st, req)?;
    let tid = st.users[target].id.clone();
    let any = if t == "c" {
        "add-user-to-any-c-room"
    } else {
        "add-user-to-any-p-room"
    };
    let joined_ok = st.sub(&rid, uid).is_some()
        && st.has_permission(uid, "add-user-to-joined-room", Some(&rid));
    if !joined_ok && !st.has_permission(uid, any, None) {
        return Err(meteor_err(
            "error-not-allowed",
            "Not allowed",
            Some(json!({"method": "addUsersToRoom"})),
        ));
    }
    add_sub(st, &rid, &tid, vec![]);
    Ok(ri)
}

fn h_channels_invite(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    let i = invite(st, req, uid, "c")?;
    ok(json!({"channel": room_json(st, &st.rooms[i])}))
}

fn h_groups_invite(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    let i = invite(st, req, uid, "p")?;
    ok(json!({"group": room_json(st, &st.rooms[i])}))
}

/// channels.setReadOnly / groups.setReadOnly -> saveRoomSettings 'readOnly' (set-readonly).
fn set_ro(st: &mut State, req: &Req, uid: &str, t: &str) -> Result<usize, ApiErr> {
    let ri = find_room(st, req, t, uid)?;
    let ro = req
        .body
        .get("readOnly")
        .and_then(Value::as_bool)
        .ok_or_else(|| invalid_params("must have required property 'readOnly'"))?;
    let rid = st.rooms[ri].id.clone();
    if !st.has_permission(uid, "set-readonly", Some(&rid)) {
        return Err(meteor_err(
            "error-action-not-allowed",
            "Editing room is not allowed",
            Some(json!({"method": "saveRoomSettings", "action": "Editing_room"})),
        ));
    }
    if st.rooms[ri].ro == ro {
        return Err(failure(
            "The channel read only setting is the same as what it would be changed to.",
        ));
    }
    st.rooms[ri].ro = ro;
    Ok(ri)
}

fn h_channels_ro(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    let i = set_ro(st, req, uid, "c")?;
    ok(json!({"channel": room_json(st, &st.rooms[i])}))
}

fn h_groups_ro(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    let i = set_ro(st, req, uid, "p")?;
    ok(json!({"group": room_json(st, &st.rooms[i])}))
}

/// apps/meteor/server/methods/addRoomOwner.ts / addRoomModerator.ts
fn add_room_role(
    st: &mut State,
    req: &Req,
    uid: &str,
    t: &str,
    role: &str,
) -> Result<Value, ApiErr> {
    let ri = find_room(st, req, t, uid)?;
    let rid = st.rooms[ri].id.clone();
    let target = user_from_params(st, req)?;
    let tid = st.users[target].id.clone();
    let perm = if role == "owner" {
        "set-owner"
    } else {
        "set-moderator"
    };
    if !st.has_permission(uid, perm, Some(&rid)) {
        return Err(meteor_err("error-not-allowed", "Not allowed", None));
    }
    let Some(si) = st.subs.iter().position(|s| s.rid == rid && s.uid == tid) else {
        return Err(meteor_err(
            "error-user-not-in-room",
            "User is not in this room",
            None,
        ));
    };
    if st.subs[si].roles.iter().any(|r| r == role) {
        let (code, msg) = if role == "owner" {
            ("error-user-already-owner", "User is already an owner")
        } else {
            (
                "error-user-already-moderator",
                "User is already a moderator",
            )
        };
        return Err(meteor_err(code, msg, None));
    }
    st.subs[si].roles.push(role.to_string());
    ok(json!({}))
}

fn h_c_add_owner(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    add_room_role(st, req, uid, "c", "owner")
}
fn h_g_add_owner(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    add_room_role(st, req, uid, "p", "owner")
}
fn h_c_add_mod(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    add_room_role(st, req, uid, "c", "moderator")
}
fn h_g_add_mod(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    add_room_role(st, req, uid, "p", "moderator")
}

fn history(st: &State, req: &Req, uid: &str, t: &str) -> Result<Value, ApiErr> {
    let ri = find_room(st, req, t, uid)?;
    let rid = &st.rooms[ri].id;
    let mut msgs: Vec<Value> = st
        .messages
        .iter()
        .filter(|m| &m.rid == rid)
        .map(message_json)
        .collect();
    msgs.reverse(); // newest first, like loadHistory
    ok(json!({"messages": msgs}))
}

fn h_channels_history(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    history(st, req, uid, "c")
}
fn h_groups_history(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    history(st, req, uid, "p")
}

/// apps/meteor/app/api/server/v1/subscriptions.ts subscriptions.getOne: null when absent.
fn h_sub_get_one(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    let rid = req
        .param("roomId")
        .ok_or_else(|| invalid_params("must have required property 'roomId'"))?;
    let sub = st
        .sub(&rid, uid)
        .map(|s| sub_json(st, s))
        .unwrap_or(Value::Null);
    ok(json!({"subscription": sub}))
}

fn h_permissions(_: &Sim, _: &mut State, _: &Req, _: &str) -> Result<Value, ApiErr> {
    let update: Vec<Value> = ALL_PERMISSIONS
        .iter()
        .map(|p| json!({"_id": p, "roles": permission_roles(p), "_updatedAt": iso(0)}))
        .collect();
    ok(json!({"update": update, "remove": []}))
}

/// packages/rest-typings/src/v1/integrations/IntegrationsCreateProps.ts (webhook-incoming
/// branch, additionalProperties: false). Older snapshots lack overrideDestinationChannelEnabled
/// and scriptEngine; the newer schema (in apps/meteor/app/api/server/v1/integrations.ts)
/// has both.
pub fn incoming_fields(v: Version) -> Vec<&'static str> {
    let mut f = vec![
        "type",
        "username",
        "channel",
        "scriptEnabled",
        "script",
        "name",
        "enabled",
        "alias",
        "avatar",
        "emoji",
    ];
    if v != Version::V6_13 {
        f.push("overrideDestinationChannelEnabled");
        f.push("scriptEngine");
    }
    f
}

fn int_manage_any(st: &State, uid: &str) -> bool {
    [
        "manage-outgoing-integrations",
        "manage-own-outgoing-integrations",
        "manage-incoming-integrations",
        "manage-own-incoming-integrations",
    ]
    .iter()
    .any(|p| st.has_permission(uid, p, None))
}

/// apps/meteor/app/integrations/server/methods/incoming/addIncomingIntegration.ts
fn h_int_create(sim: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    let b = &req.body;
    if b.get("type").and_then(Value::as_str) != Some("webhook-incoming") {
        if b.get("type").and_then(Value::as_str) == Some("webhook-outgoing") {
            return Err(failure(
                "rc-sim emulates webhook-incoming integrations only",
            ));
        }
        return Err(invalid_params("must match exactly one schema in oneOf"));
    }
    let fields = incoming_fields(sim.cfg.version);
    if let Some(o) = b.as_object() {
        if let Some(k) = o.keys().find(|k| !fields.contains(&k.as_str())) {
            let _ = k;
            return Err(invalid_params("must NOT have additional properties\n must have required property 'event'\n must match exactly one schema in oneOf"));
        }
    }
    for (f, is_bool) in [
        ("username", false),
        ("channel", false),
        ("scriptEnabled", true),
        ("name", false),
        ("enabled", true),
    ] {
        let good = match b.get(f) {
            Some(Value::Bool(_)) => is_bool,
            Some(Value::String(_)) => !is_bool,
            _ => false,
        };
        if !good {
            return Err(invalid_params(&format!("must have required property '{f}'\n must have required property 'event'\n must match exactly one schema in oneOf")));
        }
    }
    if !st.has_permission(uid, "manage-incoming-integrations", None)
        && !st.has_permission(uid, "manage-own-incoming-integrations", None)
    {
        return Err(meteor_err(
            "not_authorized",
            "Unauthorized",
            Some(json!({"method": "addIncomingIntegration"})),
        ));
    }
    let channel = str_field(b, "channel").unwrap_or_default();
    if channel.trim().is_empty() {
        return Err(meteor_err(
            "error-invalid-channel",
            "Invalid channel",
            Some(json!({"method": "addIncomingIntegration"})),
        ));
    }
    let channels: Vec<String> = channel.split(',').map(|c| c.trim().to_string()).collect();
    if channels
        .iter()
        .any(|c| !c.starts_with('#') && !c.starts_with('@'))
    {
        return Err(meteor_err(
            "error-invalid-channel-start-with-chars",
            "Invalid channel. Start with @ or #",
            Some(json!({"method": "updateIncomingIntegration"})),
        ));
    }
    let username = str_field(b, "username").unwrap_or_default();
    if username.trim().is_empty() {
        return Err(meteor_err(
            "error-invalid-username",
            "Invalid username",
            Some(json!({"method": "addIncomingIntegration"})),
        ));
    }
    let Some(ui) = st.users.iter().position(|u| u.username == username) else {
        return Err(meteor_err(
            "error-invalid-user",
            "Invalid user",
            Some(json!({"method": "addIncomingIntegration"})),
        ));
    };
    for c in &channels {
        let name = &c[1..];
        let found = if c.starts_with('#') {
            st.room_idx_by_id(name)
                .or_else(|| st.room_idx_by_name(name))
                .is_some()
        } else {
            st.user_idx_by_id(name)
                .or_else(|| st.user_idx_by_username(name))
                .is_some()
        };
        if !found {
            return Err(meteor_err(
                "error-invalid-room",
                "Invalid room",
                Some(json!({"method": "addIncomingIntegration"})),
            ));
        }
    }
    // Side effect: the posting user gets the `bot` role (addUserRolesAsync(user._id, ['bot'])).
    if !st.users[ui].roles.iter().any(|r| r == "bot") {
        st.users[ui].roles.push("bot".into());
    }
    let creator = st.user_idx_by_id(uid).map(|i| st.users[i].username.clone());
    let mut integ = b.clone();
    let o = integ
        .as_object_mut()
        .ok_or_else(|| invalid_params("must be object"))?;
    o.insert("_id".into(), json!(random_id(17)));
    o.insert("channel".into(), json!(channels));
    o.insert("token".into(), json!(random_id(48)));
    o.insert("userId".into(), json!(st.users[ui].id));
    o.insert("_createdAt".into(), json!(iso(now_ms())));
    o.insert("_updatedAt".into(), json!(iso(now_ms())));
    o.insert(
        "_createdBy".into(),
        json!({"_id": uid, "username": creator}),
    );
    if sim.cfg.version != Version::V6_13 {
        o.entry("scriptEngine").or_insert(json!("isolated-vm"));
        o.entry("overrideDestinationChannelEnabled")
            .or_insert(json!(false));
    }
    compile_script(sim, &mut integ);
    st.integrations.push(integ.clone());
    ok(json!({"integration": integ}))
}

/// apps/meteor/app/api/server/v1/integrations.ts integrations.list with getPaginationItems
/// (apps/meteor/app/api/server/helpers/getPaginationItems.ts: `count` defaults to
/// API_Default_Count 50 and is capped at API_Upper_Count_Limit 100); the answer's `count` and
/// `items` are the page length, `total` all matches.
fn h_int_list(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    if !int_manage_any(st, uid) {
        return Err(no_permission(st.version));
    }
    // helpers/getPaginationItems.ts @ 721a1541: count absent → 50, above 100 → 100, 0 →
    // unlimited while API_Allow_Infinite_Count (else 50); a negative count passes through
    // (a negative Mongo limit returns |n| documents).
    let num = |k: &str| req.query.get(k).and_then(|v| v.trim().parse::<i64>().ok());
    let offset = num("offset").unwrap_or(0).max(0) as usize;
    let count = match num("count").map(|c| c.min(100)) {
        None => 50,
        Some(0) if st.setting_bool("API_Allow_Infinite_Count") => usize::MAX,
        Some(0) => 50,
        Some(c) => c.unsigned_abs() as usize,
    };
    // sort { ts: -1 } on a field integrations do not carry (addIncomingIntegration stores
    // `_createdAt`): the collection's natural order, i.e. insertion, oldest first.
    let list = st.integrations.clone();
    let total = list.len();
    let page: Vec<Value> = list.into_iter().skip(offset).take(count).collect();
    let n = page.len();
    ok(json!({"integrations": page, "offset": offset, "items": n, "count": n, "total": total}))
}

fn h_int_get(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    let id = req
        .param("integrationId")
        .ok_or_else(|| failure("The query parameter \"integrationId\" is required."))?;
    if !int_manage_any(st, uid) {
        return Err(no_permission(st.version));
    }
    // apps/meteor/app/api/server/lib/integrations.ts findOneIntegration
    let i = st
        .integrations
        .iter()
        .find(|i| i["_id"] == json!(id))
        .cloned()
        .ok_or_else(|| failure("The integration does not exists."))?;
    ok(json!({"integration": i}))
}

/// apps/meteor/app/integrations/server/methods/incoming/updateIncomingIntegration.ts
/// (7.x snapshot id 480781737, newest @ 022f9b07; late-6.x compiled id 11614982106) behind
/// IntegrationsUpdateProps.ts @ 11acb516 (incoming: required integrationId, type, channel,
/// scriptEnabled, name, enabled; other fields accepted).
fn h_int_update(sim: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    let b = &req.body;
    if b.get("type").and_then(Value::as_str) != Some("webhook-incoming") {
        return Err(failure("Invalid integration type."));
    }
    for f in [
        "integrationId",
        "channel",
        "scriptEnabled",
        "name",
        "enabled",
    ] {
        if b.get(f).is_none() {
            return Err(invalid_params(&format!(
                "must have required property '{f}'"
            )));
        }
    }
    let fields = incoming_fields(sim.cfg.version);
    // validateChannels() runs first.
    let channel = str_field(b, "channel").unwrap_or_default();
    if channel.trim().is_empty()
        || channel
            .split(',')
            .any(|c| !c.trim().starts_with('#') && !c.trim().starts_with('@'))
    {
        return Err(meteor_err(
            "error-invalid-channel",
            "Invalid channel",
            Some(json!({"method": "updateIncomingIntegration"})),
        ));
    }
    let id = str_field(b, "integrationId").unwrap_or_default();
    let found = st.integrations.iter().position(|i| i["_id"] == json!(id));
    // manage-incoming-integrations, or manage-own-incoming-integrations for one's own.
    let own = found.is_some_and(|ii| st.integrations[ii]["_createdBy"]["_id"] == json!(uid));
    let allowed = st.has_permission(uid, "manage-incoming-integrations", None)
        || (own && st.has_permission(uid, "manage-own-incoming-integrations", None));
    if !allowed {
        return Err(meteor_err(
            "not_authorized",
            "Unauthorized",
            Some(json!({"method": "updateIncomingIntegration"})),
        ));
    }
    let Some(ii) = found else {
        return Err(failure("No integration found."));
    };
    let mut updates = b.clone();
    if let Some(o) = updates.as_object_mut() {
        o.remove("integrationId");
        o.retain(|k, _| fields.contains(&k.as_str()));
        o.insert(
            "channel".into(),
            json!(channel
                .split(',')
                .map(|c| c.trim().to_string())
                .collect::<Vec<_>>()),
        );
        if let Some(un) = o
            .get("username")
            .and_then(Value::as_str)
            .map(str::to_string)
        {
            if sim.cfg.version == Version::V6_13 {
                // Late 6.x: `...('username' in integration && { username: integration.username })`
                // stores the name as given; userId (the posting user) is unchanged.
            } else {
                // 7.x: `{ username: user.username, userId: user._id }` of the found user.
                let ui = st
                    .users
                    .iter()
                    .position(|u| u.username == un)
                    .ok_or_else(|| {
                        meteor_err(
                            "error-invalid-post-as-user",
                            "Invalid Post As User",
                            Some(json!({"method": "updateIncomingIntegration"})),
                        )
                    })?;
                o.insert("username".into(), json!(st.users[ui].username));
                o.insert("userId".into(), json!(st.users[ui].id));
                if !st.users[ui].roles.iter().any(|r| r == "bot") {
                    st.users[ui].roles.push("bot".into());
                }
            }
        }
        o.insert("_updatedAt".into(), json!(iso(now_ms())));
        if let Some(t) = st.integrations[ii].as_object_mut() {
            for (k, v) in o.iter() {
                t.insert(k.clone(), v.clone());
            }
        }
    }
    compile_script(sim, &mut st.integrations[ii]);
    ok(json!({"integration": st.integrations[ii]}))
}

fn h_int_remove(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    if !int_manage_any(st, uid) {
        return Err(no_permission(st.version));
    }
    match str_field(&req.body, "type").as_deref() {
        Some("webhook-incoming") => {
            let id = str_field(&req.body, "integrationId").ok_or_else(|| {
                meteor_err(
                    "Match.Error",
                    "Match error: Missing key 'integrationId'",
                    None,
                )
            })?;
            let Some(ii) = st.integrations.iter().position(|i| i["_id"] == json!(id)) else {
                return Err(failure("No integration found."));
            };
            let integ = st.integrations.remove(ii);
            ok(json!({"integration": integ}))
        }
        _ => Err(failure("Invalid integration type.")),
    }
}

/// method.call/:method (apps/meteor/app/api/server/v1/misc.ts): DDP message in `message`,
/// DDP result out as a JSON string; method errors are reported inside `message`.
fn method_call(st: &mut State, req: &Req, uid: &str, mute: bool) -> Result<Value, ApiErr> {
    let msg = str_field(&req.body, "message")
        .ok_or_else(|| invalid_params("must have required property 'message'"))?;
    let ddp: Value = serde_json::from_str(&msg).map_err(|_| failure("Invalid message"))?;
    let id = ddp.get("id").cloned().unwrap_or(json!("1"));
    let p = ddp
        .get("params")
        .and_then(|p| p.get(0))
        .cloned()
        .unwrap_or(json!({}));
    let rid = str_field(&p, "rid").unwrap_or_default();
    let username = str_field(&p, "username").unwrap_or_default();
    let result: Result<(), (String, String)> = (|| {
        // apps/meteor/server/methods/muteUserInRoom.ts
        if !st.has_permission(uid, "mute-user", Some(&rid)) {
            return Err(("error-not-allowed".into(), "Not allowed".into()));
        }
        // muteUserInRoom.ts @ 16a239a8: room, then the subscription found BY USERNAME, then
        // the user: an unknown username is `error-user-not-in-room`.
        let ri = st
            .room_idx_by_id(&rid)
            .ok_or(("error-invalid-room".to_string(), "Invalid room".to_string()))?;
        let not_in_room = || {
            (
                "error-user-not-in-room".to_string(),
                "User is not in this room".to_string(),
            )
        };
        let ui = st.user_idx_by_username(&username).ok_or_else(not_in_room)?;
        let tid = st.users[ui].id.clone();
        if st.sub(&rid, &tid).is_none() {
            return Err(not_in_room());
        }
        // Rooms model (id 11533250558): mute = $addToSet muted + $pull unmuted, in a read-only
        // room only $pull unmuted; unmute = $pull muted, in a read-only room also $addToSet
        // unmuted (the user may then post there).
        let name = st.users[ui].username.clone();
        let room = &mut st.rooms[ri];
        room.unmuted.retain(|m| m != &name);
        if mute {
            if !room.ro && !room.muted.contains(&name) {
                room.muted.push(name);
            }
        } else {
            room.muted.retain(|m| m != &name);
            if room.ro {
                room.unmuted.push(name);
            }
        }
        Ok(())
    })();
    let out = match result {
        Ok(()) => json!({"msg": "result", "id": id, "result": true}),
        Err((code, reason)) => json!({"msg": "result", "id": id, "error": {
            "isClientSafe": true, "error": code, "reason": reason, "message": format!("{reason} [{code}]"), "errorType": "Meteor.Error"}}),
    };
    ok(json!({"message": out.to_string()}))
}

fn h_mute(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    method_call(st, req, uid, true)
}
fn h_unmute(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    method_call(st, req, uid, false)
}

// ---------------------------------------------------------------- main

/// Runs the emulator; returns the process exit code (2 = bad usage, 1 = cannot bind).
pub fn main_with_args(args: Vec<String>) -> i32 {
    let env: HashMap<String, String> = std::env::vars().collect();
    let cfg = match parse_args(&args, env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rc-sim: {e}");
            return 2;
        }
    };
    // Like a Rocket.Chat still starting: connections are refused until then (startup.rs).
    let startup = startup::Startup::of(cfg.version, cfg.listen_delay, cfg.admin_delay);
    std::thread::sleep(startup.listen_after);
    // With TLS, the TLS front takes --port and relays to the front door on loopback.
    let tls = match &cfg.tls_cert_key_file {
        None => None,
        Some(path) => {
            let config = match tls_front::server_config(path) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("rc-sim: {e}");
                    return 2;
                }
            };
            match std::net::TcpListener::bind((cfg.bind.as_str(), cfg.port)) {
                Ok(l) => Some((l, config)),
                Err(e) => {
                    eprintln!(
                        "rc-sim: cannot listen on {}:{}: {e}; pick a free --port or 0",
                        cfg.bind, cfg.port
                    );
                    return 1;
                }
            }
        }
    };
    let (door_bind, door_port) = match &tls {
        None => (cfg.bind.as_str(), cfg.port),
        Some(_) => ("127.0.0.1", 0),
    };
    // REST and DDP share one port: ddp/frontdoor.rs routes each connection.
    let (server, door_port, front) = match ddp::frontdoor::listen(door_bind, door_port) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "rc-sim: cannot listen on {}:{}: {e}; pick a free --port or 0",
                cfg.bind, cfg.port
            );
            return 1;
        }
    };
    let mut cfg = cfg;
    let port = match tls {
        None => door_port,
        Some((listener, config)) => {
            let port = listener.local_addr().map(|a| a.port()).unwrap_or(cfg.port);
            if cfg.root_url.is_none() {
                cfg.root_url = Some(format!("https://127.0.0.1:{port}"));
            }
            std::thread::spawn(move || tls_front::serve(listener, door_port, config));
            port
        }
    };
    cfg.port = port;
    let sim = Arc::new(Sim::new(cfg));
    if let Some(delay) = startup.admin_after_listen {
        let sim = sim.clone();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let env = sim.cfg.env.clone();
            if sim.lock().insert_admin_from_env(&env).is_some() {
                // The moment the admin can log in, for convergence measurements.
                eprintln!("{}", json!({"msg": "admin created", "ts_ms": now_ms()}));
            }
        });
    } else {
        // The admin exists before the listening line: a client that logs in right away never
        // races the creation. A delayed one is announced as above (it is then a late listen).
        let env = sim.cfg.env.clone();
        if sim.lock().insert_admin_from_env(&env).is_some() && !sim.cfg.admin_delay.is_zero() {
            eprintln!("{}", json!({"msg": "admin created", "ts_ms": now_ms()}));
        }
    }
    front.start(sim.clone());
    println!(
        "{}",
        json!({"msg": "listening", "port": port, "version": sim.cfg.version.as_str(), "ts_ms": now_ms()})
    );
    let _ = std::io::stdout().flush();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let server = server.clone();
            let sim = sim.clone();
            std::thread::spawn(move || http::serve_loop(&server, &sim))
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    0
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_review;
