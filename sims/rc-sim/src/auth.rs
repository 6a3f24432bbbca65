//! Authentication: REST tokens, the login route (resume and password), e-mail 2FA and
//! the password fallback for twoFactorRequired routes, and refused-login shapes.

use crate::*;
use serde_json::{json, Value};

/// A refused login: the Meteor.Error's `error`, reason and details (built once per refused
/// login; its size does not matter).
pub(crate) struct LoginFail {
    error: Value,
    message: String,
    details: Option<Value>,
}

impl LoginFail {
    pub(crate) fn new(error: Value, message: &str) -> LoginFail {
        LoginFail {
            error,
            message: message.to_string(),
            details: None,
        }
    }
}

/// The user a password login names (by username, case-insensitively as Meteor finds it, or by
/// e-mail): Meteor's `login.user` even when the password is wrong. None for resume logins.
pub(crate) fn login_identity(st: &State, b: &Value) -> Option<String> {
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

impl State {
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

impl Sim {
    pub(crate) fn unauthorized_resp(&self) -> Resp {
        // Restivus (6.13) answers unauthenticated calls itself (Restivus-era api.ts, find_string
        // id 123587997): no `success`, no `error`.
        if self.cfg.version == Version::V6_13 {
            return Resp::json(
                401,
                json!({"status": "error", "message": "You must be logged in to do this."}),
            );
        }
        // api.unauthorized('You must be logged in to do this.') plus, while `applyBreakingChanges`
        // is false (7.10 and 8.1, config.rs), the legacy `status`/`message` fields: 7.x
        // ApiClass.ts @ 019378e3; 8.x apps/meteor/server/api/v1/middlewares/authenticationHono.ts
        // @ bec8300d.
        Resp::json(
            401,
            json!({"success": false, "error": "You must be logged in to do this.",
                "status": "error", "message": "You must be logged in to do this."}),
        )
    }

    /// api.ts authenticatedRoute(): X-User-Id + X-Auth-Token (hashed) must match.
    pub(crate) fn authenticate(&self, st: &State, req: &Req) -> Option<String> {
        let uid = req.header("x-user-id")?;
        let tok = req.header("x-auth-token")?;
        let h = sha256_hex(tok);
        st.users
            .iter()
            .find(|u| u.id == uid && u.tokens.iter().any(|t| t.hashed == h))
            .map(|u| u.id.clone())
    }

    /// apps/meteor/app/2fa/server/code/index.ts checkCodeForUser() for REST routes with
    /// twoFactorRequired (api.ts processTwoFactor: x-2fa-code / x-2fa-method headers).
    pub(crate) fn two_factor(&self, st: &mut State, uid: &str, req: &Req) -> Result<(), ApiErr> {
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
    pub(crate) fn email_2fa_enabled(&self, st: &State, idx: usize) -> bool {
        let u = &st.users[idx];
        st.setting_bool("Accounts_TwoFactorAuthentication_By_Email_Enabled")
            && u.email2fa
            && u.emails.iter().any(|(_, v)| *v)
    }

    /// The REST login route's catch block. Every emulated line spreads the Meteor.Error into
    /// a 401 body and turns reason "User not found" into `Unauthorized`:
    /// - 6.13, Restivus-era api.ts (index id 123587997): `{statusCode: 401, body: {status:
    ///   'error', error: e.error, details: e.details, message: e.reason || e.message}}`;
    /// - 7.10 and 8.1, ApiClass.ts `_initAuth` (@ 019378e3; apps/meteor/server/api/ApiClass.ts
    ///   @ 0358e0dc / b2da2544): `unauthorized()` (`success:false`) plus the same fields while
    ///   `!applyBreakingChanges`. The flag is `shouldBreakInVersion('8.0.0')` in 7.x and
    ///   `('9.0.0')` from 8.0.1 on (release PR #38155), so 8.1 still sends them.
    pub(crate) fn login_error(&self, error: Value, message: &str, details: Option<Value>) -> Resp {
        let (error, message) = if message == "User not found" {
            (json!("Unauthorized"), "Unauthorized")
        } else {
            (error, message)
        };
        let mut b = json!({"status": "error", "error": error, "message": message});
        if self.cfg.version != Version::V6_13 {
            b["success"] = json!(false);
        }
        if let Some(d) = details {
            b["details"] = d;
        }
        Resp::json(401, b)
    }

    /// Rocket.Chat's `loginErrorMessageOverride` wraps `Accounts._runLoginHandlers`, which the
    /// REST route reaches through `Meteor.callAsync('login', …)` (Meteor's `login` method
    /// calls `accounts._runLoginHandlers`), so it rewrites the handler's errors only (not the
    /// validateLoginAttempt ones: blocks, inactive users, 2FA):
    /// - 6.13: the `.js`/sync `.ts` wrapper (@ 662116cc; index id 2103286582) reads
    ///   `result.error` off the Promise that Meteor >= 2.9 returns, so it changes nothing
    ///   (PR #32086: "at some point the `_runLoginHandlers` function became asynchronous,
    ///   thwarting our efforts"; fixed for 7.0 only). Meteor 2.x `ambiguousErrorMessages`
    ///   defaults to false, so Meteor's own texts come through.
    /// - 7.10: async `.ts` @ aa405742 (PR #32086, 7.0): every Meteor.Error -> 401 "User not found".
    /// - 8.1: the same. A first reading cited a `.ts` @ 37dee7b1 answering "Incorrect login or
    ///   password"; the second reading (docs/reviews/second-reading-startup-login.md) found that
    ///   text in no stored Rocket.Chat file and its fix PRs (#37764/#37778 for issue #37760)
    ///   still open: not released in 8.1, so 8.1 answers as 7.10.
    fn override_handler_error(&self, f: LoginFail) -> LoginFail {
        match self.cfg.version {
            Version::V6_13 => f,
            Version::V7_10 | Version::V8_1 => LoginFail::new(json!(401), "User not found"),
        }
    }

    /// Meteor's login method as the REST route runs it: the login handler (resume or
    /// password) decides `allowed`, then validateLoginAttempt (brute-force blocks first, see
    /// login_block.rs; then inactive users, e-mail 2FA), then onLoginFailure /
    /// afterValidateLogin record the outcome.
    pub(crate) fn login(&self, st: &mut State, req: &Req) -> Resp {
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
        let handled = self
            .login_handler(st, req)
            .map_err(|f| self.override_handler_error(f));
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
    pub(crate) fn login_handler(&self, st: &mut State, req: &Req) -> Result<usize, LoginFail> {
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
        // No handler takes a login without a password (or without a user): accounts_server.js
        // `_runLoginHandlers` -> Meteor.Error(400, "Unrecognized options for login request").
        // (A password without a user fails the handler's check() upstream, a Match.Error
        // answered 500 on 7.10/8.1; not emulated.)
        let (Some((is_email, who)), Some(digest)) = (who, digest) else {
            return Err(LoginFail::new(
                json!(400),
                "Unrecognized options for login request",
            ));
        };
        let idx = if is_email {
            st.user_idx_by_email(&who)
        } else {
            st.user_idx_by_username(&who)
        };
        // meteor/meteor packages/accounts-password/password_server.js (release/METEOR@2.16 and
        // 3.0.4) password handler: `_handleError("User not found")` and `_handleError("User has
        // no password set")`, Meteor.Error(403, msg); the REST catch turns the first into
        // `Unauthorized`.
        let Some(idx) = idx else {
            return Err(LoginFail::new(json!(403), "User not found"));
        };
        let Some(stored) = st.users[idx].password_digest.as_deref() else {
            return Err(LoginFail::new(json!(403), "User has no password set"));
        };
        if stored != digest.as_str() {
            // Meteor accounts-password checkPassword(): Meteor.Error(403, 'Incorrect password').
            return Err(LoginFail::new(json!(403), "Incorrect password"));
        }
        Ok(idx)
    }

    /// validateLoginAttempt after the blocks: inactive users, e-mail 2FA; then the token.
    pub(crate) fn validate_login(
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
            return Err(LoginFail {
                error: json!("error-user-is-not-activated"),
                message: "User is not activated".into(),
                details: Some(json!({"function": "Accounts.validateLoginAttempt"})),
            });
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

    pub(crate) fn login_success(&self, st: &State, idx: usize, token: String) -> Resp {
        let u = &st.users[idx];
        let mut b = json!({"status": "success", "success": true, "data": {
            "userId": u.id, "authToken": token, "me": me_json(st, idx)}});
        // Restivus (6.13) sends the action's raw `{status, data}`: no `success`.
        if self.cfg.version == Version::V6_13 {
            b.as_object_mut().map(|o| o.remove("success"));
        }
        Resp::json(200, b)
    }
}
