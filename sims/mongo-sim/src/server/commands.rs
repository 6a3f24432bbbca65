//! The command table: every command mongo-sim answers, listed once with what mongod's
//! `Command` declares for it (src/mongo/db/commands.h): whether it needs an authenticated
//! client (`requiresAuth()`; false for the handshake and authentication commands), which
//! built-in roles may run it (reduced from
//! https://www.mongodb.com/docs/manual/reference/built-in-roles/), and its handler.

use super::*;

type Handler = fn(&Arc<Sim>, &mut Conn, &Request) -> Result<Document, CmdError>;

pub(super) struct Command {
    pub name: &'static str,
    pub requires_auth: bool,
    /// Roles allowed to run it; `None`: any authenticated user.
    pub roles: Option<&'static [&'static str]>,
    pub run: Handler,
}

/// `requiresAuth()` false: hello/isMaster, ping, buildInfo, saslStart/saslContinue,
/// authenticate, endSessions.
const fn open(name: &'static str, run: Handler) -> Command {
    Command {
        name,
        requires_auth: false,
        roles: None,
        run,
    }
}

const fn any_user(name: &'static str, run: Handler) -> Command {
    Command {
        name,
        requires_auth: true,
        roles: None,
        run,
    }
}

const fn roles(name: &'static str, roles: &'static [&'static str], run: Handler) -> Command {
    Command {
        name,
        requires_auth: true,
        roles: Some(roles),
        run,
    }
}

const CLUSTER_MANAGER: &[&str] = &["root", "clusterAdmin", "clusterManager"];
const CLUSTER_MONITOR: &[&str] = &["root", "clusterAdmin", "clusterManager", "clusterMonitor"];
const READ_WRITE: &[&str] = &["root", "readWrite", "readWriteAnyDatabase"];
const READ: &[&str] = &[
    "root",
    "readWrite",
    "readWriteAnyDatabase",
    "read",
    "readAnyDatabase",
];

fn ok(_: &Arc<Sim>, _: &mut Conn, _: &Request) -> Result<Document, CmdError> {
    Ok(doc! {"ok": 1.0})
}

pub(super) const COMMANDS: &[Command] = &[
    open("hello", |s, c, r| s.hello(c, r, false)),
    open("isMaster", |s, c, r| s.hello(c, r, true)),
    open("ismaster", |s, c, r| s.hello(c, r, true)),
    open("ping", ok),
    open("endSessions", ok),
    open("buildInfo", |s, _, _| Ok(s.build_info())),
    open("buildinfo", |s, _, _| Ok(s.build_info())),
    open("saslStart", |s, c, r| s.sasl_start(c, r)),
    open("saslContinue", |s, c, r| s.sasl_continue(c, r)),
    open("authenticate", |s, c, r| s.authenticate_x509(c, r)),
    any_user("getParameter", |s, _, r| s.get_parameter(r)),
    any_user("listDatabases", |s, _, _| Ok(s.list_databases())),
    roles("replSetInitiate", CLUSTER_MANAGER, |s, c, r| {
        s.repl_set_initiate(c, r)
    }),
    roles("replSetReconfig", CLUSTER_MANAGER, |s, c, r| {
        s.repl_set_reconfig(c, r)
    }),
    roles("replSetGetStatus", CLUSTER_MONITOR, |s, c, _| {
        s.repl_set_get_status(c)
    }),
    roles("replSetGetConfig", CLUSTER_MONITOR, |s, c, r| {
        s.repl_set_get_config(c, r)
    }),
    roles("insert", READ_WRITE, |s, c, r| s.insert(c, r)),
    roles("find", READ, |s, c, r| s.find(c, r)),
];

pub(super) fn lookup(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

impl Sim {
    pub(super) fn dispatch(self: &Arc<Self>, conn: &mut Conn, req: &Request) -> Document {
        if self.opts.log_commands {
            let name = req.body.keys().next().cloned().unwrap_or_default();
            let awaitable = req.body.contains_key("maxAwaitTimeMS");
            log::line(
                "I",
                "COMMAND",
                0,
                &format!("conn{}", conn.id),
                "Command received (mongo-sim)",
                json!({"command": name, "awaitable": awaitable, "member": self.members[conn.member].adv()}),
            );
        }
        let mut reply = self.run_command(conn, req);
        self.decorate(conn, req, &mut reply);
        reply
    }

    fn run_command(self: &Arc<Self>, conn: &mut Conn, req: &Request) -> Document {
        let name = req.body.keys().next().cloned().unwrap_or_default();
        let Some(cmd) = lookup(&name) else {
            // service_entry_point_common.cpp: unknown command -> CommandNotFound.
            return error_doc(&fail(59, format!("no such command: '{name}'")));
        };
        if self.opts.auth && conn.user.is_none() && cmd.requires_auth {
            // src/mongo/db/commands.cpp: "Command <name> requires authentication" (code 13).
            return error_doc(&fail(13, format!("Command {name} requires authentication")));
        }
        if let Err(e) = check_role(conn, cmd, req) {
            return error_doc(&e);
        }
        // No `info` on errors: checkReplEnabledForCommand (94) and processReplSetInitiate (23)
        // append one, but the service entry point's generateErrorResponse resets the reply
        // builder before writing the error (4.x+; 3.6 kept it).
        (cmd.run)(self, conn, req).unwrap_or_else(|e| error_doc(&e))
    }
}

/// The built-in role check of an authenticated client.
fn check_role(conn: &Conn, cmd: &Command, req: &Request) -> Result<(), CmdError> {
    let (Some((_, role)), Some(allowed)) = (&conn.user, cmd.roles) else {
        return Ok(());
    };
    if allowed.contains(&role.as_str()) {
        return Ok(());
    }
    let mut body = req.body.clone();
    body.remove("lsid");
    body.remove("$clusterTime");
    body.insert("$db", req.db.clone());
    // AuthorizationSession: "not authorized on <db> to execute command <cmd>".
    Err(fail(
        13,
        format!(
            "not authorized on {} to execute command {}",
            req.db,
            shellish(&Bson::Document(body))
        ),
    ))
}

/// Renders a command like mongod's BSONObj::toString in "not authorized" messages.
fn shellish(b: &Bson) -> String {
    match b {
        Bson::Document(d) => {
            if d.is_empty() {
                return "{}".into();
            }
            let parts: Vec<String> = d
                .iter()
                .map(|(k, v)| format!("{k}: {}", shellish(v)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
        Bson::Array(a) => {
            let parts: Vec<String> = a.iter().map(shellish).collect();
            format!("[ {} ]", parts.join(", "))
        }
        Bson::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_command_is_listed_once() {
        for (i, c) in COMMANDS.iter().enumerate() {
            assert!(
                COMMANDS[i + 1..].iter().all(|d| d.name != c.name),
                "{} twice",
                c.name
            );
        }
        assert!(lookup("hello").is_some_and(|c| !c.requires_auth));
        assert!(lookup("insert").is_some_and(|c| c.requires_auth));
        assert!(lookup("drop").is_none());
    }
}
