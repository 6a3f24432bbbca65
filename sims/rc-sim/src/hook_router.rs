//! Which `/hooks/*` route answers a request, per emulated release.
//!
//! apps/meteor/app/integrations/server/api/api.ts registers, in this order:
//! `:integrationId/:userId/:token` (GET, POST), `:integrationId/:token` (GET, POST),
//! `sample/:integrationId/:userId/:token`, `sample/:integrationId/:token`,
//! `info/:integrationId/:userId/:token`, `info/:integrationId/:token` (GET),
//! `add/…`, `remove/…` (POST).
//!
//! * Restivus releases (here 6.13; the last one is not pinned down): Restivus/JsonRoutes (connect-route) tries literal
//!   segments before parameters, so `GET /hooks/info/<id>/<token>` reaches the info handler.
//! * After Restivus was removed (RocketChat/Rocket.Chat PR #34999, merged 2025-01-29; an
//!   express Router, then Hono via packages/http-router Router.ts — here 7.10 and 8.1), the
//!   first registered match wins: a 3-segment `info/<id>/<token>` is the webhook route with
//!   integrationId `info`. The 4-segment `info/<id>/<userId>/<token>` is the info route on
//!   every router (no earlier route has 4 segments).

use crate::Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookRoute {
    /// executeIntegrationRest (posts a message).
    Execute,
    /// integrationInfoRest (`{success:true}`, posts nothing).
    Info,
}

/// A matched route with its URL parameters (`userId` only for the 3/4-segment forms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<'a> {
    pub route: HookRoute,
    pub integration_id: &'a str,
    pub user_id: Option<&'a str>,
    pub token: &'a str,
}

/// Restivus (literal first) before the removal, registration order after it.
pub fn literal_first(v: Version) -> bool {
    v == Version::V6_13
}

pub fn route<'a>(v: Version, method: &str, parts: &[&'a str]) -> Option<Matched<'a>> {
    let get = method == "GET";
    let exec = get || method == "POST";
    let info = |id, user, token| {
        get.then_some(Matched {
            route: HookRoute::Info,
            integration_id: id,
            user_id: user,
            token,
        })
    };
    let execute = |id, user, token| {
        exec.then_some(Matched {
            route: HookRoute::Execute,
            integration_id: id,
            user_id: user,
            token,
        })
    };
    if literal_first(v) {
        return match *parts {
            // connect-route keeps one trie per method: POST has no `info` child, so a POST
            // to info/<id>/<token> is the webhook route with integrationId `info`.
            ["info", id, u, tok] if get => info(id, Some(u), tok),
            ["info", id, tok] if get => info(id, None, tok),
            [id, u, tok] => execute(id, Some(u), tok),
            [id, tok] => execute(id, None, tok),
            _ => None,
        };
    }
    // First registered match (method included: a POST to info/… falls to the next route).
    match *parts {
        [id, u, tok] => execute(id, Some(u), tok),
        [id, tok] => execute(id, None, tok),
        ["info", id, u, tok] => info(id, Some(u), tok),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_segment_info_is_the_webhook_after_restivus() {
        let p = ["info", "ID", "TOK"];
        assert_eq!(
            route(Version::V6_13, "GET", &p).unwrap().route,
            HookRoute::Info
        );
        for v in [Version::V7_10, Version::V8_1] {
            let m = route(v, "GET", &p).unwrap();
            assert_eq!(m.route, HookRoute::Execute);
            assert_eq!(m.integration_id, "info");
            assert_eq!(m.user_id, Some("ID"));
        }
    }

    #[test]
    fn a_post_to_info_is_the_webhook_route_on_restivus_too() {
        // connect-route: one trie per method, and POST has no `info` literal.
        let m = route(Version::V6_13, "POST", &["info", "ID", "TOK"]).unwrap();
        assert_eq!(
            (m.route, m.integration_id, m.user_id, m.token),
            (HookRoute::Execute, "info", Some("ID"), "TOK")
        );
    }

    #[test]
    fn four_segment_info_is_the_info_route_everywhere() {
        for v in [Version::V6_13, Version::V7_10, Version::V8_1] {
            let m = route(v, "GET", &["info", "ID", "x", "TOK"]).unwrap();
            assert_eq!(
                (m.route, m.integration_id, m.token),
                (HookRoute::Info, "ID", "TOK")
            );
            assert!(route(v, "POST", &["info", "ID", "x", "TOK"]).is_none());
            assert!(route(v, "PUT", &["ID", "TOK"]).is_none());
        }
    }
}
