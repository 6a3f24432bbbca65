//! tiny_http glue: turns wire requests into [`Req`] and [`Resp`] back into bytes.

use crate::{percent_decode, Req, Sim};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Read;

/// Largest request body accepted; bigger bodies get 413 instead of exhausting memory.
const MAX_BODY: u64 = 8 * 1024 * 1024;

pub fn serve_loop(server: &tiny_http::Server, sim: &Sim) {
    loop {
        let Ok(mut rq) = server.recv() else { return };
        let req = match to_req(&mut rq) {
            Ok(r) => r,
            Err(msg) => {
                let _ = rq.respond(
                    tiny_http::Response::from_string(
                        json!({"success": false, "error": msg}).to_string(),
                    )
                    .with_status_code(413),
                );
                continue;
            }
        };
        let resp = sim.handle(&req);
        // One JSON line per request on stderr (never the body: it may hold passwords; never a
        // webhook token: the hook URL is a credential).
        eprintln!(
            "{}",
            json!({"msg": "request", "method": req.method, "path": loggable_path(&req.path), "status": resp.status, "ts_ms": crate::now_ms()})
        );
        let mut out = tiny_http::Response::from_string(resp.body).with_status_code(resp.status);
        if let Ok(h) = tiny_http::Header::from_bytes("Content-Type", resp.content_type.as_bytes()) {
            out.add_header(h);
        }
        for (k, v) in resp.headers {
            if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
                out.add_header(h);
            }
        }
        let _ = rq.respond(out);
    }
}

/// `/hooks/<id>/<token>` (and `/hooks/info/...`, `/hooks/<id>/<userId>/<token>`) with the
/// token masked; other paths as they are.
pub fn loggable_path(path: &str) -> String {
    match path.strip_prefix("/hooks/") {
        Some(rest) => {
            let mut parts: Vec<&str> = rest.split('/').collect();
            let n = parts.len();
            if n >= 2 && !parts[n - 1].is_empty() {
                parts[n - 1] = "***";
            }
            format!("/hooks/{}", parts.join("/"))
        }
        None => path.to_string(),
    }
}

pub fn parse_query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// Body parsing as the real server does for the routes emulated: JSON, or
/// application/x-www-form-urlencoded (hooks: a single `payload` field holds JSON,
/// apps/meteor/app/integrations/server/api/api.ts middleware).
pub fn parse_body(content_type: &str, raw: &str) -> Value {
    if raw.trim().is_empty() {
        return json!({});
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let form = parse_query(raw);
        if form.len() == 1 {
            if let Some(p) = form.get("payload") {
                return serde_json::from_str(p).unwrap_or(json!({}));
            }
        }
        return serde_json::to_value(form).unwrap_or(json!({}));
    }
    serde_json::from_str(raw).unwrap_or(json!({}))
}

fn to_req(rq: &mut tiny_http::Request) -> Result<Req, String> {
    let url = rq.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
    let headers: HashMap<String, String> = rq
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let mut raw = String::new();
    let mut limited = rq.as_reader().take(MAX_BODY + 1);
    limited
        .read_to_string(&mut raw)
        .map_err(|e| format!("unreadable body: {e}"))?;
    if raw.len() as u64 > MAX_BODY {
        return Err("request body too large".into());
    }
    let ct = headers.get("content-type").cloned().unwrap_or_default();
    Ok(Req {
        method: rq.method().as_str().to_ascii_uppercase(),
        path: path.to_string(),
        query: parse_query(query),
        raw_query: query.to_string(),
        body: parse_body(&ct, &raw),
        raw_body: raw,
        ip: rq
            .remote_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
        headers,
    })
}

#[cfg(test)]
mod log_tests {
    use super::loggable_path;

    #[test]
    fn hook_tokens_are_masked_in_request_logs() {
        assert_eq!(loggable_path("/hooks/abc/s3cr3t"), "/hooks/abc/***");
        assert_eq!(
            loggable_path("/hooks/info/abc/s3cr3t"),
            "/hooks/info/abc/***"
        );
        assert_eq!(loggable_path("/hooks/abc/uid/s3cr3t"), "/hooks/abc/uid/***");
        assert_eq!(loggable_path("/api/v1/me"), "/api/v1/me");
    }
}
