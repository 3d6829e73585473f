//! The binary as an access controller (security dialect) against the Security PUSH server:
//! registration, `sim` inputs reaching the doors and the server, `status`, the demo and the
//! configuration it refuses.

mod support;

use push_agent::protocol::security::rtlog::RtLog;
use push_agent::server::ServerView;
use std::time::Duration;
use support::{AgentProcess, SERIAL, fast_security_server, run_cli, write_security_config};

const WAIT: Duration = Duration::from_secs(20);
const CARD: u64 = 123_456_789;

/// (event, door, card) of every rtlog event the server received, in order.
fn events(view: &ServerView<'_>) -> Vec<(u16, u32, String)> {
    view.rt_events()
        .iter()
        .filter_map(|e| RtLog::parse(&e.line))
        .map(|log| (log.event, log.eventaddr, log.cardno))
        .collect()
}

#[test]
fn a_known_card_opens_door_1_and_an_unknown_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = fast_security_server();
    let config = write_security_config(dir.path(), &server.url());
    let cfg = config.to_str().unwrap();
    let mut agent = AgentProcess::start(&config);
    assert!(
        server.wait_until(WAIT, |v| v.registration(SERIAL).is_some()),
        "no registration"
    );
    let registration = server.registration(SERIAL).unwrap();
    assert_eq!(registration.capability("LockCount"), Some("2"));
    assert_eq!(registration.capability("ReaderCount"), Some("4"));
    assert!(
        server.wait_until(WAIT, |v| events(v).iter().any(|e| e.0 == 206)),
        "no start event"
    );

    let ids: Vec<String> = [
        format!("DATA UPDATE user CardNo={CARD}\tPin=7\tName=Ada"),
        "DATA UPDATE userauthorize Pin=7\tAuthorizeTimezoneId=1\tAuthorizeDoorId=1".to_owned(),
        "DATA UPDATE timezone TimezoneId=1\tSunTime1=2359\tMonTime1=2359\tTueTime1=2359\t\
         WedTime1=2359\tThuTime1=2359\tFriTime1=2359\tSatTime1=2359"
            .to_owned(),
    ]
    .iter()
    .map(|cmd| server.queue_command(cmd))
    .collect();
    assert!(server.wait_until(WAIT, |v| {
        ids.iter().all(|id| {
            v.replies()
                .iter()
                .any(|r| &r.id == id && r.return_code == Ok(0))
        })
    }));

    let (status, stdout, stderr) = run_cli(&["--config", cfg, "sim", "swipe", &CARD.to_string()]);
    assert_eq!(status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.ends_with(" door 1: granted (event 0)\n"), "{stdout}");
    let (_, stdout, _) = run_cli(&["--config", cfg, "sim", "relays"]);
    assert!(stdout.starts_with("ok door 1: relay on, "), "{stdout}");
    assert!(
        server.wait_until(WAIT, |v| events(v).contains(&(0, 1, CARD.to_string()))),
        "{:?}",
        server.rt_events()
    );

    let (status, stdout, _) = run_cli(&[
        "--config", cfg, "sim", "swipe", "99999", "--door", "2", "--reader", "out",
    ]);
    assert_eq!(status.code(), Some(0), "{stdout}");
    assert!(stdout.ends_with(" door 2: denied (event 27)\n"), "{stdout}");
    assert!(
        server.wait_until(WAIT, |v| events(v).contains(&(27, 2, "99999".to_owned()))),
        "{:?}",
        server.rt_events()
    );
    let (status, stdout, _) = run_cli(&["--config", cfg, "sim", "exit", "3"]);
    assert_eq!(status.code(), Some(1));
    assert_eq!(stdout, "error there is no door 3 (the board has 2)\n");

    let (status, stdout, stderr) = run_cli(&["--config", cfg, "status"]);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("records:           3 access events"),
        "{stdout}"
    );
    assert!(stdout.contains("\nrtlog     "), "{stdout}");
    assert!(stdout.contains("\ndoors:\n  door 1: relay "), "{stdout}");
    assert!(
        stdout.contains("\n  door 2: relay off, sensor none, alarms none\n"),
        "{stdout}"
    );

    agent.kill();
    let (status, stdout, _) = run_cli(&["--config", cfg, "status"]);
    assert_eq!(status.code(), Some(0));
    assert!(
        stdout.contains("\ndoors:\n  (unknown: cannot reach the agent"),
        "{stdout}"
    );
}

#[test]
fn a_board_without_doors_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_security_config(dir.path(), "http://127.0.0.1:9");
    let board = dir.path().join("board.toml");
    std::fs::write(
        &board,
        "[board]\nname = \"bare\"\ndriver = \"sim\"\nopkg_arch = \"all\"\n",
    )
    .unwrap();
    let (status, _, stderr) = run_cli(&[
        "--config",
        config.to_str().unwrap(),
        "--board",
        board.to_str().unwrap(),
        "run",
    ]);
    assert_eq!(status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("board bare: the security dialect needs at least one [[door]]"),
        "{stderr}"
    );
}

#[test]
fn the_security_demo_runs_its_script_and_exits_0() {
    let (status, stdout, stderr) = run_cli(&["demo", "--dialect", "security"]);
    assert_eq!(status.code(), Some(0), "{stdout}\n{stderr}");
    for expected in [
        "ReaderCount=4",
        "door 1: granted (event 0)",
        "door 1: denied (event 27)",
        "eventaddr=1 event=28 ",
        "eventaddr=1 event=8 ",
        "ID=5&Return=0&CMD=CONTROL DEVICE",
    ] {
        assert!(stdout.contains(expected), "{expected} not in\n{stdout}");
    }
}
