//! Answers whose shape the second reading of rc-sim corrected (sims/rc-sim/README.md ledger):
//! the client must read them as the same errors as the other releases' shapes.

use rc_client::RcError;

/// Restivus (6.13) answers an unauthenticated call itself: no `success`, no `error`.
#[test]
fn restivus_unauthenticated_answer_is_an_auth_failure() {
    let e = RcError::from_body(
        "GET /api/v1/me",
        401,
        r#"{"status":"error","message":"You must be logged in to do this."}"#,
    );
    assert!(e.is_auth_failure());
    assert_eq!(e.message, "You must be logged in to do this.");
}

/// Restivus login failures: `{status, error, details, message}`, no `success`.
#[test]
fn restivus_login_failures_keep_their_ids() {
    let e = RcError::from_body(
        "POST /api/v1/login",
        401,
        r#"{"status":"error","error":403,"message":"Incorrect password"}"#,
    );
    assert!(e.is_auth_failure() && e.login_block().is_none());
    assert_eq!(e.message, "Incorrect password");
    let e = RcError::from_body(
        "POST /api/v1/login",
        401,
        r#"{"status":"error","error":"error-login-blocked-for-user","message":"Login has been temporarily blocked For User","details":{"function":"Accounts.validateLoginAttempt"}}"#,
    );
    assert_eq!(e.login_block(), Some("user"));
}

/// PasswordPolicyError is not a Meteor.Error: `error` is the plain message, the id is in
/// `errorType`, the failing rules in `details`.
#[test]
fn password_policy_error_without_code_suffix() {
    let e = RcError::from_body(
        "POST /api/v1/users.create",
        400,
        r#"{"success":false,"error":"The password provided does not meet the server's password policy.","errorType":"error-password-policy-not-met","details":[{"error":"error-password-policy-not-met-minLength","message":"x"}]}"#,
    );
    assert_eq!(e.error, "error-password-policy-not-met");
    assert_eq!(
        e.message,
        "The password provided does not meet the server's password policy."
    );
    assert_eq!(e.password_policy_rules().map(|r| r.len()), Some(1));
}

/// Room creation without permission: `API.v1.forbidden()` (`unauthorized`, 8.x `forbidden`).
#[test]
fn forbidden_room_creation_is_not_an_auth_failure() {
    for id in ["unauthorized", "forbidden"] {
        let body = format!(r#"{{"success":false,"error":"{id}"}}"#);
        let e = RcError::from_body("POST /api/v1/channels.create", 403, &body);
        assert_eq!(e.error, id);
        assert!(!e.is_auth_failure());
    }
}
