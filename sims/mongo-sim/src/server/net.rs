//! Networking: a listener per member (after `--listen-delay`, none for `--down`), TLS
//! (requireTLS) or the plain wire protocol, the per-connection read/dispatch/write loop and the
//! reply faults (`--stall`, `--slow`, `--reset`).

use super::*;

fn serve_conn(sim: Arc<Sim>, member: usize, stream: TcpStream) {
    let id = sim.conn_ids.fetch_add(1, Ordering::SeqCst) + 1;
    let remote = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let _ = stream.set_nodelay(true);
    log::info(
        "NETWORK",
        22943,
        "listener",
        "Connection accepted",
        json!({"remote": remote, "connectionId": id, "member": sim.members[member].adv()}),
    );
    match sim.tls.clone() {
        None => {
            // session_asio.h maybeHandshakeSSLForIngress: a first message whose responseTo is
            // neither 0 nor -1 is a TLS ClientHello; without TLS configured mongod ends the
            // connection with SSLHandshakeFailed.
            let mut head = [0u8; 12];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let n = stream.peek(&mut head).unwrap_or(0);
            let _ = stream.set_read_timeout(None);
            let response_to = i32::from_le_bytes([head[8], head[9], head[10], head[11]]);
            if n >= 12 && response_to != 0 && response_to != -1 {
                ending(
                    id,
                    &remote,
                    22988,
                    ssl_handshake_failed(
                        "SSL handshake received but server is started without SSL support",
                    ),
                );
                return;
            }
            serve_stream(sim, member, id, remote, None, stream)
        }
        Some(config) => {
            // A client that never finishes its handshake must not hold the thread forever.
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            // maybeHandshakeSSLForIngress: a first message whose responseTo is 0 or -1 is
            // the wire protocol in the clear; under requireTLS mongod ends the connection.
            let mut head = [0u8; 12];
            let n = stream.peek(&mut head).unwrap_or(0);
            let response_to = i32::from_le_bytes([head[8], head[9], head[10], head[11]]);
            if n >= 12 && (response_to == 0 || response_to == -1) {
                ending(
                    id,
                    &remote,
                    22988,
                    ssl_handshake_failed("The server is configured to only allow SSL connections"),
                );
                return;
            }
            let mut tcp = stream;
            let mut tls = match rustls::ServerConnection::new(config) {
                Ok(t) => t,
                Err(_) => return,
            };
            while tls.is_handshaking() {
                if let Err(e) = tls.complete_io(&mut tcp) {
                    // LOGV2 22988 (transport/session_asio.h): "Error receiving request from
                    // client" with the SSL handshake error.
                    ending(
                        id,
                        &remote,
                        22988,
                        json!(format!("SSLHandshakeFailed: {e}")),
                    );
                    return;
                }
            }
            if let Some(check) = &sim.peer_check {
                if let Err(why) = check.check(tls.peer_certificates()) {
                    // The handshake completed; mongod logs the refusal and ends the session
                    // without a TLS alert or a reply (transport_layer: 22988 on the error).
                    ending(id, &remote, 22988, ssl_handshake_failed(why));
                    let _ = tcp.shutdown(std::net::Shutdown::Both);
                    return;
                }
            }
            let _ = tcp.set_read_timeout(None);
            let subject = tls
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| crate::tls::subject_rfc2253(c));
            let stream = rustls::StreamOwned::new(tls, tcp);
            serve_stream(sim, member, id, remote, subject, stream)
        }
    }
}

fn serve_stream<S: std::io::Read + std::io::Write>(
    sim: Arc<Sim>,
    member: usize,
    id: i64,
    remote: String,
    peer_subject: Option<String>,
    stream: S,
) {
    let mut reader = BufReader::new(stream);
    let mut conn = Conn {
        id,
        member,
        remote: remote.clone(),
        user: None,
        conv: None,
        peer_subject,
    };
    loop {
        let (header, payload) = match wire::read_message(&mut reader) {
            Ok(m) => m,
            Err(WireError::Io(_)) => break,
            Err(WireError::Malformed(why)) => {
                // mongod ends the session on a protocol violation.
                ending(id, &remote, 22989, json!(why));
                break;
            }
        };
        if sim.opts.reset {
            // Fault: close without answering.
            break;
        }
        if sim.opts.stall {
            // Fault: keep reading, never answer.
            continue;
        }
        let req = match wire::parse_request(&header, &payload) {
            Ok(r) => r,
            Err(e) => {
                ending(id, &remote, 22989, json!(e.to_string()));
                break;
            }
        };
        let reply = sim.dispatch(&mut conn, &req);
        if !sim.opts.slow.is_zero() {
            thread::sleep(sim.opts.slow);
        }
        if req.more_to_come() {
            continue;
        }
        // exhaustAllowed is honoured by answering once without moreToCome, which the wire
        // protocol permits ("the server MAY ... respond with a single reply").
        let bytes = if req.op_code == OP_QUERY {
            wire::encode_op_reply(0, req.request_id, &reply)
        } else {
            wire::encode_op_msg(0, req.request_id, &reply)
        };
        if wire::write_all(reader.get_mut(), &bytes).is_err() {
            break;
        }
    }
    log::info(
        "NETWORK",
        22944,
        &format!("conn{id}"),
        "Connection ended",
        json!({"remote": remote, "connectionId": id}),
    );
}

/// The `--member-state` a member spec is given, if any.
/// LOGV2 22988 / 22989 (transport/session_asio.h, session_workflow.cpp): the connection ends on
/// this error.
fn ending(id: i64, remote: &str, log_id: i64, error: serde_json::Value) {
    log::line(
        "I",
        "NETWORK",
        log_id,
        &format!("conn{id}"),
        "Error receiving request from client. Ending connection from remote",
        json!({"error": error, "remote": remote}),
    );
}

fn ssl_handshake_failed(errmsg: impl Into<String>) -> serde_json::Value {
    json!({"code": 141, "codeName": "SSLHandshakeFailed", "errmsg": errmsg.into()})
}

pub(super) fn forced_state(opts: &Options, spec: &crate::cli::MemberSpec) -> Option<MemberState> {
    opts.member_states.iter().find_map(|(hp, state)| {
        let (h, p) = split_host_port(hp).ok()?;
        let named = (h == spec.adv_host && p == spec.adv_port)
            || (h == spec.listen_ip && p == spec.listen_port);
        named.then(|| MemberState::forced(state)).flatten()
    })
}

/// Binds every member that is not `--down`, prints "Waiting for connections", serves forever.
pub fn run(opts: Options) -> i32 {
    if !opts.listen_delay.is_zero() {
        thread::sleep(opts.listen_delay);
    }
    let mut members = Vec::new();
    let mut listeners = Vec::new();
    for spec in &opts.members {
        let down = opts.down.iter().any(|d| {
            split_host_port(d).is_ok_and(|(h, p)| {
                (h == spec.adv_host && p == spec.adv_port)
                    || (h == spec.listen_ip && p == spec.listen_port)
            })
        });
        let mut m = Member {
            adv_host: spec.adv_host.clone(),
            adv_port: spec.adv_port,
            listen_ip: spec.listen_ip.clone(),
            listen_port: spec.listen_port,
            down,
            forced: forced_state(&opts, spec),
            process_id: ObjectId::new(),
        };
        if down {
            listeners.push(None);
        } else {
            let l = match TcpListener::bind((spec.listen_ip.as_str(), spec.listen_port)) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!(
                        "mongo-sim: cannot listen on {}:{} for member {}:{}: {e}; choose a free port",
                        spec.listen_ip, spec.listen_port, spec.adv_host, spec.adv_port
                    );
                    return EXIT_LISTEN;
                }
            };
            let actual = l.local_addr().map(|a| a.port()).unwrap_or(spec.listen_port);
            if m.adv_port == 0 {
                m.adv_port = actual;
            }
            m.listen_port = actual;
            listeners.push(Some(l));
        }
        members.push(m);
    }
    let tls = match &opts.tls_cert_key_file {
        None => None,
        Some(path) => match crate::tls::server_config(
            path,
            opts.tls_ca_file.as_deref(),
            opts.tls_allow_without_cert,
        ) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("mongo-sim: {e}");
                return EXIT_USAGE;
            }
        },
    };
    let mut sim = Sim::new(opts, members);
    if let Some(sim) = Arc::get_mut(&mut sim) {
        if let Some((config, check)) = tls {
            sim.tls = Some(config);
            sim.peer_check = check;
        }
    }
    if let Err(e) = sim.load_persisted() {
        eprintln!("mongo-sim: {e}");
        return EXIT_DATA_DIR;
    }
    if sim.opts.data_dir.is_none() {
        sim.log_no_local_config();
    }
    let mut handles = Vec::new();
    for (i, l) in listeners.into_iter().enumerate() {
        let Some(l) = l else { continue };
        let m = &sim.members[i];
        // LOGV2 23016 (transport_layer_asio.cpp), plus the member names for tests.
        log::info(
            "NETWORK",
            23016,
            "listener",
            "Waiting for connections",
            json!({"port": m.listen_port, "host": m.listen_ip, "member": m.adv(), "ssl": if sim.tls.is_some() { "on" } else { "off" }}),
        );
        let sim = Arc::clone(&sim);
        handles.push(thread::spawn(move || {
            for stream in l.incoming() {
                match stream {
                    Ok(s) => {
                        let sim = Arc::clone(&sim);
                        thread::spawn(move || serve_conn(sim, i, s));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        }));
    }
    for h in handles {
        let _ = h.join();
    }
    0
}
