//! Permissions and their default roles (apps/meteor/app/authorization).

use crate::*;
use serde_json::{json, Value};

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

pub(crate) const ALL_PERMISSIONS: &[&str] = &[
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

pub(crate) fn h_permissions(_: &Sim, _: &mut State, _: &Req, _: &str) -> Result<Value, ApiErr> {
    let update: Vec<Value> = ALL_PERMISSIONS
        .iter()
        .map(|p| json!({"_id": p, "roles": permission_roles(p), "_updatedAt": iso(0)}))
        .collect();
    ok(json!({"update": update, "remove": []}))
}
