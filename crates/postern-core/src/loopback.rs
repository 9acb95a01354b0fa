//! The tiny HTTP server side both browser round trips need: Identity Center's PKCE redirect
//! (a GET) and the VPN's SAML assertion (a POST to 127.0.0.1:35001). Connections are served
//! concurrently, each with its own read deadline, so a local client that connects and sends
//! nothing (or trickles) cannot hold up the browser's real answer. One request per connection,
//! a plain page back.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Request line and headers larger than this are not a browser's.
const MAX_HEAD: usize = 16 * 1024;
/// Connections read at once; more wait in the listen queue until one is answered or expires.
pub(crate) const MAX_IN_FLIGHT: usize = 32;
/// How long one connection may take to send its whole request.
const READ_DEADLINE: Duration = Duration::from_secs(10);

pub(crate) struct LoopbackRequest {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub body: Vec<u8>,
}

/// What the listener makes of one request.
pub(crate) enum Verdict<T> {
    /// The answer the wait was for: this page goes back, and the wait ends with `T`.
    Done {
        status: u16,
        page: String,
        outcome: T,
    },
    /// Not it (a probe, a favicon, someone else's state): this page goes back, the wait goes on.
    Ignore { status: u16, page: String },
}

/// Accepts and reads connections concurrently (at most [`MAX_IN_FLIGHT`] at once, each within
/// its own deadline) until `judge` calls one request the answer. Runs until then: the caller
/// bounds the whole wait.
pub(crate) async fn serve<T>(
    listener: &TcpListener,
    max_body: usize,
    judge: impl Fn(&LoopbackRequest) -> Verdict<T>,
) -> T {
    let judge = &judge;
    let mut in_flight = FuturesUnordered::new();
    loop {
        tokio::select! {
            accepted = listener.accept(), if in_flight.len() < MAX_IN_FLIGHT => match accepted {
                Ok((stream, _)) => in_flight.push(answer(stream, max_body, judge)),
                // Out of descriptors, or a connection reset before it was accepted: try again
                // shortly rather than spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            Some(outcome) = in_flight.next(), if !in_flight.is_empty() => {
                if let Some(outcome) = outcome {
                    return outcome;
                }
            }
        }
    }
}

/// Reads one request, answers it, and says whether it ended the wait.
async fn answer<T>(
    mut stream: TcpStream,
    max_body: usize,
    judge: &impl Fn(&LoopbackRequest) -> Verdict<T>,
) -> Option<T> {
    let request = read_request(&mut stream, max_body).await?;
    match judge(&request) {
        Verdict::Done {
            status,
            page,
            outcome,
        } => {
            respond(&mut stream, status, &page).await;
            Some(outcome)
        }
        Verdict::Ignore { status, page } => {
            respond(&mut stream, status, &page).await;
            None
        }
    }
}

/// Reads one request (head and a `Content-Length` body up to `max_body`) within
/// [`READ_DEADLINE`].
async fn read_request(stream: &mut TcpStream, max_body: usize) -> Option<LoopbackRequest> {
    tokio::time::timeout(READ_DEADLINE, read(stream, max_body))
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
async fn respond(stream: &mut TcpStream, status: u16, text: &str) {
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
