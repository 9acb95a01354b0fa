//! A stand-in for `openvpn.exe`, for the helper's Windows test (wine has no tunnel driver).
//! It answers `--version` like OpenVPN 2.6, checks that the helper passed its fixed options,
//! dials the helper's management port as `--management-client` makes OpenVPN do, and plays a
//! transcript recorded from a real OpenVPN: the connect, or (when the profile's remote names
//! `denied`) the server's refusal. Like OpenVPN it answers `echo all` with its config's `echo`
//! lines, holds until `hold release`, ends on `signal SIGTERM`, and ends when the management
//! connection goes.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::ExitCode;

const CONNECT: &str =
    include_str!("../../../../crates/postern-ovpn/src/machine/connect.transcript");
const DENIED: &str = include_str!("../../../../crates/postern-ovpn/src/machine/denied.transcript");

fn value_after<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1).map(String::as_str)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--version") {
        // An older OpenVPN on request, for the helper's version check.
        let version = std::env::var("STAND_IN_OPENVPN_VERSION").unwrap_or_else(|_| "2.6.14".into());
        println!(
            "OpenVPN {version} x86_64-w64-mingw32 [SSL (OpenSSL)] [LZO] [LZ4] [PKCS11] [AEAD] [DCO]"
        );
        println!("library versions: OpenSSL 3.4.1 11 Feb 2025, LZO 2.10");
        return ExitCode::SUCCESS;
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("openvpn-stand-in: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    // What the helper must always pass, whatever the profile says.
    for required in [
        "--management-hold",
        "--management-client",
        "--management-query-passwords",
    ] {
        if !args.iter().any(|a| a == required) {
            return Err(format!("the helper did not pass {required}: {args:?}"));
        }
    }
    if value_after(args, "--script-security") != Some("1") {
        return Err(format!(
            "the helper did not pass --script-security 1: {args:?}"
        ));
    }
    let config = value_after(args, "--config").ok_or("no --config")?;
    let profile =
        std::fs::read_to_string(config).map_err(|e| format!("cannot read {config}: {e}"))?;
    let at = args
        .iter()
        .position(|a| a == "--management")
        .ok_or("no --management")?;
    let (host, port) = match (args.get(at + 1), args.get(at + 2)) {
        (Some(h), Some(p)) => (h.as_str(), p.as_str()),
        _ => return Err("--management without an address and port".into()),
    };
    if host != "127.0.0.1" {
        return Err(format!("the management address is {host}, not loopback"));
    }
    let transcript = if profile
        .lines()
        .any(|l| l.starts_with("remote ") && l.contains("denied"))
    {
        DENIED
    } else {
        CONNECT
    };
    let stream = TcpStream::connect(format!("{host}:{port}"))
        .map_err(|e| format!("cannot dial {host}:{port}: {e}"))?;
    let mut commands = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut out = stream;
    let echoes: Vec<String> = profile
        .lines()
        .filter_map(|l| l.strip_prefix("echo "))
        .map(|text| format!("1796185209,{}\n", text.trim()))
        .collect();
    let mut answers = out.try_clone().map_err(|e| e.to_string())?;
    let mut wait_for = |wanted: &str| -> Result<bool, String> {
        let mut line = String::new();
        // Bounded by the helper: it ends the connection (or the test kills us) if it stops.
        loop {
            line.clear();
            if commands.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Ok(false);
            }
            if line.trim() == "echo all" {
                let answer = format!("{}END\n", echoes.concat());
                answers
                    .write_all(answer.as_bytes())
                    .map_err(|e| e.to_string())?;
            }
            if line.trim() == wanted {
                return Ok(true);
            }
        }
    };
    for line in transcript.lines() {
        // What OpenVPN says after the helper's SIGTERM waits for it.
        if line.contains("CMD 'signal SIGTERM'") && !wait_for("signal SIGTERM")? {
            return Ok(());
        }
        writeln!(out, "{line}").map_err(|e| e.to_string())?;
        if line.starts_with(">HOLD:") && !wait_for("hold release")? {
            return Ok(());
        }
    }
    // Like OpenVPN, read what the helper still sends before going: a socket closed with
    // unread data is reset, and the reset would discard what was written above.
    out.shutdown(std::net::Shutdown::Write)
        .map_err(|e| e.to_string())?;
    out.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let _ = wait_for("");
    Ok(())
}
