//! replSetInitiate, and the replication-enabled check every replication command runs first.

use super::*;

impl Sim {
    /// ReplicationCoordinatorImpl::checkReplEnabledForCommand.
    pub(super) fn check_repl_enabled(&self, st: &SetState, idx: usize) -> Result<(), CmdError> {
        if !self.repl_enabled() {
            return Err(fail(76, "not running with --replSet"));
        }
        if st.rt[idx].state.is_none() || st.config.is_none() {
            return Err(fail(94, "no replset config has been received"));
        }
        Ok(())
    }

    /// CmdReplSetInitiate (repl_set_commands.cpp) + processReplSetInitiate
    /// (replication_coordinator_impl.cpp).
    pub(super) fn repl_set_initiate(
        self: &Arc<Self>,
        conn: &Conn,
        req: &Request,
    ) -> Result<Document, CmdError> {
        let ctx = format!("conn{}", conn.id);
        // CmdReplSetInitiate::run answers 76 before processReplSetInitiate logs 21356.
        let Some(set) = self.opts.repl_set.clone() else {
            return Err(fail(
                76,
                "This node was not started with replication enabled.",
            ));
        };
        log::info(
            "REPL",
            21356,
            &ctx,
            "replSetInitiate admin command received from client",
            json!({"member": self.members[conn.member].adv()}),
        );
        let mut result = doc! {};
        let mut config = match req.body.get("replSetInitiate") {
            Some(Bson::Document(d)) if !d.is_empty() => d.clone(),
            _ => {
                // Default config: this node alone, named by someHostAndPortForMe().
                let me = self.members[conn.member].adv();
                result.insert(
                    "info2",
                    "no configuration specified. Using a default configuration for the set",
                );
                result.insert("me", me.clone());
                log::info("REPL", 21577, &ctx, "Initiate: no configuration specified. Using a default configuration for the set", serde_json::Value::Null);
                doc! {"_id": set.clone(), "version": 1, "members": [{"_id": 0, "host": me}]}
            }
        };
        if !config.contains_key("version") {
            config.insert("version", 1);
        }
        let mut st = self.lock();
        if st.config.is_some() {
            // processReplSetInitiate's `info` hint is dropped with the reply builder (above).
            return Err(fail(23, "already initialized"));
        }
        let config = repl::normalize(&config, 0)?;
        let name = config.get_str("_id").unwrap_or_default().to_string();
        if name != set {
            // 6.0+ wording (processReplSetInitiate); 4.4/5.0 said "Attempting to initiate a
            // replica set with name X, but command line reports Y; rejecting".
            return Err(fail(93, format!("Rejecting initiate with a set name that differs from command line set name, initiate set name: {name}, command line set name: {set}")));
        }
        let ms = repl::members(&config);
        // repl_set_config_checks.cpp findSelfInConfig.
        let vt = repl::version_and_term(&config);
        let Some(me) = ms.iter().find(|m| self.members[conn.member].maps(&m.host)) else {
            return Err(fail(93, format!("No host described in new configuration with {vt} for replica set {name} maps to this node")));
        };
        // validateConfigForInitiate: findSelfInConfigIfElectable, wrapped into 93.
        if me.arbiter || me.priority <= 0.0 {
            return Err(fail(93, format!("This node, {}, with _id MemberId({}) is not electable under the new configuration with {vt} for replica set {name}", me.host, me.id)));
        }
        let failed: Vec<(String, String)> = ms
            .iter()
            .filter(|m| !self.members[conn.member].maps(&m.host))
            .filter(|m| !self.reachable(&m.host))
            .map(|m| connection_refused(&m.host))
            .collect();
        if let Some(e) = repl::initiate_quorum_error(&failed) {
            return Err(e);
        }
        log::info(
            "REPL",
            21357,
            &ctx,
            "replSetInitiate config object parses ok",
            json!({"numMembers": ms.len()}),
        );
        self.install_config(&mut st, config, false, None);
        result.insert("ok", 1.0);
        Ok(result)
    }
}
