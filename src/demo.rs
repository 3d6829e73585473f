//! `push-agent demo`: the agent on the simulated board against the built-in server, scripted.
//!
//! The server queues three users; cards are swiped (one unknown); the records reach the server;
//! the server sets `ATTLOGStamp=0` and sends CHECK, and the attendance records come again. The
//! transcript of every exchange is printed. Everything runs on 127.0.0.1 in a private temporary
//! directory, removed at the end.

use crate::app::{Agent, StopHandle};
use crate::clock::SystemTimeSource;
use crate::config::{self, AgentConfig};
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
pub fn run(preset_name: &str) -> i32 {
    let Some(preset) = preset(preset_name) else {
        eprintln!(
            "push-agent demo: unknown preset {preset_name:?} (standard, crlf, single-result)"
        );
        return 2;
    };
    let dir = std::env::temp_dir().join(format!("push-agent-demo-{}", std::process::id()));
    let result = script(preset, &dir);
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

fn script(preset: Preset, dir: &Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(dir);
    let mut server_cfg = ServerConfig::new(preset);
    // Quick polls and retries, so the demo takes seconds.
    server_cfg.options = vec![
        ("Delay".into(), "1".into()),
        ("ErrorDelay".into(), "2".into()),
        ("Realtime".into(), "1".into()),
    ];
    let server =
        PushServer::start(server_cfg).map_err(|e| format!("cannot start the server: {e}"))?;
    println!("server listening on {} ({preset:?} dialect)", server.url());

    let cfg = agent_config(&server.url(), dir)?;
    let board = config::load_board("sim").map_err(|e| e.to_string())?;
    let agent =
        Agent::start(&cfg, &board, Box::new(SystemTimeSource::new())).map_err(|e| e.to_string())?;
    let running = RunningAgent {
        stop: agent.stop_handle(),
        thread: Some(std::thread::spawn(move || agent.run())),
    };
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

fn agent_config(url: &str, dir: &Path) -> Result<AgentConfig, String> {
    let text = format!(
        "[server]\nurl = \"{url}\"\n\n[device]\nserial = \"{SERIAL}\"\ndialect = \"attendance\"\n\n[storage]\ndata_dir = \"{}\"\n",
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
