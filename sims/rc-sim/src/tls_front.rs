//! `--tls-cert-key-file PEM`: Rocket.Chat behind a TLS terminator (the usual production set-up:
//! a reverse proxy in front of Meteor's plain HTTP). A small rustls front on the public port
//! that decrypts each connection and relays its bytes to tiny_http on a private loopback port,
//! so every route, header and error stays exactly the plain server's.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub fn server_config(path: &Path) -> Result<Arc<ServerConfig>, String> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("--tls-cert-key-file {shown}: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(path)
        .map_err(|e| format!("--tls-cert-key-file {shown}: no private key: {e}"))?;
    ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map(Arc::new)
        .map_err(|e| format!("--tls-cert-key-file {shown}: {e}"))
}

/// Accepts on `front` forever; each connection is relayed to `backend_port` on loopback.
pub fn serve(front: TcpListener, backend_port: u16, config: Arc<ServerConfig>) {
    for stream in front.incoming().flatten() {
        let config = config.clone();
        std::thread::spawn(move || relay(stream, backend_port, config));
    }
}

fn relay(client: TcpStream, backend_port: u16, config: Arc<ServerConfig>) {
    // A client that stalls its handshake or goes quiet does not hold the threads forever.
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(conn) = ServerConnection::new(config) else {
        return;
    };
    let mut tls = StreamOwned::new(conn, client);
    let Ok(backend) = TcpStream::connect(("127.0.0.1", backend_port)) else {
        return;
    };
    let _ = backend.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut from_backend) = backend.try_clone() else {
        return;
    };
    let mut to_backend = backend;
    // One thread, alternating: the TLS session is not shareable across threads without a lock,
    // and HTTP/1.1 request/response traffic does not need full duplex. The backend is read
    // with a short timeout so a request body that arrives in pieces still gets through.
    let _ = from_backend.set_read_timeout(Some(Duration::from_millis(5)));
    let _ = tls.sock.set_read_timeout(Some(Duration::from_millis(5)));
    let mut buf = vec![0u8; 16 * 1024];
    let mut idle = 0u32;
    loop {
        let mut moved = false;
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to_backend.write_all(&buf[..n]).is_err() {
                    break;
                }
                moved = true;
            }
            Err(e) if would_block(&e) => {}
            Err(_) => break,
        }
        match from_backend.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if tls.write_all(&buf[..n]).and_then(|_| tls.flush()).is_err() {
                    break;
                }
                moved = true;
            }
            Err(e) if would_block(&e) => {}
            Err(_) => break,
        }
        idle = if moved { 0 } else { idle + 1 };
        // ~60 s without a byte either way (two 5 ms timeouts per round): drop the connection.
        if idle > 6000 {
            break;
        }
    }
    tls.conn.send_close_notify();
    let _ = tls.flush();
    let _ = tls.sock.shutdown(Shutdown::Both);
    let _ = to_backend.shutdown(Shutdown::Both);
}

fn would_block(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}
