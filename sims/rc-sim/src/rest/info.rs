//! REST: /health, /livez, /readyz, /api/info, permissions.listAll.

use crate::*;
use serde_json::json;

impl Sim {
    pub(crate) fn health(&self) -> Resp {
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

    pub(crate) fn livez(&self, path: &str) -> Resp {
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
    pub(crate) fn info(&self, req: &Req) -> Resp {
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
}
