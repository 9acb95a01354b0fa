//! The tiny HTTP server side both browser round trips need: Identity Center's PKCE redirect
//! (a GET) and the VPN's SAML assertion (a POST to 127.0.0.1:35001). Bounded reads, one request
//! per connection, a plain page back.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Request line and headers larger than this are not a browser's.
const MAX_HEAD: usize = 16 * 1024;

pub(crate) struct LoopbackRequest {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub body: Vec<u8>,
}

/// Reads one request (head and a `Content-Length` body up to `max_body`), within 10 seconds.
pub(crate) async fn read_request(
    stream: &mut TcpStream,
    max_body: usize,
) -> Option<LoopbackRequest> {
    tokio::time::timeout(Duration::from_secs(10), read(stream, max_body))
        .await
        .ok()
        .flatten()
}

async fn read(stream: &mut TcpStream, max_body: usize) -> Option<LoopbackRequest> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() + n > MAX_HEAD + max_body {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_HEAD && !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            return None;
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut first = head.lines().next()?.split_whitespace();
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    if length > max_body {
        return None;
    }
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some(LoopbackRequest {
        method,
        target,
        body,
    })
}

/// Answers with a minimal page whose text a test (or a person) can read.
pub(crate) async fn respond(stream: &mut TcpStream, status: u16, text: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Postern</title></head><body><p id=\"postern-result\">{}</p></body></html>",
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    );
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
