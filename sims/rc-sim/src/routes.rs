//! Request dispatch and the REST route table.

use crate::rest::{integrations, method_call, rooms, users};
use crate::*;
use serde_json::{json, Value};

pub(crate) type Handler = fn(&Sim, &mut State, &Req, &str) -> Result<Value, ApiErr>;

/// One `/api/v1/<name>` route.
pub(crate) struct Route {
    name: &'static str,
    method: &'static str,
    auth: bool,
    /// twoFactorRequired: true in the route options (users.update).
    two_factor: bool,
    handler: Handler,
}

/// `route!(METHOD "name" => handler)`: an authenticated route; `public` drops the login
/// requirement, `2fa` adds twoFactorRequired.
macro_rules! route {
    (@ $m:ident $name:literal $auth:expr, $tfa:expr, $h:expr) => {
        Route { name: $name, method: stringify!($m), auth: $auth, two_factor: $tfa, handler: $h }
    };
    ($m:ident $name:literal => $h:expr) => { route!(@ $m $name true, false, $h) };
    ($m:ident $name:literal public => $h:expr) => { route!(@ $m $name false, false, $h) };
    ($m:ident $name:literal 2fa => $h:expr) => { route!(@ $m $name true, true, $h) };
}

/// The REST API (`/api/v1/login` is dispatched before this table: it has no user yet).
/// Adding a route is one line here.
#[rustfmt::skip]
pub(crate) const ROUTES: &[Route] = &[
    route!(GET  "me" => users::h_me),
    route!(POST "logout" => users::h_logout),
    route!(GET  "logout" => users::h_logout),
    route!(POST "users.create" => users::h_users_create),
    route!(POST "users.register" public => users::h_users_register),
    route!(GET  "users.info" => users::h_users_info),
    route!(POST "users.update" 2fa => users::h_users_update),
    route!(POST "channels.create" => rooms::h_channels_create),
    route!(POST "groups.create" => rooms::h_groups_create),
    route!(GET  "channels.info" => rooms::h_channels_info),
    route!(GET  "groups.info" => rooms::h_groups_info),
    route!(GET  "rooms.info" => rooms::h_rooms_info),
    route!(POST "channels.invite" => rooms::h_channels_invite),
    route!(POST "groups.invite" => rooms::h_groups_invite),
    route!(POST "channels.setReadOnly" => rooms::h_channels_ro),
    route!(POST "groups.setReadOnly" => rooms::h_groups_ro),
    route!(POST "channels.addOwner" => rooms::h_c_add_owner),
    route!(POST "groups.addOwner" => rooms::h_g_add_owner),
    route!(POST "channels.addModerator" => rooms::h_c_add_mod),
    route!(POST "groups.addModerator" => rooms::h_g_add_mod),
    route!(GET  "channels.history" => rooms::h_channels_history),
    route!(GET  "groups.history" => rooms::h_groups_history),
    route!(GET  "subscriptions.getOne" => rooms::h_sub_get_one),
    route!(GET  "permissions.listAll" => permissions::h_permissions),
    route!(POST "integrations.create" => integrations::h_int_create),
    route!(GET  "integrations.list" => integrations::h_int_list),
    route!(GET  "integrations.get" => integrations::h_int_get),
    route!(PUT  "integrations.update" => integrations::h_int_update),
    route!(POST "integrations.remove" => integrations::h_int_remove),
    // DDP-backed presence and token removal: handlers in ddp/mod.rs.
    route!(GET  "users.getPresence" => ddp::h_users_get_presence),
    route!(POST "users.removeOtherTokens" => ddp::h_users_remove_other_tokens),
    route!(POST "method.call/muteUserInRoom" => method_call::h_mute),
    route!(POST "method.call/unmuteUserInRoom" => method_call::h_unmute),
];

impl Sim {
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

    pub(crate) fn v1_route(&self, req: &Req, r: &Route) -> Resp {
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

    pub(crate) fn v1_wrapped(
        &self,
        req: &Req,
        name: &str,
        f: impl FnOnce(&Sim, &mut State) -> Resp,
    ) -> Resp {
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
}
