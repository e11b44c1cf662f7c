//! The HTTP server on a real socket, spoken to in raw HTTP/1.1: what hyper
//! refuses before the host sees it, and the drain at shutdown.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use super::{DEADLINE, WEB_TOKEN, host_error, options, parse_json, runtime, start, web_backend};

/// The interim response hyper sends when a handler starts reading a body
/// the client held back with `expect: 100-continue`.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// A response as read off the socket.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    body: Vec<u8>,
}

impl RawResponse {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        parse_json(&self.body)
    }
}

/// A connection to the server that fails a read or write that blocks past
/// the deadline.
fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).expect("the server accepts connections");
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("read timeouts can be set");
    stream
        .set_write_timeout(Some(DEADLINE))
        .expect("write timeouts can be set");
    stream
}

/// Sends `request` on a new connection and reads the answer until the
/// server closes it.
fn exchange(address: SocketAddr, request: &[u8]) -> RawResponse {
    let mut stream = connect(address);
    stream.write_all(request).expect("the request is sent");
    read_to_close(&mut stream, Vec::new())
}

/// A `GET` for `path` that asks the server to close the connection after.
fn get(path: &str, token: Option<&str>) -> Vec<u8> {
    let authorization = token
        .map(|token| format!("authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n{authorization}connection: close\r\n\r\n")
        .into_bytes()
}

/// Reads the rest of a response, after the bytes `read` already are,
/// until the server closes the connection.
fn read_to_close(stream: &mut TcpStream, mut read: Vec<u8>) -> RawResponse {
    stream
        .read_to_end(&mut read)
        .expect("the server answers and closes the connection");
    parse(&read)
}

/// Splits a response into its status and its body, which must have a
/// length (the host never streams).
fn parse(bytes: &[u8]) -> RawResponse {
    let text = String::from_utf8_lossy(bytes);
    let end = find(bytes, b"\r\n\r\n").unwrap_or_else(|| panic!("no complete head in {text:?}"));
    let head = String::from_utf8_lossy(&bytes[..end]).to_lowercase();
    let status = head
        .strip_prefix("http/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    assert!(
        !head.contains("transfer-encoding: chunked"),
        "the host answers with a length: {text:?}"
    );
    RawResponse {
        status,
        body: bytes[end + 4..].to_vec(),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Reads from `stream` until a complete head (ending in a blank line) has
/// arrived, and returns everything read.
fn read_head(stream: &mut TcpStream) -> Vec<u8> {
    let mut read = Vec::new();
    let mut buffer = [0; 1024];
    while find(&read, b"\r\n\r\n").is_none() {
        let count = stream.read(&mut buffer).expect("the server answers");
        assert!(count > 0, "the server closed the connection: {read:?}");
        read.extend_from_slice(&buffer[..count]);
    }
    read
}

/// Asks for readiness on new connections until it stops answering 200.
fn readiness_once_not_ready(address: SocketAddr) -> RawResponse {
    let started = Instant::now();
    loop {
        let readiness = exchange(address, &get("/.backstage/health/v1/readiness", None));
        if readiness.status != 200 {
            return readiness;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "readiness still answers 200 during shutdown: {}",
            readiness.text()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_server_answers_requests_and_refuses_malformed_ones() {
    let runtime = runtime();
    let backend = web_backend("http-socket", options(|_| {})).listen(([127, 0, 0, 1], 0).into());
    let running = runtime.block_on(start(backend));
    let address = running.http_address().expect("the backend listens");

    let ping = exchange(address, &get("/api/web/open/ping", None));
    assert_eq!((ping.status, ping.text()), (200, "pong".to_string()));

    let huge = "a".repeat(100 * 1024);
    let request = format!(
        "GET /api/web/open/ping HTTP/1.1\r\nhost: localhost\r\nx-huge: {huge}\r\n\
         connection: close\r\n\r\n"
    );
    let refused = exchange(address, request.as_bytes());
    assert_eq!(
        refused.status,
        431,
        "a 100 KB header is refused: {}",
        refused.text()
    );

    let garbage = exchange(address, b"HELLO\r\n\r\n");
    assert_eq!((garbage.status, garbage.text()), (400, String::new()));
    assert_eq!(runtime.block_on(running.stop()), Vec::<String>::new());
}

#[test]
fn shutdown_lets_requests_in_flight_finish_and_fails_readiness() {
    let runtime = runtime();
    let backend = web_backend("http-drain", options(|_| {})).listen(([127, 0, 0, 1], 0).into());
    let running = runtime.block_on(start(backend));
    let address = running.http_address().expect("the backend listens");

    // The host counts a request as in flight before it reads the body, and
    // reading it makes hyper send `100 Continue`: once that arrives, the
    // request is in flight, and it stays so until the body is sent.
    let mut sleeper = connect(address);
    let request = format!(
        "GET /api/web/sleep?ms=500 HTTP/1.1\r\nhost: localhost\r\n\
         authorization: Bearer {WEB_TOKEN}\r\ncontent-length: 1\r\n\
         expect: 100-continue\r\nconnection: close\r\n\r\n"
    );
    sleeper
        .write_all(request.as_bytes())
        .expect("the request is sent");
    let interim = read_head(&mut sleeper);
    assert!(
        interim.starts_with(CONTINUE),
        "{}",
        String::from_utf8_lossy(&interim)
    );
    let stopping = runtime.spawn(running.stop());

    let readiness = readiness_once_not_ready(address);
    let plugins = json!({ "web": "started" });
    assert_eq!(
        (readiness.status, readiness.json()),
        (
            503,
            json!({ "status": "error", "message": "shutting down", "plugins": plugins })
        )
    );
    let refused = exchange(address, &get("/api/web/open/ping", None));
    let message = "the host is shutting down";
    assert_eq!(
        (refused.status, refused.json()),
        (
            503,
            host_error(
                503,
                "ServiceUnavailableError",
                message,
                "GET",
                "/api/web/open/ping"
            )
        )
    );

    sleeper.write_all(b"x").expect("the body is sent");
    let slept = read_to_close(&mut sleeper, interim[CONTINUE.len()..].to_vec());
    assert_eq!(
        (slept.status, slept.text()),
        (200, "slept 500 ms".to_string())
    );
    let failures = runtime.block_on(stopping).expect("stopping does not panic");
    assert_eq!(failures, Vec::<String>::new());
}

#[test]
fn the_server_speaks_https_with_a_configured_certificate() {
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .expect("a certificate can be made");
    let tls = greenroom_host::serve::Tls {
        certificate: generated.cert.pem(),
        key: generated.signing_key.serialize_pem(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let options = greenroom_host::serve::HttpOptions { tls: Some(tls), ..Default::default() };
        let running = greenroom_host::Backend::new()
            .no_plugins_dir()
            .private_dir(crate::artifacts::scratch("https"))
            .http_options(options)
            .listen(([127, 0, 0, 1], 0).into())
            .load()
            .unwrap()
            .start()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let address = running.http_address().expect("the host listens");

        let mut roots = rustls::RootCertStore::empty();
        roots.add(generated.cert.der().clone()).expect("the certificate is a root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut stream = connector.connect(name, tcp).await.expect("the TLS handshake succeeds");
        stream
            .write_all(b"GET /.backstage/health/v1/liveness HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response).await;
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(response.ends_with("{\"status\":\"ok\"}"), "{response}");

        // Plain HTTP to the HTTPS port gets no answer but a closed connection.
        let mut plain = tokio::net::TcpStream::connect(address).await.unwrap();
        plain.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut nothing = Vec::new();
        let _ = plain.read_to_end(&mut nothing).await;
        assert!(!String::from_utf8_lossy(&nothing).starts_with("HTTP/1.1 200"));
        running.stop().await;
    });
}
