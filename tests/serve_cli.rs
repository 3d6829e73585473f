//! `push-agent serve`: the embedded server run on its own, as the full-system QEMU test runs it
//! on the host: the port file, commands queued at start reaching an agent, and the lines it
//! prints for what it receives.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;
use support::{AgentProcess, agent_command, write_security_config};

const WAIT: Duration = Duration::from_secs(20);
const CARD: u64 = 123_456_789;

/// A `push-agent serve` process and the lines it has printed so far.
struct Serve {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Serve {
    fn start(port_file: &Path, commands: &[String]) -> Serve {
        // Under qemu-user too (the cross suite): the runner starts the ARM binary.
        let mut cmd = agent_command();
        cmd.args(["serve", "--dialect", "security", "--port-file"])
            .arg(port_file)
            .args(["--option", "RequestDelay=1", "--option", "ErrorDelay=1"]);
        for command in commands {
            cmd.args(["--command", command]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn push-agent serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Serve {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits until a printed line satisfies `pred`, and returns it; fails when no new line
    /// comes for [`WAIT`].
    fn wait_line(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        loop {
            if let Some(line) = self.seen.iter().find(|l| pred(l)) {
                return line.clone();
            }
            match self.lines.recv_timeout(WAIT) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no line with {what} within {WAIT:?}; printed: {:?}",
                    self.seen
                ),
            }
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (up to 10 s) for `path` to hold something, and returns it.
fn wait_for_file(path: &Path) -> String {
    for _ in 0..500 {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.is_empty()
        {
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} not written within 10 s", path.display());
}

#[test]
fn serve_provisions_an_agent_and_prints_its_replies_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let port_file = dir.path().join("port");
    let commands = [
        format!("DATA UPDATE user CardNo={CARD}\tPin=7\tName=Ada"),
        "DATA UPDATE timezone TimezoneId=1\tSunTime1=2359\tMonTime1=2359\tTueTime1=2359\t\
         WedTime1=2359\tThuTime1=2359\tFriTime1=2359\tSatTime1=2359"
            .to_owned(),
        "DATA UPDATE userauthorize Pin=7\tAuthorizeTimezoneId=1\tAuthorizeDoorId=1".to_owned(),
    ];
    let mut serve = Serve::start(&port_file, &commands);

    let port: u16 = wait_for_file(&port_file)
        .trim()
        .parse()
        .expect("the port file holds a port number");
    let url = format!("http://127.0.0.1:{port}");
    assert_eq!(serve.wait_line("the url", |_| true), format!("url\t{url}"));

    let config = write_security_config(dir.path(), &url);
    let agent = AgentProcess::start(&config);
    for id in ["1", "2", "3"] {
        serve.wait_line(&format!("reply {id}"), |l| {
            l == format!("reply\t{id}\t0\tDATA UPDATE")
        });
    }

    let answer = agent.swipe(CARD).unwrap();
    assert!(answer.starts_with("ok"), "{answer}");
    let granted = serve.wait_line("the access event", |l| {
        l.starts_with("rtlog\t")
            && l.contains(&format!("\tcardno={CARD}\t"))
            && l.contains("\tevent=0\t")
    });
    // "rtlog <index> <line>": the index column repeats the line's own index field.
    let fields: Vec<&str> = granted.split('\t').collect();
    assert_eq!(
        fields.last(),
        Some(&format!("index={}", fields[1]).as_str()),
        "{granted}"
    );
    serve.wait_line("an rtstate report", |l| l.starts_with("rtstate\ttime="));
}
