//! A Lambda Runtime API stand-in on loopback, for the handler's Lambda door: it serves one
//! event and reports the function's answer (shared by the cold-start benchmark and the test).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One HTTP/1.1 request on a kept-alive connection: its request line and body.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((line, String::from_utf8_lossy(&body).into_owned()))
}

/// Serves one connection: the event on the first `next`, the answer reported on `response`;
/// a second `next` is never answered (the process is ended by then).
fn serve(
    stream: TcpStream,
    event: &str,
    answered: mpsc::Sender<String>,
    sent: &std::sync::atomic::AtomicBool,
) {
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    while let Some((line, body)) = read_request(&mut reader) {
        if line.contains("/invocation/next") {
            if sent.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 30_000;
            let _ = write!(
                writer,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: req-1\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:111122223333:function:AWSClientVPN-postern\r\nLambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\nContent-Length: {}\r\n\r\n{event}",
                event.len()
            );
        } else {
            let _ = write!(
                writer,
                "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{{}}"
            );
            let _ = answered.send(body);
        }
    }
}

/// Starts `command` against a fresh stand-in serving `event`; the time to its first answer, and
/// the answer.
pub fn first_answer(mut command: Command, event: &'static str) -> (Duration, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().unwrap();
    let (answered, answer) = mpsc::channel();
    std::thread::spawn(move || {
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        for stream in listener.incoming().flatten() {
            let (answered, sent) = (answered.clone(), sent.clone());
            std::thread::spawn(move || serve(stream, event, answered, &sent));
        }
    });
    let started = Instant::now();
    let mut child = command
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "AWSClientVPN-postern")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the handler");
    let body = answer
        .recv_timeout(Duration::from_secs(30))
        .expect("no answer within 30 s");
    let elapsed = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    (elapsed, body)
}
