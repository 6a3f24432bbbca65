//! Incoming webhooks: `/hooks/...` routing, the integration script and processWebhookMessage().

use crate::*;
use serde_json::{json, Value};

/// The `request` executeIntegrationRest() (api.ts) hands to process_incoming_request.
pub(crate) fn script_request(
    st: &State,
    integ: &Integration,
    req: &Req,
    url_params: Value,
) -> Value {
    let search = if req.raw_query.is_empty() {
        String::new()
    } else {
        format!("?{}", req.raw_query)
    };
    let path = format!("{}{search}", req.path);
    let uid = integ.user_id.as_str();
    let user = match st.user_idx_by_id(uid) {
        Some(i) => {
            json!({"_id": uid, "name": st.users[i].name, "username": st.users[i].username})
        }
        None => json!({"_id": uid, "name": "", "username": null}),
    };
    json!({
        "url": {"hash": "", "search": search, "query": req.query, "pathname": req.path, "path": path},
        "url_raw": path,
        "url_params": url_params,
        "content": req.body,
        "content_raw": req.raw_body,
        "headers": req.headers,
        "body": req.body,
        "user": user,
    })
}

/// underscore `_.isEmpty` for JSON values (strings, arrays, objects by length; others empty).
pub(crate) fn is_empty_js(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => true,
    }
}

/// `a || b || c` in JS.
pub(crate) fn js_or<'a>(vals: &[&'a Value]) -> &'a Value {
    vals.iter()
        .copied()
        .find(|v| script::truthy(v))
        .unwrap_or(vals[vals.len() - 1])
}

/// processWebhookMessage.ts: the message built from the payload (or the script's content)
/// and the integration's defaults (alias, avatar, emoji). Returns (msg, other fields).
pub(crate) fn webhook_message(body: &Value, integ: &Integration) -> (String, Value) {
    let text = match js_or(&[&body["text"], &body["msg"]]) {
        Value::String(s) => s.trim().to_string(),
        Value::Null => String::new(),
        v if !script::truthy(v) => String::new(),
        v => v.to_string(),
    };
    let def_alias = js_or(&[integ.alias(), &json!("")]).clone();
    // Attachments that are not an array are ignored (logged as a warning).
    let attachments = match &body["attachments"] {
        Value::Array(a) => Some(
            a.iter()
                .map(|att| {
                    let mut att = att.clone();
                    if let Some(o) = att.as_object_mut() {
                        if let Some(m) = o.remove("msg").filter(script::truthy) {
                            let t = m.as_str().map(|s| s.trim().to_string());
                            o.insert("text".into(), t.map(Value::String).unwrap_or(m));
                        }
                    }
                    att
                })
                .collect::<Vec<_>>(),
        ),
        _ => None,
    };
    let mut m = json!({
        "bot": {"i": integ.id},
        "alias": js_or(&[&body["username"], &body["alias"], &def_alias]),
        "attachments": attachments.clone().unwrap_or_default(),
        "parseUrls": body.get("parseUrls").cloned().unwrap_or(json!(attachments.is_none())),
        "groupable": body.get("groupable").cloned().unwrap_or(json!(false)),
    });
    for k in ["tmid", "customFields"] {
        if let Some(v) = body.get(k).filter(|v| !v.is_null()) {
            m[k] = v.clone();
        }
    }
    if !is_empty_js(&body["icon_url"]) || !is_empty_js(&body["avatar"]) {
        m["avatar"] = js_or(&[&body["icon_url"], &body["avatar"]]).clone();
    } else if !is_empty_js(&body["icon_emoji"]) || !is_empty_js(&body["emoji"]) {
        m["emoji"] = js_or(&[&body["icon_emoji"], &body["emoji"]]).clone();
    } else if !is_empty_js(integ.avatar()) {
        m["avatar"] = integ.avatar().clone();
    } else if !is_empty_js(integ.emoji()) {
        m["emoji"] = integ.emoji().clone();
    }
    (text, m)
}

impl Sim {
    pub(crate) fn engine(&self) -> script::Engine {
        script::Engine {
            node: self.cfg.node.clone(),
            timeout: self.cfg.script_timeout,
        }
    }

    /// apps/meteor/app/integrations/server/api/api.ts, routed as the emulated release's router
    /// does (hook_router.rs); WebHookAPI.authenticatedRoute finds the integration by id+token.
    pub(crate) fn hook(&self, req: &Req, rest: &str) -> Resp {
        let parts: Vec<&str> = rest.split('/').collect();
        let Some(m) = hook_router::route(self.cfg.version, &req.method, &parts) else {
            return Resp::json(
                404,
                json!({"success": false, "error": "Resource not found"}),
            );
        };
        let is_info = m.route == hook_router::HookRoute::Info;
        let (id, user_part) = (m.integration_id, m.user_id);
        let mut st = self.lock();
        let token = percent_decode(m.token);
        let Some(ii) = st
            .integrations
            .iter()
            .position(|i| i.id == id && i.token == token)
        else {
            return self.invalid_hook();
        };
        // WebHookAPI.shouldVerifyRateLimit(): only the setting counts, no bypass
        // permission; the rule is keyed by the full hook URL.
        let key = format!("/hooks/{rest}{}", req.method.to_lowercase());
        let headers = match self.rate_limit(&mut st, &key, req, None, false, None) {
            Ok(h) => h,
            Err(r) => return r,
        };
        let mut resp = if is_info {
            Resp::json(200, json!({"success": true}))
        } else {
            let mut params = json!({"integrationId": percent_decode(id), "token": token});
            if let Some(u) = user_part {
                params["userId"] = json!(percent_decode(u));
            }
            let integ = st.integrations[ii].clone();
            // The script may run for seconds: never hold the state lock meanwhile.
            drop(st);
            self.execute_hook(&integ, req, params)
        };
        resp.headers.extend(headers);
        resp
    }

    /// No integration for that id+token. Restivus: the auth.user hook answers 404
    /// `{success:false, error:"Invalid integration id or token provided."}`. Later releases
    /// throw that Error from authenticatedRoute outside the endpoint's try/catch (ApiClass.ts);
    /// the Hono app has no onError, so Hono's default handler answers 500
    /// `Internal Server Error` (text/plain).
    pub(crate) fn invalid_hook(&self) -> Resp {
        if hook_router::literal_first(self.cfg.version) {
            return Resp::json(
                404,
                json!({"success": false, "error": "Invalid integration id or token provided."}),
            );
        }
        Resp {
            status: 500,
            headers: vec![],
            content_type: "text/plain; charset=UTF-8".into(),
            body: "Internal Server Error".into(),
        }
    }

    /// api.ts executeIntegrationRest(): enabled check, the integration script (if any), then
    /// processWebhookMessage() with the script's `content` or the request body.
    pub(crate) fn execute_hook(&self, integ: &Integration, req: &Req, url_params: Value) -> Resp {
        if !integ.is_enabled() {
            return Resp::json(
                503,
                json!({"success": false, "error": "Service Unavailable"}),
            );
        }
        let mut body = req.body.clone();
        let mut script_response = None;
        let mut sim_meta = json!({"scriptRun": false});
        if script::has_valid_script(integ) {
            let request = {
                let st = self.lock();
                script_request(&st, integ, req, url_params)
            };
            let code = integ.script_compiled.as_deref().unwrap_or_default();
            let outcome = self.engine().run_incoming(code, &request);
            match self.script_verdict(integ, outcome) {
                Ok((content, response, meta)) => {
                    body = content;
                    script_response = response;
                    sim_meta = meta;
                }
                Err(r) => return r,
            }
        }
        let mut st = self.lock();
        match self.post_webhook(&mut st, integ, req, &body, sim_meta) {
            Ok(()) => match script_response {
                // API.v1.success(scriptResponse): objects get success:true, others go as-is.
                Some(Value::Object(mut o)) => {
                    o.insert("success".into(), json!(true));
                    Resp::json(200, Value::Object(o))
                }
                Some(v) => Resp::json(200, v),
                None => Resp::json(200, json!({"success": true})),
            },
            Err(e) => Resp::json(e.status, e.body),
        }
    }

    /// What executeIntegrationRest() makes of the script run. Ok = post (content, response,
    /// `_sim` fields); Err = the final answer. Failures are logged on stderr like the real
    /// server logs them (incomingLogger.error), one JSON line.
    pub(crate) fn script_verdict(
        &self,
        integ: &Integration,
        outcome: script::Outcome,
    ) -> Result<(Value, Option<Value>, Value), Resp> {
        use script::Outcome;
        let name = integ.name.clone();
        let log = |stage: &str, err: &str| {
            eprintln!(
                "{}",
                json!({"msg": "integration script failed", "integration": name, "stage": stage, "error": err})
            );
        };
        let fail = |error: &str| Resp::json(400, json!({"success": false, "error": error}));
        match outcome {
            // isolated-vm.ts getIntegrationScript(): any evaluation failure is rethrown as
            // Error('error-evaluating-script'); ApiClass turns a thrown Error into
            // API.v1.failure(e.message) -> 400 {success:false, error}.
            Outcome::Engine(e) => {
                log("engine", &e);
                Err(fail("error-evaluating-script"))
            }
            Outcome::Evaluate(e) => {
                log("evaluate", &e);
                Err(fail("error-evaluating-script"))
            }
            // ScriptEngine.ts executeIncomingScript(): a missing method is logged and the
            // result is undefined -> `if (!result) return API.v1.success()`.
            Outcome::MissingMethod { .. } => {
                log(
                    "missing-method",
                    "Method \"process_incoming_request\" not found",
                );
                Err(Resp::json(200, json!({"success": true})))
            }
            // executeIncomingScript(): errors while running -> Error('error-running-script').
            Outcome::Run(e) => {
                log("run", &e);
                Err(fail("error-running-script"))
            }
            Outcome::Result { value, logs } => {
                if !script::truthy(&value) {
                    return Err(Resp::json(200, json!({"success": true})));
                }
                if script::truthy(&value["error"]) {
                    // API.v1.failure(result.error): an object is the body (+ success:false),
                    // anything else becomes `error`.
                    let b = match value["error"].clone() {
                        Value::Object(mut o) => {
                            o.insert("success".into(), json!(false));
                            Value::Object(o)
                        }
                        v => json!({"success": false, "error": v}),
                    };
                    return Err(Resp::json(400, b));
                }
                let content = value["content"].clone();
                if !content.is_object() && !content.is_array() {
                    // `'separateResponse' in bodyParams` throws a TypeError inside the try ->
                    // API.v1.failure('error-running-script').
                    log("result", "the result has no `content` object");
                    return Err(fail("error-running-script"));
                }
                let response = value.get("response").cloned().filter(script::truthy);
                let meta = json!({"scriptRun": true, "scriptResult": value, "scriptLogs": logs});
                Ok((content, response, meta))
            }
        }
    }

    /// The part of executeIntegrationRest() after the script, and processWebhookMessage()
    /// (apps/meteor/app/lib/server/functions/processWebhookMessage.ts).
    pub(crate) fn post_webhook(
        &self,
        st: &mut State,
        integ: &Integration,
        req: &Req,
        body: &Value,
        sim_meta: Value,
    ) -> Result<(), ApiErr> {
        let script_enabled = integ.script_on();
        let empty = match body {
            Value::Object(o) => o.is_empty(),
            Value::Array(a) => a.is_empty(),
            _ => true,
        };
        if empty && !script_enabled {
            return Ok(());
        }
        if (script::truthy(&body["channel"]) || script::truthy(&body["roomId"]))
            && !integ.may_override_channel()
        {
            return Err(failure(
                "overriding destination channel is disabled for this integration",
            ));
        }
        let uid = integ.user_id.clone();
        let Some(uidx) = st.user_idx_by_id(&uid) else {
            return Err(failure("unknown-error"));
        };
        let username = st.users[uidx].username.clone();
        // messageObj.channel || messageObj.roomId || defaultValues.channel, ensureArray, unique.
        let default_channel = json!(integ.channel);
        let target = [&body["channel"], &body["roomId"], &default_channel]
            .into_iter()
            .find(|v| script::truthy(v))
            .cloned()
            .unwrap_or(Value::Null);
        let mut channels: Vec<String> = vec![];
        let list = match target {
            Value::Array(a) => a,
            v => vec![v],
        };
        for c in list {
            let c = match c {
                Value::String(s) => s,
                Value::Null => continue,
                v => v.to_string(),
            };
            if !channels.contains(&c) {
                channels.push(c);
            }
        }
        let (text, extra_fields) = webhook_message(body, integ);
        for ch in channels {
            let ri = match ch.chars().next() {
                // Direct messages are not emulated: nothing is stored for `@user` targets.
                Some('@') => continue,
                Some('#') => st
                    .room_idx_by_name(&ch[1..])
                    .or_else(|| st.room_idx_by_id(&ch[1..])),
                // No prefix: room by id or name (then a DM by user id, not emulated).
                _ => st.room_idx_by_id(&ch).or_else(|| st.room_idx_by_name(&ch)),
            };
            // getRoomByNameOrIdWithOptionToJoin(): unknown room -> Meteor.Error('invalid-channel')
            let Some(ri) = ri else {
                return Err(failure("invalid-channel"));
            };
            let rid = st.rooms[ri].id.clone();
            if st.sub(&rid, &uid).is_none() {
                if st.rooms[ri].t == "c" {
                    // getRoomByNameOrIdWithOptionToJoin({joinChannel: true}) joins public rooms.
                    add_sub(st, &rid, &uid, vec![]);
                } else {
                    return Err(failure("invalid-channel"));
                }
            }
            // apps/meteor/app/authorization/server/functions/canSendMessage.ts
            // (unless the user was unmuted by hand in the read-only room).
            if st.rooms[ri].ro
                && !st.has_permission(&uid, "post-readonly", Some(&rid))
                && !st.rooms[ri].unmuted.iter().any(|u| u == &username)
            {
                return Err(failure(
                    "You can't send messages because the room is readonly.",
                ));
            }
            if st.rooms[ri].muted.iter().any(|m| m == &username) {
                return Err(failure("You_have_been_muted"));
            }
            let mut extra = extra_fields.clone();
            extra["_sim"] = json!({"rawBody": req.raw_body, "contentType": req.header("content-type"),
                "scriptEnabled": script_enabled, "script": integ.script,
                "headers": req.headers});
            if let (Some(o), Value::Object(m)) = (extra["_sim"].as_object_mut(), &sim_meta) {
                o.extend(m.clone());
            }
            st.messages.push(Message {
                id: random_id(17),
                rid,
                msg: text.clone(),
                uid: uid.clone(),
                username: username.clone(),
                ts: now_ms(),
                extra,
            });
        }
        Ok(())
    }
}
