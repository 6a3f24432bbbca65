//! Account rules: username availability, the password policy, user creation and the
//! first-start admin from ADMIN_* env.

use crate::*;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The saveUser fields users.create and users.register pass on.
pub(crate) struct NewUser {
    pub username: String,
    pub name: String,
    pub email: String,
    pub password: String,
    pub verified: bool,
    /// None or empty: the default `user` role.
    pub roles: Option<Vec<String>>,
    pub active: bool,
}

/// apps/meteor/app/lib/server/functions/saveUser/{validateUserData,saveNewUser}.ts and
/// Accounts.insertUserDoc (apps/meteor/app/lib/server/lib/... onCreateUser): validation
/// order, password policy, `user` role, first user without an admin becomes admin,
/// e-mail 2FA auto opt-in.
pub(crate) fn create_user(st: &mut State, new: NewUser) -> Result<usize, ApiErr> {
    let NewUser {
        username,
        name,
        email,
        password,
        verified,
        roles,
        active,
    } = new;
    let (username, name, email, password) = (&*username, &*name, &*email, &*password);
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
        st.update_setting("Show_Setup_Wizard", json!("in_progress"));
    }
    Ok(st.users.len() - 1)
}

impl State {
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
            self.update_setting("Show_Setup_Wizard", json!("in_progress"));
        }
        Some(id)
    }
}
