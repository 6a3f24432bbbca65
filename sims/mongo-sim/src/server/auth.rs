//! saslStart / saslContinue (SCRAM-SHA-1 and SCRAM-SHA-256) and the authentication log lines.

use super::*;

impl Sim {
    // ---------------------------------------------------------------- auth

    pub(super) fn sasl_start(&self, conn: &mut Conn, req: &Request) -> Result<Document, CmdError> {
        let mech_name = req
            .body
            .get_str("mechanism")
            .unwrap_or_default()
            .to_string();
        let Some(mech) = Mech::parse(&mech_name) else {
            // sasl_commands.cpp: unsupported mechanism.
            return Err(fail(334, format!("Received authentication for mechanism {mech_name} which is unknown or not enabled")));
        };
        let payload = payload_bytes(&req.body);
        let first = scram::parse_client_first(&payload).map_err(|e| fail(17, e))?;
        let user = self
            .users
            .iter()
            .find(|u| u.name == first.user && req.db == "admin");
        let Some(user) = user else {
            // mongod reports UserNotFound to clients as AuthenticationFailed.
            self.log_auth(conn, mech, &first.user, &req.db, false);
            return Err(fail(18, "Authentication failed."));
        };
        let creds = match mech {
            Mech::Sha1 => user.sha1.clone(),
            Mech::Sha256 => user.sha256.clone(),
        };
        let Some(creds) = creds else {
            // sasl_scram_server_conversation.cpp: a user without credentials for this
            // mechanism -> MechanismUnavailable (334).
            self.log_auth(conn, mech, &first.user, &req.db, false);
            return Err(fail(
                334,
                format!(
                    "Unable to use {} based authentication for user without any {} credentials registered",
                    mech.name(),
                    mech.name()
                ),
            ));
        };
        let skip_empty = req
            .body
            .get_document("options")
            .ok()
            .and_then(|o| o.get_bool("skipEmptyExchange").ok())
            .unwrap_or(false);
        let conv = Conversation::start(mech, &first, creds, skip_empty);
        let reply = conv.server_first.clone().into_bytes();
        conn.conv = Some(conv);
        Ok(
            doc! {"conversationId": 1, "done": false, "payload": Binary{subtype: BinarySubtype::Generic, bytes: reply}, "ok": 1.0},
        )
    }

    pub(super) fn sasl_continue(
        &self,
        conn: &mut Conn,
        req: &Request,
    ) -> Result<Document, CmdError> {
        let Some(mut conv) = conn.conv.take() else {
            return Err(fail(17, "No SASL session state found"));
        };
        let payload = payload_bytes(&req.body);
        let empty = Binary {
            subtype: BinarySubtype::Generic,
            bytes: Vec::new(),
        };
        if conv.step == 2 {
            // The final empty round (RFC 5802 via mongod: done only after the client ack).
            self.authenticated(conn, &conv);
            return Ok(doc! {"conversationId": 1, "done": true, "payload": empty, "ok": 1.0});
        }
        match conv.finish(&payload) {
            Ok(v) => {
                let done = conv.skip_empty_exchange;
                if done {
                    self.authenticated(conn, &conv);
                } else {
                    conn.conv = Some(conv);
                }
                Ok(
                    doc! {"conversationId": 1, "done": done, "payload": Binary{subtype: BinarySubtype::Generic, bytes: v.into_bytes()}, "ok": 1.0},
                )
            }
            Err(_) => {
                self.log_auth(conn, conv.mech, &conv.user, "admin", false);
                Err(fail(18, "Authentication failed."))
            }
        }
    }

    /// `authenticate` with MONGODB-X509 (authentication_commands.cpp, _authenticateX509): the
    /// verified client certificate's subject is the user, in $external; a `user` given must
    /// equal it; the user must exist: authCommand rethrows addAndAuthorizeUser's UserNotFound (11) as is.
    pub(super) fn authenticate_x509(
        &self,
        conn: &mut Conn,
        req: &Request,
    ) -> Result<Document, CmdError> {
        let mechanism = req.body.get_str("mechanism").unwrap_or_default();
        if mechanism.is_empty() {
            return Err(fail(2, "Auth mechanism not specified"));
        }
        if mechanism != "MONGODB-X509" {
            return Err(fail(2, format!("Unsupported mechanism: {mechanism}")));
        }
        let Some(subject) = conn.peer_subject.clone() else {
            return Err(fail(18, "No verified subject name available from client"));
        };
        if let Ok(user) = req.body.get_str("user") {
            if !user.is_empty() && user != subject {
                return Err(fail(
                    18,
                    "There is no x.509 client certificate matching the user.",
                ));
            }
        }
        if req.db != "$external" {
            return Err(fail(
                17,
                "X.509 authentication must always use the $external database.",
            ));
        }
        let ok = self.opts.x509_users.contains(&subject);
        log::line(
            "I",
            "ACCESS",
            if ok { 20429 } else { 20428 },
            &format!("conn{}", conn.id),
            if ok {
                "Successfully authenticated"
            } else {
                "Failed to authenticate"
            },
            json!({"mechanism": "MONGODB-X509", "user": subject, "db": "$external", "client": conn.remote}),
        );
        if !ok {
            return Err(fail(
                11,
                format!("Could not find user \"{subject}\" for db \"$external\""),
            ));
        }
        conn.user = Some((subject.clone(), "root".into()));
        Ok(doc! {"dbname": "$external", "user": subject, "ok": 1.0})
    }

    pub(super) fn authenticated(&self, conn: &mut Conn, conv: &Conversation) {
        let role = self
            .users
            .iter()
            .find(|u| u.name == conv.user)
            .map(|u| u.role.clone())
            .unwrap_or_default();
        conn.user = Some((conv.user.clone(), role));
        self.log_auth(conn, conv.mech, &conv.user, "admin", true);
    }

    pub(super) fn log_auth(&self, conn: &Conn, mech: Mech, user: &str, db: &str, ok: bool) {
        let (id, msg) = if ok {
            (5286306, "Authentication succeeded")
        } else {
            (5286307, "Authentication failed")
        };
        let mut attr = json!({"mechanism": mech.name(), "speculative": false, "principalName": user, "authenticationDatabase": db, "remote": conn.remote});
        if !ok {
            attr["error"] =
                json!("AuthenticationFailed: SCRAM authentication failed, storedKey mismatch");
        }
        log::line("I", "ACCESS", id, &format!("conn{}", conn.id), msg, attr);
    }
}

fn payload_bytes(body: &Document) -> Vec<u8> {
    match body.get("payload") {
        Some(Bson::Binary(b)) => b.bytes.clone(),
        Some(Bson::String(s)) => s.clone().into_bytes(),
        _ => Vec::new(),
    }
}
