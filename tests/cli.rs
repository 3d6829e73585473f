//! The binary's command line: exit codes, config errors, `sim`, `status` and REBOOT.

mod support;

use std::time::Duration;
use support::{AgentProcess, Preset, fast_server, run_cli, write_config};

#[test]
fn bad_config_exits_78_naming_file_key_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(
        &path,
        "[server]\nurl = \"http://127.0.0.1:1\"\n\n[device]\nserial = \"S1\"\ndialect = \"attendance\"\nbogus = 1\n",
    )
    .unwrap();
    let (status, _, stderr) = run_cli(&["--config", path.to_str().unwrap(), "check-config"]);
    assert_eq!(status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:7: key `device.bogus`", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("unknown field"), "{stderr}");

    let (status, _, stderr) = run_cli(&["--config", "/nonexistent/agent.toml", "run"]);
    assert_eq!(status.code(), Some(78));
    assert!(
        stderr.contains("/nonexistent/agent.toml: cannot read"),
        "{stderr}"
    );
}

#[test]
fn check_config_prints_the_effective_config_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        "http://127.0.0.1:9",
        "comm_key = \"s3cr3t-key\"",
    );
    let (status, stdout, stderr) = run_cli(&["--config", path.to_str().unwrap(), "check-config"]);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stdout.contains("s3cr3t-key"), "{stdout}");
    assert!(stdout.contains("comm_key = \"<redacted>\""), "{stdout}");
    assert!(
        stdout.contains("batch_records = 500"),
        "defaults are shown: {stdout}"
    );
    assert!(stdout.contains("driver = \"sim\""), "{stdout}");
}

#[test]
fn usage_errors_and_version() {
    let (status, stdout, _) = run_cli(&["--version"]);
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        stdout.trim(),
        format!("push-agent {}", env!("CARGO_PKG_VERSION"))
    );
    let (status, _, stderr) = run_cli(&["sim", "door", "ajar"]);
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("unknown request"), "{stderr}");
}

#[test]
fn sim_commands_reach_the_agent_and_status_shows_the_upload() {
    let dir = tempfile::tempdir().unwrap();
    let server = fast_server(Preset::Crlf);
    let config = write_config(dir.path(), &server.url(), "");
    let cfg = config.to_str().unwrap();
    let _agent = AgentProcess::start(&config);
    let id = server.queue_command("DATA UPDATE USERINFO PIN=42\tName=Zed\tCard=[15CD5B07]");
    assert!(server.wait_until(Duration::from_secs(20), |v| {
        v.replies().iter().any(|r| r.id == id)
    }));

    let (status, stdout, _) = run_cli(&["--config", cfg, "sim", "swipe", "123456789"]);
    assert_eq!(status.code(), Some(0));
    assert!(
        stdout.starts_with("ok ") && stdout.contains("accepted user 42"),
        "{stdout}"
    );
    let (status, stdout, _) = run_cli(&["--config", cfg, "sim", "door", "open"]);
    assert_eq!(status.code(), Some(0), "{stdout}");
    let (status, stdout, _) = run_cli(&["--config", cfg, "sim", "relays"]);
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        stdout,
        "error relays needs the security dialect; this agent runs the attendance terminal\n"
    );
    assert!(server.wait_until(Duration::from_secs(20), |v| {
        v.uploads("ATTLOG").len() == 1
            && v.uploads("OPERLOG")
                .iter()
                .any(|l| l.starts_with("OPLOG 3\t"))
    }));
    assert!(server.uploads("ATTLOG")[0].starts_with("42\t"));

    let (status, stdout, stderr) = run_cli(&["--config", cfg, "status"]);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("users:             1"), "{stdout}");
    assert!(stdout.contains("ATTLOG          0"), "{stdout}");
    assert!(stdout.contains("TimeZone=+07:00"), "{stdout}");
}

#[test]
fn reboot_is_answered_then_the_agent_exits_75() {
    let dir = tempfile::tempdir().unwrap();
    let server = fast_server(Preset::Standard);
    let config = write_config(dir.path(), &server.url(), "");
    let mut agent = AgentProcess::start(&config);
    let id = server.queue_command("REBOOT");
    let status = agent
        .wait_exit(Duration::from_secs(30))
        .expect("the agent exits after REBOOT");
    assert_eq!(status.code(), Some(75));
    let replies = server.replies();
    assert!(
        replies
            .iter()
            .any(|r| r.id == id && r.raw == format!("ID={id}&Return=0&CMD=REBOOT")),
        "{replies:?}"
    );
}
