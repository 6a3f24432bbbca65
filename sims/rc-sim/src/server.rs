//! Process start: flags, listeners (plain, TLS front, DDP front door), worker threads.

use crate::{ddp, http, now_ms, one_line, tls_front, Args, Sim};
use clap::Parser;
use serde_json::json;
use std::io::Write;
use std::sync::Arc;

/// Runs the emulator; returns the process exit code (2 = bad usage, 1 = cannot bind).
pub fn main_with_args(args: Vec<String>) -> i32 {
    let argv = std::iter::once("rc-sim".to_string()).chain(args);
    let parsed = match Args::try_parse_from(argv) {
        Ok(a) => a.into_config(std::env::vars().collect()),
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            println!("{}", e.to_string().trim_end());
            return 0;
        }
        Err(e) => Err(one_line(&e)),
    };
    let cfg = match parsed {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rc-sim: {e}");
            return 2;
        }
    };
    // Like a Rocket.Chat still starting: connections are refused until then (startup.rs).
    let startup = crate::startup::Startup::of(cfg.version, cfg.listen_delay, cfg.admin_delay);
    std::thread::sleep(startup.listen_after);
    // With TLS, the TLS front takes --port and relays to the front door on loopback.
    let tls = match &cfg.tls_cert_key_file {
        None => None,
        Some(path) => {
            let config = match tls_front::server_config(path) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("rc-sim: {e}");
                    return 2;
                }
            };
            match std::net::TcpListener::bind((cfg.bind.as_str(), cfg.port)) {
                Ok(l) => Some((l, config)),
                Err(e) => {
                    eprintln!(
                        "rc-sim: cannot listen on {}:{}: {e}; pick a free --port or 0",
                        cfg.bind, cfg.port
                    );
                    return 1;
                }
            }
        }
    };
    let (door_bind, door_port) = match &tls {
        None => (cfg.bind.as_str(), cfg.port),
        Some(_) => ("127.0.0.1", 0),
    };
    // REST and DDP share one port: ddp/frontdoor.rs routes each connection.
    let (server, door_port, front) = match ddp::frontdoor::listen(door_bind, door_port) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "rc-sim: cannot listen on {}:{}: {e}; pick a free --port or 0",
                cfg.bind, cfg.port
            );
            return 1;
        }
    };
    let mut cfg = cfg;
    let port = match tls {
        None => door_port,
        Some((listener, config)) => {
            let port = listener.local_addr().map(|a| a.port()).unwrap_or(cfg.port);
            if cfg.root_url.is_none() {
                cfg.root_url = Some(format!("https://127.0.0.1:{port}"));
            }
            std::thread::spawn(move || tls_front::serve(listener, door_port, config));
            port
        }
    };
    cfg.port = port;
    let sim = Arc::new(Sim::new(cfg));
    if let Some(delay) = startup.admin_after_listen {
        let sim = sim.clone();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let env = sim.cfg.env.clone();
            if sim.lock().insert_admin_from_env(&env).is_some() {
                // The moment the admin can log in, for convergence measurements.
                eprintln!("{}", json!({"msg": "admin created", "ts_ms": now_ms()}));
            }
        });
    } else {
        // The admin exists before the listening line: a client that logs in right away never
        // races the creation. A delayed one is announced as above (it is then a late listen).
        let env = sim.cfg.env.clone();
        if sim.lock().insert_admin_from_env(&env).is_some() && !sim.cfg.admin_delay.is_zero() {
            eprintln!("{}", json!({"msg": "admin created", "ts_ms": now_ms()}));
        }
    }
    front.start(sim.clone());
    println!(
        "{}",
        json!({"msg": "listening", "port": port, "version": sim.cfg.version.as_str(), "ts_ms": now_ms()})
    );
    let _ = std::io::stdout().flush();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let server = server.clone();
            let sim = sim.clone();
            std::thread::spawn(move || http::serve_loop(&server, &sim))
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    0
}
