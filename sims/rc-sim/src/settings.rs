//! Settings: the emulated release's defaults, `--setting` / `OVERWRITE_SETTING_*` overrides,
//! and typed reads.

use crate::*;
use serde_json::{json, Map, Value};

/// `--setting` / `OVERWRITE_SETTING_*` values are strings; settings are typed.
pub(crate) fn setting_value(raw: &str) -> Value {
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
pub(crate) fn default_settings(v: Version, root_url: &str) -> Map<String, Value> {
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

/// The settings rc-sim changes at run time that are registered `public: true`
/// (apps/meteor/server/settings/general.ts: Show_Setup_Wizard, `public: true`, default
/// `pending`), so their changes reach
/// anonymous `public-settings-changed` subscribers.
const PUBLIC_CHANGED: &[&str] = &["Show_Setup_Wizard"];

impl State {
    /// `Settings.updateValueById` and what the settings watcher makes of it
    /// (listeners.module.ts `watch.settings`): a public setting whose value changed is queued
    /// for `public-settings-changed` as `{_id, value}`; an unchanged value fires nothing
    /// (the update modifies no document, so the change stream sees nothing).
    pub fn update_setting(&mut self, id: &str, value: Value) {
        if self.settings.get(id) == Some(&value) {
            return;
        }
        self.settings.insert(id.to_string(), value.clone());
        if PUBLIC_CHANGED.contains(&id) {
            self.setting_changes
                .push(json!({"_id": id, "value": value}));
        }
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
}
