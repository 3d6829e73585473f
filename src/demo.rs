//! `push-agent demo`: the agent on the simulated board against the built-in server, scripted.
//!
//! The server queues three users; cards are swiped (one unknown); the records reach the server;
//! the server sets `ATTLOGStamp=0` and sends CHECK, and the attendance records come again. The
//! transcript of every exchange is printed. Everything runs on 127.0.0.1 in a private temporary
//! directory, removed at the end.
//!
//! `demo --dialect security` plays the access controller against the server's Security preset:
//! registration, a granted and a denied swipe, a held-open alarm and a remote open, then what the
//! server received (the `rtlog` events in order, the `rtstate` reports and the command replies).

use crate::app::{Agent, StopHandle};
use crate::clock::{SystemTimeSource, TimeSource};
use crate::config::{self, AgentConfig};
use crate::protocol::dialect::Dialect;
use crate::protocol::security::rtlog::RtLog;
use crate::server::{Preset, PushServer, ServerConfig, ServerView};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

/// Longest wait for any one step of the script.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
const SERIAL: &str = "DEMO0000001";
/// The users the server sends: PIN, name, card.
const USERS: [(&str, &str, u64); 3] = [
    ("1", "Ada Lovelace", 123_456_789),
    ("2", "Alan Turing", 2_000_001),
    ("3", "Grace Hopper", 3_000_002),
];
const UNKNOWN_CARD: u64 = 99_999;

fn preset(name: &str) -> Option<Preset> {
    match name {
        "standard" => Some(Preset::Standard),
        "crlf" => Some(Preset::Crlf),
        "single-result" => Some(Preset::SingleResult),
        _ => None,
    }
}

/// Runs the demo and returns the exit code.
pub fn run(preset_name: &str, dialect: Dialect) -> i32 {
    let preset = match (dialect, preset_name) {
        (Dialect::Security, "security") => Preset::Security,
        (Dialect::Security, _) => {
            eprintln!("push-agent demo: the security dialect has one preset, security");
            return 2;
        }
        (Dialect::Attendance, _) => match preset(preset_name) {
            Some(preset) => preset,
            None => {
                eprintln!(
                    "push-agent demo: unknown preset {preset_name:?} (standard, crlf, single-result)"
                );
                return 2;
            }
        },
    };
    let dir = std::env::temp_dir().join(format!("push-agent-demo-{}", std::process::id()));
    let result = match dialect {
        Dialect::Attendance => script(preset, &dir),
        Dialect::Security => security_script(&dir),
    };
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("push-agent demo failed: {e}");
            1
        }
    }
}

/// The agent running in its own thread.
struct RunningAgent {
    stop: StopHandle,
    thread: Option<JoinHandle<crate::app::Stopped>>,
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What both scripts start with: a fresh data directory, the server in `preset` with quick polls
/// and retries (`options`, so the demo takes seconds), and the agent on the simulated board.
struct Stage {
    server: PushServer,
    cfg: AgentConfig,
    board: config::BoardConfig,
    running: RunningAgent,
}

fn stage(
    preset: Preset,
    options: &[(&str, &str)],
    dialect: Dialect,
    dir: &Path,
) -> Result<Stage, String> {
    let _ = std::fs::remove_dir_all(dir);
    let mut server_cfg = ServerConfig::new(preset);
    server_cfg.options = options
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let server =
        PushServer::start(server_cfg).map_err(|e| format!("cannot start the server: {e}"))?;
    println!("server listening on {} ({preset:?} dialect)", server.url());
    let cfg = agent_config(&server.url(), dir, dialect)?;
    let board = config::load_board("sim").map_err(|e| e.to_string())?;
    let agent =
        Agent::start(&cfg, &board, Box::new(SystemTimeSource::new())).map_err(|e| e.to_string())?;
    let running = RunningAgent {
        stop: agent.stop_handle(),
        thread: Some(std::thread::spawn(move || agent.run())),
    };
    Ok(Stage {
        server,
        cfg,
        board,
        running,
    })
}

fn script(preset: Preset, dir: &Path) -> Result<(), String> {
    let Stage {
        server,
        cfg,
        running,
        ..
    } = stage(
        preset,
        &[("Delay", "1"), ("ErrorDelay", "2"), ("Realtime", "1")],
        Dialect::Attendance,
        dir,
    )?;
    println!(
        "agent started on the simulated board, data in {}\n",
        dir.display()
    );

    println!("1. the server queues {} users", USERS.len());
    let ids: Vec<String> = USERS
        .iter()
        .map(|(pin, name, card)| {
            server.queue_command(&format!(
                "DATA UPDATE USERINFO PIN={pin}\tName={name}\tPri=0\tPasswd=\tCard={card}\tGrp=1\tTZ=0000000100000000\tVerify=0"
            ))
        })
        .collect();
    wait(&server, "the user commands to be answered", |v| {
        ids.iter().all(|id| v.replies().iter().any(|r| &r.id == id))
    })?;

    println!("2. cards are swiped at the terminal");
    let socket = cfg.storage.sim_socket();
    for card in USERS.iter().map(|u| u.2).chain([UNKNOWN_CARD]) {
        let answer = crate::sim::request(&socket, &format!("swipe {card}"))
            .map_err(|e| format!("swipe: {e}"))?;
        println!("   swipe {card:>9} → {answer}");
    }

    println!("3. the records reach the server");
    wait(&server, "the attendance and operation records", |v| {
        v.uploads("ATTLOG").len() >= USERS.len()
            && v.uploads("OPERLOG")
                .iter()
                .any(|l| l.starts_with("OPLOG 2\t"))
    })?;

    println!("4. the server sets ATTLOGStamp=0 and sends CHECK: the records are sent again");
    server.set_stamp("ATTLOG", "0");
    let check = server.queue_command("CHECK");
    wait(&server, "the records to be sent again", |v| {
        v.uploads("ATTLOG").len() >= 2 * USERS.len() && v.replies().iter().any(|r| r.id == check)
    })?;
    drop(running);
    server.shutdown();

    println!("\ntranscript:");
    for line in server.transcript() {
        println!("  {line}");
    }
    let attlog = server.uploads("ATTLOG");
    println!(
        "\nthe server holds {} ATTLOG lines: {} records, sent twice because of CHECK",
        attlog.len(),
        USERS.len()
    );
    for line in attlog {
        println!("  {}", line.replace('\t', " ⇥ "));
    }
    Ok(())
}

fn agent_config(url: &str, dir: &Path, dialect: Dialect) -> Result<AgentConfig, String> {
    let device = match dialect {
        Dialect::Attendance => "dialect = \"attendance\"\n",
        Dialect::Security => "dialect = \"security\"\npush_version = \"3.1.2\"\n",
    };
    let text = format!(
        "[server]\nurl = \"{url}\"\n\n[device]\nserial = \"{SERIAL}\"\n{device}\n[storage]\ndata_dir = \"{}\"\n",
        dir.display()
    );
    config::parse(&text, &PathBuf::from("demo.toml")).map_err(|e| e.to_string())
}

fn wait(
    server: &PushServer,
    what: &str,
    done: impl Fn(&ServerView<'_>) -> bool,
) -> Result<(), String> {
    if server.wait_until(STEP_TIMEOUT, done) {
        Ok(())
    } else {
        Err(format!("gave up waiting for {what} after {STEP_TIMEOUT:?}"))
    }
}

/// Door 1's timings the server sets in the security demo, short so the script takes seconds.
const DRIVE_SECS: u64 = 2;
const DETECTOR_SECS: u64 = 3;

/// The security dialect's script (see the module documentation).
fn security_script(dir: &Path) -> Result<(), String> {
    let Stage {
        server,
        cfg,
        board,
        running,
    } = stage(
        Preset::Security,
        &[("RequestDelay", "1"), ("ErrorDelay", "2")],
        Dialect::Security,
        dir,
    )?;
    println!(
        "access controller started on the simulated board ({} doors), data in {}\n",
        board.doors.len(),
        dir.display()
    );
    let socket = cfg.storage.sim_socket();
    let sim = |line: &str| -> Result<String, String> {
        let answer = crate::sim::request(&socket, line).map_err(|e| format!("{line}: {e}"))?;
        println!("   sim {line:<28} → {answer}");
        if answer.starts_with("ok") {
            Ok(answer)
        } else {
            Err(format!("{line}: {answer}"))
        }
    };

    println!("1. the controller registers");
    wait(&server, "the registration", |v| {
        v.registration(SERIAL).is_some()
    })?;
    if let Some(registration) = server.registration(SERIAL) {
        for key in ["LockCount", "ReaderCount", "VerifyStyles", "EventTypes"] {
            let value = registration.capability(key).unwrap_or("-");
            println!("   {key}={value}");
        }
    }

    let (pin, name, card) = USERS[0];
    println!("2. the server sends a user, a time zone, an authorization and door 1's timings");
    let all_day: String = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        .iter()
        .map(|day| format!("\t{day}Time1=2359"))
        .collect();
    let ids: Vec<String> = [
        format!("DATA UPDATE user CardNo={card}\tPin={pin}\tName={name}"),
        format!("DATA UPDATE timezone TimezoneId=1{all_day}"),
        format!("DATA UPDATE userauthorize Pin={pin}\tAuthorizeTimezoneId=1\tAuthorizeDoorId=1"),
        format!(
            "SET OPTIONS Door1Drivertime={DRIVE_SECS},Door1Detectortime={DETECTOR_SECS},\
             Door1SensorType=1,Door1Intertime=0"
        ),
    ]
    .iter()
    .map(|cmd| {
        let id = server.queue_command(cmd);
        println!("   C:{id}:{}", cmd.replace('\t', " "));
        id
    })
    .collect();
    wait(&server, "the commands to be answered", |v| {
        ids.iter().all(|id| v.replies().iter().any(|r| &r.id == id))
    })?;

    println!(
        "3. a granted swipe: the relay comes up, and drops after DoorDrivertime ({DRIVE_SECS} s)"
    );
    let clock = SystemTimeSource::new();
    sim(&format!("swipe {card} --door 1"))?;
    let up = clock.raw_now().mono;
    sim("relays")?;
    wait_relay_off(&socket, &clock)?;
    let held_ms = clock.raw_now().mono.0.saturating_sub(up.0);
    println!(
        "   relay of door 1 off after {:.1} s",
        held_ms as f64 / 1000.0
    );

    println!("4. an unknown card is denied");
    sim(&format!("swipe {UNKNOWN_CARD} --door 1"))?;

    println!("5. the door is held open: alarm 28 after DoorDetectortime ({DETECTOR_SECS} s)");
    sim(&format!("swipe {card} --door 1"))?;
    sim("door 1 open")?;
    wait(&server, "the held-open alarm", |v| {
        events(v).contains(&crate::door::DoorEvent::HeldOpen.code())
    })?;
    sim("door 1 close")?;
    sim("relays")?;

    println!("6. the server opens door 1 remotely for 2 s: CONTROL DEVICE 01010102");
    let open = server.queue_command("CONTROL DEVICE 01010102");
    println!("   C:{open}:CONTROL DEVICE 01010102");
    wait(&server, "the remote open", |v| {
        v.replies().iter().any(|r| r.id == open)
            && events(v).contains(&crate::door::DoorEvent::RemoteOpen.code())
    })?;
    sim("relays")?;
    wait_relay_off(&socket, &clock)?;
    // The last door state goes up before the agent stops.
    wait(&server, "the final door state", |v| {
        v.uploads("rtstate")
            .last()
            .is_some_and(|line| line.contains("relay=00"))
    })?;
    drop(running);
    server.shutdown();

    println!("\nthe server received these rtlog events, in order:");
    for event in server.rt_events() {
        println!("  {}", event.line.replace('\t', " "));
    }
    println!("\nrtstate reports:");
    for line in server.uploads("rtstate") {
        println!("  {}", line.replace('\t', " "));
    }
    println!("\ncommand replies:");
    for reply in server.replies() {
        println!("  {}", reply.raw);
    }
    Ok(())
}

/// The App 2 codes of the rtlog events the server holds, in arrival order.
fn events(view: &ServerView<'_>) -> Vec<u16> {
    view.rt_events()
        .iter()
        .filter_map(|e| RtLog::parse(&e.line))
        .map(|log| log.event)
        .collect()
}

/// Waits (bounded) until door 1's relay is off, asking the agent through its control socket.
fn wait_relay_off(socket: &Path, clock: &SystemTimeSource) -> Result<(), String> {
    const WANTED: &str = "door 1: relay off";
    let deadline = clock
        .raw_now()
        .mono
        .plus_millis(STEP_TIMEOUT.as_millis() as u64);
    while clock.raw_now().mono < deadline {
        let answer = crate::sim::request(socket, "relays").map_err(|e| e.to_string())?;
        if answer.contains(WANTED) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "gave up waiting for `{WANTED}` after {STEP_TIMEOUT:?}"
    ))
}
