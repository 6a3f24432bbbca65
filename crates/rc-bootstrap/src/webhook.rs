//! Steps 4 and 5: the incoming webhook (posting as the bot into the room, running the script)
//! and its URL, published to `--webhook-url-file`.

use crate::status::{Action, Status};
use crate::Bootstrap;
use rc_client::{IncomingWebhook, Integration};
use sidecar::file::write_private_atomic;
use sidecar::{Failure, Secret};

impl Bootstrap<'_> {
    pub(crate) fn ensure_webhook(
        &mut self,
        user_update: bool,
    ) -> Result<Option<Integration>, Failure> {
        let cfg = self.cfg;
        let wanted = IncomingWebhook {
            name: cfg.webhook_name.clone(),
            username: cfg.bot_user.clone(),
            channel: format!("#{}", cfg.room),
            script: cfg.script.clone(),
        };
        let all = self
            .admin
            .integrations()
            .map_err(|e| e.failure("listing integrations"))?;
        let found: Vec<&Integration> = all
            .iter()
            .filter(|i| i.kind == "webhook-incoming" && i.name == cfg.webhook_name)
            .collect();
        if found.len() > 1 {
            return Err(Failure::refused(format!(
                "{} incoming webhooks are named {:?}: remove the extra ones, rc-bootstrap cannot tell which is meant",
                found.len(),
                cfg.webhook_name
            )));
        }
        let Some(current) = found.first() else {
            if cfg.dry_run {
                self.set("webhook", Status::planned(Action::Create));
                return Ok(None);
            }
            let created = self.admin.create_incoming(&wanted).map_err(|e| {
                e.failure(&format!("creating incoming webhook {:?}", cfg.webhook_name))
            })?;
            self.set("webhook", Status::done(Action::Create));
            return Ok(Some(created));
        };
        let diff = webhook_diff(current, &wanted);
        if diff.is_empty() {
            self.set("webhook", Status::UNCHANGED);
            return Ok(Some((*current).clone()));
        }
        // Recreating changes the URL: only when the server cannot update the posting user.
        let user_changed =
            current.username.as_deref() != Some(wanted.username.as_str()) && !user_update;
        let action = if user_changed {
            Action::Recreate
        } else {
            Action::Update
        };
        if cfg.dry_run {
            self.set("webhook", Status::planned(action).with(diff.join(", ")));
            return Ok(Some((*current).clone()));
        }
        if user_changed {
            // integrations.update cannot change the posting user (IntegrationsUpdateProps has no
            // username for webhook-incoming): remove and create; the URL changes.
            self.admin
                .remove_integration(&current.id, &current.kind)
                .map_err(|e| e.failure("removing the old incoming webhook"))?;
            let created = self
                .admin
                .create_incoming(&wanted)
                .map_err(|e| e.failure("recreating the incoming webhook"))?;
            self.set(
                "webhook",
                Status::done(action).with(format!("{}; new URL", diff.join(", "))),
            );
            return Ok(Some(created));
        }
        let updated = self
            .admin
            .update_incoming(&current.id, &wanted, user_update)
            .map_err(|e| e.failure("updating the incoming webhook"))?;
        self.set("webhook", Status::done(action).with(diff.join(", ")));
        // Some versions do not echo the token on update; the id and token do not change.
        let mut merged = updated;
        if merged.token.is_none() {
            merged.token = current.token.clone();
        }
        Ok(Some(merged))
    }

    /// `<ROOT_URL>/hooks/<id>/<token>`, written to `--webhook-url-file` when it differs.
    pub(crate) fn publish_url(&mut self, integration: &Integration) -> Result<(), Failure> {
        let cfg = self.cfg;
        let token = integration.token.clone().unwrap_or_default();
        if token.is_empty() {
            return Err(Failure::refused(format!(
                "integration {} has no token in the server's answer: cannot build its URL",
                integration.id
            )));
        }
        let url = Secret::new(format!(
            "{}/hooks/{}/{}",
            cfg.public_url, integration.id, token
        ));
        if cfg.show_token {
            // Printed on purpose: take it out of the redaction registry.
            sidecar::redact::allow(url.expose());
        }
        if let Some(path) = &cfg.webhook_url_file {
            let current = sidecar::file::read_capped(
                path,
                sidecar::file::SECRET_FILE_MAX,
                "--webhook-url-file",
            )
            .ok()
            .and_then(|(bytes, _)| String::from_utf8(bytes).ok());
            let wanted = format!("{}\n", url.expose());
            if current.as_deref() == Some(wanted.as_str()) {
                self.set("url_file", Status::UNCHANGED);
            } else if cfg.dry_run {
                self.set("url_file", Status::planned(Action::Write));
            } else {
                write_private_atomic(path, wanted.as_bytes()).map_err(|e| {
                    Failure::usage(format!(
                        "--webhook-url-file {}: cannot write: {e} (mount a writable directory)",
                        path.display()
                    ))
                })?;
                self.set("url_file", Status::done(Action::Write));
            }
        }
        self.out.webhook_url = Some(url);
        Ok(())
    }
}

/// integrations.update takes `username` (the posting user) for incoming hooks from 7.x on; 6.x
/// needs remove + create, which changes the URL. `version` is /api/info's `major.minor`.
pub fn updates_hook_user(version: &str) -> bool {
    crate::wait::major(version).is_some_and(|major| major >= 7)
}

/// integrations.create/.update answer 200 even when the script does not compile; they set
/// `scriptError` and the hook then posts raw payloads instead of running the script.
pub fn check_script_compiled(i: &Integration, name: &str) -> Result<(), Failure> {
    match i.script_error_text() {
        None => Ok(()),
        Some(text) => Err(Failure::refused(format!(
            "incoming webhook {name:?}: Rocket.Chat could not compile its script ({text}); the hook would post \
             raw payloads: fix the script (--script) and rerun"
        ))),
    }
}

/// What differs between the server's integration and the wanted one.
pub fn webhook_diff(current: &Integration, wanted: &IncomingWebhook) -> Vec<String> {
    let mut diff = Vec::new();
    if current.username.as_deref() != Some(wanted.username.as_str()) {
        diff.push("user".to_string());
    }
    if current.channels() != vec![wanted.channel.clone()] {
        diff.push("room".to_string());
    }
    if !current.enabled {
        diff.push("enabled".to_string());
    }
    if current.script_enabled != wanted.script.is_some() {
        diff.push("script enabled".to_string());
    }
    if let Some(script) = &wanted.script {
        if current.script.as_deref() != Some(script.as_str()) {
            diff.push("script".to_string());
        }
    }
    diff
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hook_user_updates_from_7() {
        assert!(!updates_hook_user("6.13"));
        assert!(updates_hook_user("7.10"));
        assert!(updates_hook_user("8.1.0"));
        assert!(!updates_hook_user("garbage"));
    }

    #[test]
    fn webhook_diff_names_what_changed() {
        let current: Integration = serde_json::from_value(json!({
            "_id": "i", "type": "webhook-incoming", "name": "gitlab", "enabled": true,
            "username": "hubot", "channel": ["#ops"], "scriptEnabled": true, "script": "A", "token": "t"
        }))
        .unwrap();
        let mut wanted = IncomingWebhook {
            name: "gitlab".into(),
            username: "hubot".into(),
            channel: "#ops".into(),
            script: Some("A".into()),
        };
        assert!(webhook_diff(&current, &wanted).is_empty());
        wanted.script = Some("B".into());
        assert_eq!(webhook_diff(&current, &wanted), vec!["script"]);
        wanted.script = None;
        assert_eq!(webhook_diff(&current, &wanted), vec!["script enabled"]);
        wanted.channel = "#dev".into();
        wanted.username = "other".into();
        assert_eq!(
            webhook_diff(&current, &wanted),
            vec!["user", "room", "script enabled"]
        );
    }
}
