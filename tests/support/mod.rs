//! Shared by the integration tests: the fake PUSH server and a harness that runs the real
//! `push-agent` binary against it.
//!
//! The fake server is the crate's embedded one ([`push_agent::server::PushServer`]): it binds
//! 127.0.0.1 port 0, records every request byte for byte, and has the domain verbs the tests use
//! (`queue_command`, `set_option`, `fail_next` with a status or a dropped connection,
//! `set_random_faults`, `uploads(table)`, `replies()`). Random choices use the server's
//! [`push_agent::server::SplitMix64`], so a failing run can be repeated from its seed.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses part of the harness"
)]

pub use push_agent::server::{Preset, PushServer, ServerConfig};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// A server in `preset` that answers fast: 1 s polls and retries.
pub fn fast_server(preset: Preset) -> PushServer {
    let mut cfg = ServerConfig::new(preset);
    cfg.options = vec![
        ("Delay".into(), "1".into()),
        ("ErrorDelay".into(), "1".into()),
        ("Realtime".into(), "1".into()),
    ];
    cfg.redeliver_after = Some(Duration::from_secs(2));
    PushServer::start(cfg).expect("start the fake server")
}

/// A Security PUSH server that answers fast: 1 s polls and retries.
pub fn fast_security_server() -> PushServer {
    let mut cfg = ServerConfig::new(Preset::Security);
    cfg.options = vec![
        ("RequestDelay".into(), "1".into()),
        ("ErrorDelay".into(), "1".into()),
    ];
    cfg.redeliver_after = Some(Duration::from_secs(2));
    PushServer::start(cfg).expect("start the fake server")
}

/// The serial number every config written here carries.
pub const SERIAL: &str = "E2E0001";

/// Writes an agent.toml (attendance dialect) for `url` with its data in `dir`; returns its path.
pub fn write_config(dir: &Path, url: &str, extra: &str) -> PathBuf {
    write_device_config(dir, url, extra, "dialect = \"attendance\"\n")
}

/// Writes an agent.toml for the security dialect (PUSH 3.1.2) on the simulated board.
pub fn write_security_config(dir: &Path, url: &str) -> PathBuf {
    write_device_config(
        dir,
        url,
        "",
        "dialect = \"security\"\npush_version = \"3.1.2\"\n",
    )
}

/// `device` is the `[device]` section's lines after `serial`.
fn write_device_config(dir: &Path, url: &str, extra: &str, device: &str) -> PathBuf {
    let path = dir.join("agent.toml");
    let text = format!(
        "[server]\nurl = \"{url}\"\nconnect_timeout_secs = 2\nio_timeout_secs = 5\n{extra}\n\
         [device]\nserial = \"{SERIAL}\"\n{device}\n\
         [storage]\ndata_dir = \"{}\"\n\n[log]\nlevel = \"warn\"\n",
        dir.display()
    );
    std::fs::write(&path, text).expect("write agent.toml");
    path
}

/// A command that starts the `push-agent` binary. Under qemu-user (the cross runner in
/// `.cargo/config.toml`) a test cannot exec the ARM binary itself, as nothing is registered with
/// binfmt_misc; the runner passes its own command line in `PUSH_AGENT_TEST_RUNNER` so that the
/// agent runs under the same emulator. Unset (native runs), the binary starts directly.
pub fn agent_command() -> Command {
    let agent = env!("CARGO_BIN_EXE_push-agent");
    let runner = std::env::var("PUSH_AGENT_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(emulator) => {
            let mut command = Command::new(emulator);
            command.args(words).arg(agent);
            command
        }
        None => Command::new(agent),
    }
}

/// Runs the binary with `args` to completion.
pub fn run_cli(args: &[&str]) -> (ExitStatus, String, String) {
    let out = agent_command().args(args).output().expect("run push-agent");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A `push-agent run` process.
pub struct AgentProcess {
    child: Child,
    socket: PathBuf,
}

impl AgentProcess {
    /// Starts the agent and waits (bounded) until its control socket answers.
    pub fn start(config: &Path) -> AgentProcess {
        let dir = config.parent().expect("config in a directory");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("agent.log"))
            .expect("open agent.log");
        let child = agent_command()
            .args(["--config", &config.display().to_string(), "run"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn push-agent");
        let agent = AgentProcess {
            child,
            socket: dir.join("sim.sock"),
        };
        for _ in 0..500 {
            if std::os::unix::net::UnixStream::connect(&agent.socket).is_ok() {
                return agent;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("agent did not open its control socket within 5 s");
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits (bounded) for the agent to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let steps = timeout.as_millis() / 20;
        for _ in 0..steps {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Presents a card through the control socket; the answer comes after the record is stored.
    pub fn swipe(&self, card: u64) -> std::io::Result<String> {
        push_agent::sim::request(&self.socket, &format!("swipe {card}"))
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
