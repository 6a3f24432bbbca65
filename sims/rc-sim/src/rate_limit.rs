//! The REST rate limiter (Meteor rate-limit.js as api.ts enforceRateLimit() uses it).

use crate::*;
use serde_json::json;
use std::collections::HashMap;
use std::time::Instant;

pub struct RateRule {
    last_reset: Instant,
    counters: HashMap<String, u64>,
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
}

impl Sim {
    /// Rate limiting as in api.ts enforceRateLimit(); returns headers or the 429.
    pub(crate) fn rate_limit(
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
}
