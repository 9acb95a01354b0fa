//! Parsers on recorded outputs from each OS, and the evaluation rules.

use std::time::Duration;

use super::parse::*;
use super::*;

macro_rules! fixture {
    ($path:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/posture/",
            $path
        ))
    };
}

fn failed<T: std::fmt::Debug>(r: Reading<T>) -> bool {
    matches!(r, Reading::Unknown(UnknownReason::DetectionFailed(_)))
}

#[test]
fn linux_disk_encryption_follows_the_root_filesystem() {
    assert_eq!(
        linux_root_encrypted(fixture!("linux/lsblk-luks-lvm.json")),
        Reading::Value(true)
    );
    // An encrypted data partition does not make an unencrypted root encrypted.
    assert_eq!(
        linux_root_encrypted(fixture!("linux/lsblk-plain.json")),
        Reading::Value(false)
    );
    assert!(failed(linux_root_encrypted(fixture!(
        "linux/lsblk-no-root.json"
    ))));
    assert!(failed(linux_root_encrypted("lsblk: command not found")));
}

#[test]
fn linux_firewall_from_unit_states() {
    assert_eq!(
        linux_firewall(fixture!("linux/systemctl-firewalld-active.txt")),
        Reading::Value(true)
    );
    assert_eq!(
        linux_firewall(fixture!("linux/systemctl-none.txt")),
        Reading::Value(false)
    );
    assert_eq!(
        linux_firewall(fixture!("linux/systemctl-not-installed.txt")),
        Reading::Value(false)
    );
    assert!(failed(linux_firewall(fixture!(
        "linux/systemctl-no-systemd.txt"
    ))));
    assert!(failed(linux_firewall("")));
}

#[test]
fn linux_secure_boot_screen_lock_and_release() {
    assert_eq!(
        mokutil_secure_boot(fixture!("linux/mokutil-enabled.txt")),
        Reading::Value(true)
    );
    assert_eq!(
        mokutil_secure_boot(fixture!("linux/mokutil-disabled.txt")),
        Reading::Value(false)
    );
    assert_eq!(
        mokutil_secure_boot(fixture!("linux/mokutil-bios.txt")),
        Reading::Unknown(UnknownReason::NotApplicable)
    );
    assert!(failed(mokutil_secure_boot("segfault")));
    assert_eq!(gsettings_bool("true\n"), Reading::Value(true));
    assert_eq!(gsettings_bool("false\n"), Reading::Value(false));
    assert!(failed(gsettings_bool("No such schema")));
    assert_eq!(
        os_release_name(fixture!("linux/os-release-debian12.txt")).as_deref(),
        Some("Debian GNU/Linux 12 (bookworm)")
    );
    assert_eq!(os_release_name("ID=x"), None);
}

#[test]
fn macos_versions_include_the_rapid_security_response() {
    let (v, shown) = sw_vers(fixture!("macos/sw_vers-14.5-rsr.txt")).unwrap();
    assert_eq!(shown, "macOS 14.5 (a)");
    assert!(v > Version::parse("14.5").unwrap());
    let (v, shown) = sw_vers(fixture!("macos/sw_vers-13.6.txt")).unwrap();
    assert_eq!(shown, "macOS 13.6.7");
    assert!(v < Version::parse("14.0").unwrap());
    assert!(sw_vers("garbage").is_none());
}

#[test]
fn macos_filevault_states() {
    assert_eq!(
        fdesetup_status(fixture!("macos/fdesetup-on.txt")),
        Reading::Value(true)
    );
    assert_eq!(
        fdesetup_status(fixture!("macos/fdesetup-off.txt")),
        Reading::Value(false)
    );
    assert_eq!(
        fdesetup_status(fixture!("macos/fdesetup-encrypting.txt")),
        Reading::Value(false)
    );
    assert_eq!(
        fdesetup_status(fixture!("macos/fdesetup-decrypting.txt")),
        Reading::Value(false)
    );
    assert!(failed(fdesetup_status("fdesetup: permission denied")));
}

#[test]
fn macos_firewall_state_two_is_on() {
    assert_eq!(
        socketfilterfw_state(fixture!("macos/socketfilterfw-0.txt")),
        Reading::Value(false)
    );
    assert_eq!(
        socketfilterfw_state(fixture!("macos/socketfilterfw-1.txt")),
        Reading::Value(true)
    );
    assert_eq!(
        socketfilterfw_state(fixture!("macos/socketfilterfw-2.txt")),
        Reading::Value(true)
    );
    assert!(failed(socketfilterfw_state("")));
}

#[test]
fn macos_sip_gatekeeper_and_mdm() {
    assert_eq!(
        csrutil_status(fixture!("macos/csrutil-enabled.txt")),
        Reading::Value(true)
    );
    assert_eq!(
        csrutil_status(fixture!("macos/csrutil-disabled.txt")),
        Reading::Value(false)
    );
    assert_eq!(
        csrutil_status(fixture!("macos/csrutil-custom.txt")),
        Reading::Value(false)
    );
    assert!(failed(csrutil_status("csrutil: failed")));
    assert_eq!(
        spctl_status(fixture!("macos/spctl-enabled.txt")),
        Reading::Value(true)
    );
    assert_eq!(
        spctl_status(fixture!("macos/spctl-disabled.txt")),
        Reading::Value(false)
    );
    assert!(failed(spctl_status("")));
    assert_eq!(
        profiles_enrollment(fixture!("macos/profiles-enrolled.txt")),
        Reading::Value(true)
    );
    assert_eq!(
        profiles_enrollment(fixture!("macos/profiles-not-enrolled.txt")),
        Reading::Value(false)
    );
    assert!(failed(profiles_enrollment("profiles: unknown verb")));
}

#[test]
fn windows_versions_carry_build_and_ubr() {
    let (v, shown) = windows_version(fixture!("windows/reg-currentversion-win11.txt")).unwrap();
    assert_eq!(shown, "Windows 11 23H2 (10.0.22631.3535)");
    assert_eq!(v, Version::parse("10.0.22631.3535").unwrap());
    let (v, shown) = windows_version(fixture!("windows/reg-currentversion-win10.txt")).unwrap();
    assert_eq!(shown, "Windows 10 22H2 (10.0.19045.3803)");
    assert!(v < Version::parse("10.0.19045.4000").unwrap());
    assert!(windows_version(fixture!("windows/reg-missing.txt")).is_none());
}

#[test]
fn windows_bitlocker_protection_values() {
    for on in ["1", "3", "5\r\n"] {
        assert_eq!(bitlocker_protection(on), Reading::Value(true), "{on}");
    }
    for off in ["2", "4", "6"] {
        assert_eq!(bitlocker_protection(off), Reading::Value(false), "{off}");
    }
    assert!(failed(bitlocker_protection("")));
    assert!(failed(bitlocker_protection("0")));
}

#[test]
fn windows_firewall_needs_every_profile() {
    assert_eq!(
        netsh_firewall(fixture!("windows/netsh-all-on.txt")),
        Reading::Value(true)
    );
    assert_eq!(
        netsh_firewall(fixture!("windows/netsh-private-off.txt")),
        Reading::Value(false)
    );
    assert!(failed(netsh_firewall(
        "The requested operation requires elevation."
    )));
}

#[test]
fn windows_security_center_secure_boot_screen_lock_join() {
    assert_eq!(
        security_center_products(fixture!("windows/securitycenter-av.txt")),
        vec![
            ("Windows Defender".to_string(), true),
            ("CrowdStrike Falcon Sensor".to_string(), true),
            ("Old AV".to_string(), false)
        ]
    );
    assert_eq!(
        windows_secure_boot(fixture!("windows/reg-secureboot-on.txt")),
        Reading::Value(true)
    );
    assert_eq!(
        windows_secure_boot(fixture!("windows/reg-secureboot-off.txt")),
        Reading::Value(false)
    );
    assert_eq!(
        windows_secure_boot(fixture!("windows/reg-missing.txt")),
        Reading::Unknown(UnknownReason::NotApplicable)
    );
    assert_eq!(
        windows_screen_lock(fixture!("windows/reg-screensaver-secure.txt")),
        Reading::Value(true)
    );
    assert_eq!(
        windows_screen_lock(fixture!("windows/reg-missing.txt")),
        Reading::Value(false)
    );
    assert_eq!(
        dsregcmd_joined(fixture!("windows/dsregcmd-entra.txt")),
        Reading::Value(true)
    );
    assert_eq!(
        dsregcmd_joined(fixture!("windows/dsregcmd-none.txt")),
        Reading::Value(false)
    );
    assert!(failed(dsregcmd_joined("'dsregcmd' is not recognized")));
}

fn facts() -> Facts {
    Facts {
        os_version: Reading::Value((Version::parse("6.1.0").unwrap(), "Linux 6.1.0".into())),
        disk_encrypted: Reading::Value(true),
        firewall_on: Reading::Value(false),
        running: Reading::Value(vec!["falcon-sensor".into(), "bash".into()]),
        screen_lock: Reading::Unknown(UnknownReason::NotApplicable),
        secure_boot: Reading::Unknown(UnknownReason::NeedsElevation),
        system_integrity: Reading::Unknown(UnknownReason::NotApplicable),
        managed: Reading::Unknown(UnknownReason::DetectionFailed("realm: not found".into())),
    }
}

#[test]
fn failing_checks_are_named_with_their_fix() {
    let req = Requirements {
        min_os_version: Version::parse("5.15"),
        require_disk_encryption: true,
        require_firewall: true,
        required_processes: vec!["falcon-sensor".into(), "s1-agent".into()],
        forbidden_processes: vec!["bash".into()],
        ..Requirements::default()
    };
    let report = evaluate(&req, &facts(), Duration::from_millis(3));
    assert_eq!(
        report.status,
        Status::NonCompliant {
            failing: vec![
                "firewall".into(),
                "required_process:s1-agent".into(),
                "forbidden_process:bash".into()
            ]
        }
    );
    assert_eq!(report.exit_code(), ExitCode::NonCompliant);
    assert!(report.next_step().contains("Start s1-agent"));
    assert_eq!(report.handler_statuses()[0], "non-compliant");
    assert_eq!(report.checks.len(), 6);
}

#[test]
fn unknown_blocks_only_where_the_policy_says() {
    let lenient = Requirements {
        require_secure_boot: true,
        ..Requirements::default()
    };
    assert_eq!(
        evaluate(&lenient, &facts(), Duration::ZERO).status,
        Status::Compliant
    );
    let strict = Requirements {
        unknown_blocks: vec![CheckName::SecureBoot],
        ..lenient
    };
    let report = evaluate(&strict, &facts(), Duration::ZERO);
    assert_eq!(
        report.status,
        Status::Unknown {
            unknown: vec!["secure_boot".into()]
        }
    );
    assert_eq!(report.exit_code(), ExitCode::PostureUnknown);
}

#[test]
fn a_ready_session_survives_one_failure_but_not_two() {
    let req = Requirements {
        require_firewall: true,
        ..Requirements::default()
    };
    let bad = evaluate(&req, &facts(), Duration::ZERO);
    let mut good_facts = facts();
    good_facts.firewall_on = Reading::Value(true);
    let good = evaluate(&req, &good_facts, Duration::ZERO);
    let mut h = Hysteresis::default();
    assert!(!h.observe(&bad));
    assert!(!h.observe(&good), "a pass resets the count");
    assert!(!h.observe(&bad));
    assert!(h.observe(&bad), "the second failure in a row acts");
}

#[test]
fn this_machine_can_be_read() {
    // On the machine running the tests: the process list and OS version are readable.
    let req = Requirements {
        min_os_version: Version::parse("1.0"),
        required_processes: vec!["definitely-not-running-xyz".into()],
        ..Requirements::default()
    };
    let report = check(&req);
    assert!(
        matches!(report.checks[0].outcome, Outcome::Pass { .. }),
        "{:?}",
        report.checks[0]
    );
    assert!(matches!(report.checks[1].outcome, Outcome::Fail { .. }));
}

#[test]
fn a_tool_printing_a_mebibyte_is_read_whole() {
    // More than any pipe buffer, on stdout and on stderr at once: a tool that fills both would
    // block for ever if one were read only after the other.
    #[cfg(unix)]
    let (program, args) = (
        "sh",
        [
            "-c",
            "head -c 1048576 /dev/zero | tr '\\0' x; head -c 1048576 /dev/zero >&2",
        ],
    );
    // 16384 lines of 62 x and CRLF, on stderr first, then on stdout.
    #[cfg(windows)]
    let line = format!("@echo {}", "x".repeat(62));
    #[cfg(windows)]
    let script =
        format!("(for /l %i in (1,1,16384) do {line} 1>&2) & (for /l %i in (1,1,16384) do {line})");
    #[cfg(windows)]
    let (program, args) = ("cmd", ["/c", script.as_str()]);
    // Under a limit wide enough for wine's cmd, which prints 32768 lines in seconds.
    let limit = std::time::Duration::from_secs(60);
    let out = super::run_tool_within(program, &args, limit).expect("the tool's output");
    assert_eq!(out.len(), 1 << 20);
    assert!(out.bytes().all(|b| b == b'x' || b == b'\r' || b == b'\n'));
    assert!(out.bytes().filter(|b| *b == b'x').count() >= (1 << 20) * 62 / 64);
}

#[test]
fn a_tool_that_hangs_is_unknown_with_its_reason() {
    let started = std::time::Instant::now();
    #[cfg(unix)]
    let (program, args) = ("sleep", ["30"].as_slice());
    // Thirty pings of loopback, a second apart.
    #[cfg(windows)]
    let (program, args) = ("ping", ["-n", "30", "127.0.0.1"].as_slice());
    let e = super::run_tool_within(program, args, std::time::Duration::from_millis(300))
        .expect_err("a timeout");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    match e {
        UnknownReason::DetectionFailed(why) => assert!(why.contains("did not answer"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_check_that_could_not_run_blocks() {
    let r = PostureReport::could_not_check("the posture check stopped: boom".into());
    assert!(matches!(r.status, Status::Unknown { .. }));
    assert_ne!(r.exit_code(), postern_types::problem::ExitCode::Ok);
    let mut h = Hysteresis::default();
    assert!(!h.observe(&r), "one failure is survived");
    assert!(h.observe(&r), "two are not");
}
