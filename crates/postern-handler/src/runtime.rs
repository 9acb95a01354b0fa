//! The AWS Lambda Runtime API, as a custom runtime (`provided.al2023`) speaks it: ask for the next
//! invocation and answer it. It is plain HTTP/1.1 to a local
//! endpoint (`AWS_LAMBDA_RUNTIME_API`), so the handler speaks it over a std `TcpStream`, one
//! connection per request, instead of linking an async HTTP stack for three calls.

use std::io::{Read, Write};
use std::net::TcpStream;

const VERSION: &str = "2018-06-01";
/// Lambda's synchronous payload limit is 6 MB; anything larger is not an invocation.
const MAX_BODY: usize = 7 * 1024 * 1024;
/// Headers beyond this are not the Runtime API's.
const MAX_HEAD: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("AWS_LAMBDA_RUNTIME_API is not set: this is not running in AWS Lambda")]
    NotInLambda,
    #[error("the Lambda Runtime API at {address} could not be reached: {detail}")]
    Unreachable { address: String, detail: String },
    #[error("the Lambda Runtime API answered {path} unreadably: {detail}")]
    BadAnswer { path: String, detail: String },
    #[error("the Lambda Runtime API answered {path} with status {status}")]
    Status { path: String, status: u16 },
}

/// One invocation: its request id and the event's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub request_id: String,
    pub event: Vec<u8>,
}

/// An HTTP answer: status, headers (names lower-cased) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct RuntimeApi {
    address: String,
}

impl RuntimeApi {
    pub fn from_env() -> Result<Self, RuntimeError> {
        std::env::var("AWS_LAMBDA_RUNTIME_API")
            .ok()
            .filter(|a| !a.is_empty())
            .map(|address| RuntimeApi { address })
            .ok_or(RuntimeError::NotInLambda)
    }

    /// Waits for the next invocation (the call blocks until Lambda has one).
    pub fn next(&self) -> Result<Invocation, RuntimeError> {
        let path = format!("/{VERSION}/runtime/invocation/next");
        let answer = self.call("GET", &path, &[])?;
        let request_id = answer
            .header("lambda-runtime-aws-request-id")
            .filter(|id| is_request_id(id))
            .ok_or_else(|| RuntimeError::BadAnswer {
                path: path.clone(),
                detail: "no usable Lambda-Runtime-Aws-Request-Id header".into(),
            })?
            .to_string();
        Ok(Invocation {
            request_id,
            event: answer.body,
        })
    }

    /// Answers invocation `request_id` with `body` (JSON).
    pub fn respond(&self, request_id: &str, body: &[u8]) -> Result<(), RuntimeError> {
        let path = format!("/{VERSION}/runtime/invocation/{request_id}/response");
        self.call("POST", &path, body).map(drop)
    }

    fn call(&self, method: &str, path: &str, body: &[u8]) -> Result<Answer, RuntimeError> {
        let unreachable = |e: std::io::Error| RuntimeError::Unreachable {
            address: self.address.clone(),
            detail: e.to_string(),
        };
        let mut stream = TcpStream::connect(&self.address).map_err(unreachable)?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.address,
            body.len()
        );
        stream.write_all(head.as_bytes()).map_err(unreachable)?;
        stream.write_all(body).map_err(unreachable)?;
        // Read until the answer is complete (its length, its last chunk) or the server closes.
        let mut raw = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        while !is_complete(&raw) && raw.len() <= MAX_HEAD + MAX_BODY {
            match stream.read(&mut chunk).map_err(unreachable)? {
                0 => break,
                n => raw.extend_from_slice(&chunk[..n]),
            }
        }
        let answer = parse_answer(&raw).map_err(|detail| RuntimeError::BadAnswer {
            path: path.to_string(),
            detail,
        })?;
        if !(200..300).contains(&answer.status) {
            return Err(RuntimeError::Status {
                path: path.to_string(),
                status: answer.status,
            });
        }
        Ok(answer)
    }
}

/// Request ids go into a URL path: only the characters AWS uses (a UUID, letters, digits, `-`).
fn is_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `raw` holds a whole answer: headers and all of a Content-Length or chunked body (an
/// answer with neither ends when the server closes).
fn is_complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let rest = &raw[end + 4..];
    if head.contains("transfer-encoding: chunked") {
        return dechunk(rest).is_ok();
    }
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|length| rest.len() >= length)
}

/// An HTTP/1.1 answer: its body by Content-Length, chunked, or up to the close.
pub fn parse_answer(raw: &[u8]) -> Result<Answer, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .filter(|&end| end <= MAX_HEAD)
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "headers are not text")?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.strip_prefix("HTTP/1."))
        .and_then(|l| l.get(2..5))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or("no status line")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let answer = |body: Vec<u8>| Answer {
        status,
        headers: headers.clone(),
        body,
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return dechunk(rest).map(answer);
    }
    let body = match header("content-length") {
        Some(length) => {
            let length: usize = length.parse().map_err(|_| "a bad Content-Length")?;
            if length > MAX_BODY {
                return Err(format!("a body of {length} bytes"));
            }
            rest.get(..length).ok_or("a body shorter than announced")?
        }
        None => rest,
    };
    if body.len() > MAX_BODY {
        return Err(format!("a body of more than {MAX_BODY} bytes"));
    }
    Ok(answer(body.to_vec()))
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk without its size line")?;
        let size = std::str::from_utf8(&rest[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
            .ok_or("a bad chunk size")?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(format!("a body of more than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(rest.get(..size).ok_or("a chunk shorter than announced")?);
        rest = rest.get(size + 2..).ok_or("a chunk without its end")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    #[test]
    fn answers_with_a_length_chunked_or_to_the_close_are_read() {
        let a = parse_answer(
            b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r-1\r\nContent-Length: 2\r\n\r\n{}",
        )
        .unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b"{}"[..]));
        assert_eq!(a.header("lambda-runtime-aws-request-id"), Some("r-1"));
        let c = parse_answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n").unwrap();
        assert_eq!(c.body, b"{\"a\":1}");
        let closed = parse_answer(b"HTTP/1.0 202 Accepted\r\n\r\nok").unwrap();
        assert_eq!((closed.status, closed.body.as_slice()), (202, &b"ok"[..]));
        for bad in [
            &b"garbage"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"SIP/2.0 200 OK\r\n\r\n",
        ] {
            assert!(
                parse_answer(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    /// A Runtime API stand-in that serves one event and records the requests it gets.
    fn stand_in(event_headers: &'static str) -> (String, std::sync::mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (seen, requests) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(2).flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    head.push_str(&line);
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                seen.send(format!("{head}{}", String::from_utf8_lossy(&body)))
                    .unwrap();
                let mut stream = stream;
                if head.starts_with("GET") {
                    let event = r#"{"connection-id":"c"}"#;
                    write!(
                        stream,
                        "HTTP/1.1 200 OK\r\n{event_headers}Content-Length: {}\r\n\r\n{event}",
                        event.len()
                    )
                    .unwrap();
                } else {
                    write!(stream, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n").unwrap();
                }
            }
        });
        (address, requests)
    }

    #[test]
    fn an_invocation_is_fetched_and_answered() {
        let (address, requests) = stand_in(
            "Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\nLambda-Runtime-Deadline-Ms: 1542409706888\r\n",
        );
        let api = RuntimeApi { address };
        let invocation = api.next().unwrap();
        assert_eq!(
            invocation.request_id,
            "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
        );
        assert_eq!(invocation.event, br#"{"connection-id":"c"}"#);
        api.respond(&invocation.request_id, br#"{"allow":false}"#)
            .unwrap();
        let get = requests.recv().unwrap();
        assert!(
            get.starts_with("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"),
            "{get}"
        );
        let post = requests.recv().unwrap();
        assert!(
            post.starts_with("POST /2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response HTTP/1.1\r\n"),
            "{post}"
        );
        assert!(post.ends_with(r#"{"allow":false}"#), "{post}");
    }

    #[test]
    fn a_request_id_that_could_change_the_path_is_refused() {
        let (address, _requests) = stand_in("Lambda-Runtime-Aws-Request-Id: ../../init/error\r\n");
        let api = RuntimeApi { address };
        assert!(matches!(api.next(), Err(RuntimeError::BadAnswer { .. })));
        let nobody = RuntimeApi {
            address: "127.0.0.1:9".into(),
        };
        assert!(matches!(
            nobody.next(),
            Err(RuntimeError::Unreachable { .. })
        ));
    }
}
