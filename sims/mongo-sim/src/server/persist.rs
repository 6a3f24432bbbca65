//! `--data-dir`: the accepted replica-set config kept across restarts (mongod's
//! local.system.replset), written atomically, reloaded at start.

use super::*;

const CONFIG_FILE: &str = "mongo-sim-replset.bson";

impl Sim {
    pub(super) fn persist(&self, st: &SetState) {
        let (Some(dir), Some(config)) = (&self.opts.data_dir, &st.config) else {
            return;
        };
        let d = doc! {"config": config.clone(), "term": st.term};
        let mut bytes = Vec::new();
        if d.to_writer(&mut bytes).is_err() {
            return;
        }
        // Atomic replace: write a temp file, then rename over the old one.
        let tmp = dir.join(format!("{CONFIG_FILE}.tmp"));
        let res =
            std::fs::write(&tmp, &bytes).and_then(|_| std::fs::rename(&tmp, dir.join(CONFIG_FILE)));
        if let Err(e) = res {
            log::line(
                "E",
                "STORAGE",
                0,
                "ReplCoord-0",
                "Failed to persist replica set config",
                json!({"error": e.to_string(), "dataDir": dir.display().to_string()}),
            );
        }
    }

    /// Reloads a persisted config at start (mongod reads local.system.replset).
    pub fn load_persisted(self: &Arc<Self>) -> Result<(), String> {
        let Some(dir) = &self.opts.data_dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create --data-dir {}: {e}", dir.display()))?;
        let path: PathBuf = dir.join(CONFIG_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.log_no_local_config();
                return Ok(());
            }
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let d = Document::from_reader(&mut &bytes[..]).map_err(|e| {
            format!(
                "{} is not a mongo-sim config file ({e}); delete it or use another --data-dir",
                path.display()
            )
        })?;
        let config = d
            .get_document("config")
            .map_err(|_| {
                format!(
                    "{} has no config; delete it or use another --data-dir",
                    path.display()
                )
            })?
            .clone();
        let name = config.get_str("_id").unwrap_or_default().to_string();
        match &self.opts.repl_set {
            Some(set) if *set == name => {
                let mut st = self.lock();
                st.term = repl::num(d.get("term")).unwrap_or(0.0) as i64;
                self.install_config(&mut st, config, false, None);
            }
            Some(set) => {
                // replication_coordinator_impl.cpp _finishLoadLocalConfig @ d4d4a268: warning
                // 21406, then `myIndex = -1` and `_setCurrentRSConfig` all the same: the node
                // HAS a config it is not in, i.e. REMOVED (replSetGetStatus 93, hello as
                // without config, replSetInitiate 23 "already initialized").
                log::line("W", "REPL", 21406, "initandlisten", "Local replica set configuration document set name differs from command line set name; waiting for reconfig or remote heartbeat", json!({"localConfigSetName": name, "commandLineSetName": set}));
                let mut st = self.lock();
                st.term = repl::num(d.get("term")).unwrap_or(0.0) as i64;
                st.config = Some(config);
                for i in 0..self.members.len() {
                    if !self.members[i].down {
                        self.transition(&mut st, i, MemberState::Removed);
                    }
                }
            }
            None => {}
        }
        Ok(())
    }

    pub fn log_no_local_config(&self) {
        if self.repl_enabled() {
            // LOGV2 21313 at startup when local.system.replset is empty.
            log::info(
                "REPL",
                21313,
                "initandlisten",
                "Did not find local replica set configuration document at startup",
                json!({"error": {"code": 47, "codeName": "NoMatchingDocument", "errmsg": "Did not find replica set configuration document in local.system.replset"}}),
            );
        }
    }
}
