//! The command line: `run`, `demo`, `status`, `check-config` and `sim …`.
//!
//! A hidden `serve` command runs the embedded PUSH server on its own (see [`serve`]); it is
//! for the full-system QEMU test, whose guest agent needs a server on the host.
//!
//! Exit codes: 0 success; 1 failure; 2 bad usage; [`EXIT_RESTART`] (75) after the server's REBOOT,
//! so the service manager starts the agent again; [`EXIT_CONFIG`] (78) for a bad config file, so
//! it does not.

use crate::app::{Agent, EXIT_CONFIG, EXIT_FAILURE, EXIT_RESTART, Stopped, check_dialect};
use crate::clock::SystemTimeSource;
use crate::config::types::LogLevel;
use crate::config::{self, AgentConfig, BoardConfig, BoardDriver, defaults};
use crate::controller::capabilities::registry_capabilities;
use crate::hal::{gpio, osdp};
use crate::protocol::dialect::Dialect;
use crate::server::{Preset, PushServer, ServerConfig, ServerView};
use crate::store::Store;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

const USAGE: &str = "\
usage: push-agent [OPTIONS] <COMMAND>

commands:
  run                          run the agent (the default)
  demo [--preset NAME]         run a scripted session against a built-in server and print it
                               (presets: standard, crlf, single-result)
  demo --dialect security      the same for the access controller (security dialect)
  status                       show upload backlog, stamps, pending replies and options
                               (security dialect: also each door's relay and state)
  check-config                 check agent.toml and the board file, print the effective config;
                               on a GPIO board also check that its lines and RS485 ports exist
  sim swipe <card>             present a card on the simulated board
  sim pin <pin> [password]     type a PIN (and password) on the simulated keypad
  sim password <password>      type a door password alone (security dialect)
      the three take [--door N] [--reader in|out] (security dialect; default door 1, its
      first reader)
  sim door [N] open|close      move the simulated door sensor (N: security dialect, default 1)
  sim exit N                   press door N's exit button (security dialect)
  sim tamper                   trip the tamper switch (security dialect)
  sim relays                   show each door's relay level and state (security dialect)

options:
  -c, --config FILE            agent.toml (default: $PUSH_AGENT_CONFIG or /etc/push-agent/agent.toml)
  -b, --board FILE             board file, overriding agent.toml (`sim` = the simulated board)
  -l, --log-level LEVEL        error, warn, info, debug or trace (default: agent.toml, then RUST_LOG)
  -V, --version                print the version
  -h, --help                   print this help

exit codes: 0 ok, 1 failure, 2 usage, 75 restart requested by the server (REBOOT), 78 bad config";

const EXIT_USAGE: i32 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    Run,
    Demo { preset: String, dialect: Dialect },
    Status,
    CheckConfig,
    Sim(String),
    Serve(ServeArgs),
    Version,
    Help,
}

/// `serve`: the embedded server's dialect, its option overrides, the commands queued at start,
/// and where to write the port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ServeArgs {
    dialect: Dialect,
    options: Vec<(String, String)>,
    commands: Vec<String>,
    port_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Invocation {
    config: Option<PathBuf>,
    board: Option<String>,
    log_level: Option<LogLevel>,
    command: Command,
}

fn parse_args(args: &[String]) -> Result<Invocation, String> {
    let mut inv = Invocation {
        config: None,
        board: None,
        log_level: None,
        command: Command::Run,
    };
    let mut words = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "-c" | "--config" => inv.config = Some(PathBuf::from(value(arg)?)),
            "-b" | "--board" => inv.board = Some(value(arg)?),
            "-l" | "--log-level" => {
                let v = value(arg)?;
                inv.log_level =
                    Some(LogLevel::parse(&v).ok_or_else(|| format!("unknown log level {v:?}"))?);
            }
            "-V" | "--version" => {
                return Ok(Invocation {
                    command: Command::Version,
                    ..inv
                });
            }
            "-h" | "--help" => {
                return Ok(Invocation {
                    command: Command::Help,
                    ..inv
                });
            }
            "--preset" | "--dialect" | "--option" | "--command" | "--port-file" => {
                words.push(arg.clone());
                words.push(value(arg)?);
            }
            s if s.starts_with('-') && words.first().is_none_or(|w| w != "sim") => {
                return Err(format!("unknown option {s}"));
            }
            _ => words.push(arg.clone()),
        }
    }
    inv.command = match words.first().map(String::as_str) {
        None | Some("run") if words.len() <= 1 => Command::Run,
        Some("status") if words.len() == 1 => Command::Status,
        Some("check-config") if words.len() == 1 => Command::CheckConfig,
        Some("demo") => demo_command(&words[1..])?,
        Some("serve") => serve_command(&words[1..])?,
        Some("sim") if words.len() > 1 => {
            let request = words[1..].join(" ");
            crate::sim::parse_request(&request)?;
            Command::Sim(request)
        }
        Some(other) => return Err(format!("unknown command or extra arguments: {other}")),
        None => Command::Run,
    };
    Ok(inv)
}

/// `demo [--preset NAME] [--dialect attendance|security]`, each flag at most once.
/// The value of `--dialect`; `usage` goes with an unknown one.
fn dialect_flag(value: &str, usage: &str) -> Result<Dialect, String> {
    match value {
        "attendance" => Ok(Dialect::Attendance),
        "security" => Ok(Dialect::Security),
        other => Err(format!("unknown dialect {other:?}\n{usage}")),
    }
}

fn demo_command(flags: &[String]) -> Result<Command, String> {
    const DEMO_USAGE: &str =
        "usage: push-agent demo [--preset NAME] [--dialect attendance|security]";
    let (mut preset, mut dialect) = (None, None);
    for pair in flags.chunks(2) {
        match pair {
            [flag, value] if flag == "--preset" && preset.is_none() => preset = Some(value.clone()),
            [flag, value] if flag == "--dialect" && dialect.is_none() => {
                dialect = Some(dialect_flag(value, DEMO_USAGE)?);
            }
            _ => return Err(DEMO_USAGE.into()),
        }
    }
    let dialect = dialect.unwrap_or(Dialect::Attendance);
    let preset = preset.unwrap_or_else(|| match dialect {
        Dialect::Attendance => "standard".into(),
        Dialect::Security => "security".into(),
    });
    Ok(Command::Demo { preset, dialect })
}

/// `serve --dialect attendance|security [--option KEY=VALUE]… [--command TEXT]… [--port-file F]`.
fn serve_command(flags: &[String]) -> Result<Command, String> {
    const SERVE_USAGE: &str = "usage: push-agent serve --dialect attendance|security \
        [--option KEY=VALUE]... [--command TEXT]... [--port-file FILE]";
    let (mut dialect, mut options, mut commands, mut port_file) =
        (None, Vec::new(), Vec::new(), None);
    for pair in flags.chunks(2) {
        match pair {
            [flag, value] if flag == "--dialect" && dialect.is_none() => {
                dialect = Some(dialect_flag(value, SERVE_USAGE)?);
            }
            [flag, value] if flag == "--option" => {
                let (key, value) = value
                    .split_once('=')
                    .ok_or_else(|| format!("--option {value:?} is not KEY=VALUE"))?;
                options.push((key.to_owned(), value.to_owned()));
            }
            [flag, value] if flag == "--command" => commands.push(value.clone()),
            [flag, value] if flag == "--port-file" && port_file.is_none() => {
                port_file = Some(PathBuf::from(value));
            }
            _ => return Err(SERVE_USAGE.into()),
        }
    }
    Ok(Command::Serve(ServeArgs {
        dialect: dialect.ok_or(SERVE_USAGE)?,
        options,
        commands,
        port_file,
    }))
}

/// Runs the command line and returns the exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args: Vec<String> = args
        .into_iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let inv = match parse_args(&args) {
        Ok(inv) => inv,
        Err(e) => {
            eprintln!("push-agent: {e}\n\n{USAGE}");
            return EXIT_USAGE;
        }
    };
    let level = inv
        .log_level
        .map(LogLevel::to_filter)
        .or_else(crate::logging::level_from_env);
    crate::logging::init(level.unwrap_or(log::LevelFilter::Info));
    match &inv.command {
        Command::Version => {
            println!("push-agent {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Command::Help => {
            println!("{USAGE}");
            0
        }
        Command::Demo { preset, dialect } => {
            if level.is_none() {
                crate::logging::init(log::LevelFilter::Warn);
            }
            crate::demo::run(preset, *dialect)
        }
        Command::Serve(args) => serve(args),
        _ => with_config(&inv, level.is_some()),
    }
}

/// How long `serve` waits for news before checking again (it also wakes on every request).
const SERVE_POLL: Duration = Duration::from_secs(1);

/// `serve`: runs the embedded PUSH server on 127.0.0.1 (a free port) until the process is killed.
/// It queues the given commands at start, so a device gets them at its first poll, and writes
/// what it receives to stdout, one tab-separated line each, as it arrives:
///
/// ```text
/// url      http://127.0.0.1:PORT          (first, once)
/// reply    ID  RETURN  CMD                 a command reply
/// rtlog    INDEX  LINE                     a Security rtlog event, LINE as sent (it has tabs)
/// rtstate  LINE                            a Security rtstate report
/// ```
///
/// The port also goes to `--port-file`, written whole in one rename, so a script can wait for
/// the file. The full-system QEMU test (tests/qemu/) uses this: its guest reaches the host's
/// loopback through slirp, and a shell script can read these lines. Hidden from the usage text:
/// it is a test tool, not a management server.
fn serve(args: &ServeArgs) -> i32 {
    let mut cfg = ServerConfig::new(match args.dialect {
        Dialect::Attendance => Preset::Standard,
        Dialect::Security => Preset::Security,
    });
    cfg.options.clone_from(&args.options);
    let server = match PushServer::start(cfg) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("push-agent serve: cannot start the server: {e}");
            return EXIT_FAILURE;
        }
    };
    for command in &args.commands {
        server.queue_command(command);
    }
    println!("url\t{}", server.url());
    if let Some(file) = &args.port_file
        && let Err(e) = write_port_file(file, &server.url())
    {
        eprintln!("push-agent serve: cannot write {}: {e}", file.display());
        return EXIT_FAILURE;
    }
    let mut printed = Printed::default();
    loop {
        server.wait_until(SERVE_POLL, |view| printed.behind(view));
        let lines = server.read(|view| printed.catch_up(view));
        let mut out = std::io::stdout().lock();
        for line in lines {
            if writeln!(out, "{line}").is_err() {
                // Nobody reads any more: the test is over.
                return 0;
            }
        }
    }
}

/// The port of `url` (`http://127.0.0.1:PORT`) into `file`, through a temporary file and a rename.
fn write_port_file(file: &Path, url: &str) -> std::io::Result<()> {
    let port = url.rsplit(':').next().unwrap_or_default();
    let partial = file.with_extension("partial");
    std::fs::write(&partial, format!("{port}\n"))?;
    std::fs::rename(&partial, file)
}

/// How much of what the server received `serve` has printed.
#[derive(Debug, Default)]
struct Printed {
    replies: usize,
    events: usize,
    states: usize,
}

impl Printed {
    fn behind(&self, view: &ServerView<'_>) -> bool {
        view.replies().len() > self.replies
            || view.rt_events().len() > self.events
            || view.uploads("rtstate").len() > self.states
    }

    /// The lines of everything received since the last call.
    fn catch_up(&mut self, view: &ServerView<'_>) -> Vec<String> {
        let mut lines = Vec::new();
        for reply in &view.replies()[self.replies..] {
            let code = match &reply.return_code {
                Ok(code) => code.to_string(),
                Err(text) => text.clone(),
            };
            lines.push(format!("reply\t{}\t{code}\t{}", reply.id, reply.cmd));
        }
        self.replies = view.replies().len();
        let events = view.rt_events();
        for event in &events[self.events..] {
            let index = event.index.map(|i| i.to_string()).unwrap_or_default();
            lines.push(format!("rtlog\t{index}\t{}", event.line));
        }
        self.events = events.len();
        let states = view.uploads("rtstate");
        for state in &states[self.states..] {
            lines.push(format!("rtstate\t{state}"));
        }
        self.states = states.len();
        lines
    }
}

fn config_path(inv: &Invocation) -> PathBuf {
    inv.config
        .clone()
        .or_else(|| std::env::var_os("PUSH_AGENT_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(defaults::CONFIG_PATH))
}

/// The board file in effect: `--board`, else agent.toml's.
fn board_spec<'a>(inv: &'a Invocation, cfg: &'a AgentConfig) -> &'a str {
    inv.board.as_deref().unwrap_or(&cfg.device.board)
}

fn load(inv: &Invocation) -> Result<(AgentConfig, BoardConfig), config::ConfigError> {
    let cfg = config::load_agent(&config_path(inv))?;
    let board = config::load_board(board_spec(inv, &cfg))?;
    Ok((cfg, board))
}

/// `check-config`: checks what depends on both files, prints the effective config and board and,
/// on a GPIO board, checks that every line and RS485 port exists on this system (exit 78 naming
/// those that do not).
fn check_config(inv: &Invocation, cfg: &AgentConfig, board: &BoardConfig) -> i32 {
    let bad = |e: &dyn std::fmt::Display| {
        eprintln!(
            "push-agent: bad configuration: board {}: {e}",
            board.board.name
        );
        EXIT_CONFIG
    };
    if let Err(e) = check_dialect(cfg.device.dialect, board) {
        return bad(&e);
    }
    if cfg.device.dialect == Dialect::Security
        && let Err(e) = registry_capabilities(cfg, board)
    {
        return bad(&e);
    }
    println!("# {}\n{}", config_path(inv).display(), cfg.render());
    println!("# board\n{}", toml::to_string(board).unwrap_or_default());
    if board.board.driver == BoardDriver::Gpio {
        let mut problems = Vec::new();
        match gpio::resolve_lines(board, &gpio::LinuxGpio) {
            Ok(lines) => {
                println!("# GPIO lines on this system");
                for l in lines {
                    println!("# {} {} = {}", l.line.key, l.line.spec.at, l.address);
                }
            }
            Err(missing) => problems.push(missing.to_string()),
        }
        let ports = osdp::check_ports(board);
        let missing = ports.as_ref().err().map_or(&[][..], |p| &p.missing[..]);
        for (n, bus) in (1..).zip(&board.rs485) {
            if !missing.iter().any(|(m, _)| *m == n) {
                println!("# rs485[{n}].port {} is here", bus.port.display());
            }
        }
        if let Err(missing) = ports {
            problems.push(missing.to_string());
        }
        if !problems.is_empty() {
            return bad(&problems.join("\n"));
        }
    }
    0
}

fn with_config(inv: &Invocation, level_given: bool) -> i32 {
    let (cfg, board) = match load(inv) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("push-agent: bad configuration: {e}");
            return EXIT_CONFIG;
        }
    };
    if !level_given {
        crate::logging::init(cfg.log.level.to_filter());
    }
    match &inv.command {
        Command::CheckConfig => check_config(inv, &cfg, &board),
        Command::Status => {
            let db = cfg.storage.database();
            let dialect = cfg.device.dialect;
            match Store::open_read_only(&db).and_then(|mut s| {
                crate::status::report(&mut s, cfg.device.serial.as_str(), dialect)
            }) {
                Ok(text) => {
                    print!("{text}");
                    if dialect == Dialect::Security {
                        print!("{}", crate::status::doors(&cfg.storage.sim_socket()));
                    }
                    0
                }
                Err(e) => {
                    eprintln!("push-agent: {e}");
                    EXIT_FAILURE
                }
            }
        }
        Command::Sim(request) => match crate::sim::request(&cfg.storage.sim_socket(), request) {
            Ok(answer) => {
                println!("{answer}");
                if answer.starts_with("ok") {
                    0
                } else {
                    EXIT_FAILURE
                }
            }
            Err(e) => {
                eprintln!("push-agent: {e}");
                EXIT_FAILURE
            }
        },
        _ => match Agent::start(&cfg, &board, Box::new(SystemTimeSource::new())) {
            Ok(agent) => match agent.run() {
                Stopped::Restart => {
                    log::warn!(
                        "exiting with code {EXIT_RESTART} so the service manager restarts the agent"
                    );
                    EXIT_RESTART
                }
                Stopped::Stopped => 0,
            },
            Err(e) => {
                log::error!("cannot start: {e}");
                e.exit_code()
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &str) -> Result<Invocation, String> {
        let args: Vec<String> = args.split_whitespace().map(str::to_owned).collect();
        parse_args(&args)
    }

    #[test]
    fn parses_commands_and_options() {
        assert_eq!(parse("").unwrap().command, Command::Run);
        let inv = parse("--config /tmp/a.toml -l debug status").unwrap();
        assert_eq!(inv.config, Some(PathBuf::from("/tmp/a.toml")));
        assert_eq!(inv.log_level, Some(LogLevel::Debug));
        assert_eq!(inv.command, Command::Status);
        assert_eq!(
            parse("check-config --board board/sim.toml")
                .unwrap()
                .board
                .as_deref(),
            Some("board/sim.toml")
        );
        assert_eq!(
            parse("sim swipe 123").unwrap().command,
            Command::Sim("swipe 123".into())
        );
        assert_eq!(
            parse("sim pin 7 1234").unwrap().command,
            Command::Sim("pin 7 1234".into())
        );
        let demo = |preset: &str, dialect| Command::Demo {
            preset: preset.into(),
            dialect,
        };
        let demos = [
            ("demo", demo("standard", Dialect::Attendance)),
            ("demo --preset crlf", demo("crlf", Dialect::Attendance)),
            (
                "demo --dialect security",
                demo("security", Dialect::Security),
            ),
            (
                "demo --dialect attendance --preset single-result",
                demo("single-result", Dialect::Attendance),
            ),
        ];
        for (args, command) in demos {
            assert_eq!(parse(args).unwrap().command, command, "{args}");
        }
        assert_eq!(
            parse("sim swipe 42 --door 2 --reader out").unwrap().command,
            Command::Sim("swipe 42 --door 2 --reader out".into())
        );
        assert_eq!(
            parse("sim door 2 open").unwrap().command,
            Command::Sim("door 2 open".into())
        );
        assert_eq!(
            parse("sim relays").unwrap().command,
            Command::Sim("relays".into())
        );
    }

    #[test]
    fn refuses_bad_usage() {
        assert!(parse("sim swipe").is_err());
        assert!(parse("sim door ajar").is_err());
        assert!(parse("--frobnicate").is_err());
        assert!(parse("status extra").is_err());
        assert!(parse("--config").is_err());
        assert!(parse("-l loud run").is_err());
        assert!(parse("sim swipe 42 --reader up").is_err());
        assert!(parse("sim exit").is_err());
        assert!(parse("demo --dialect ancient").is_err());
        assert!(parse("demo --preset crlf --preset standard").is_err());
        assert!(parse("demo --preset").is_err());
        assert!(parse("serve").is_err());
        assert!(parse("serve --dialect modern").is_err());
        assert!(parse("serve --dialect security --option RequestDelay").is_err());
        assert!(parse("serve --dialect security --port-file a --port-file b").is_err());
    }

    #[test]
    fn parses_serve_with_options_commands_and_a_port_file() {
        let args: Vec<String> = [
            "serve",
            "--dialect",
            "security",
            "--option",
            "RequestDelay=1",
            "--command",
            "DATA UPDATE user CardNo=1\tPin=1",
            "--command",
            "SET OPTIONS Door1Drivertime=3",
            "--port-file",
            "/tmp/port",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(
            parse_args(&args).unwrap().command,
            Command::Serve(ServeArgs {
                dialect: Dialect::Security,
                options: vec![("RequestDelay".into(), "1".into())],
                commands: vec![
                    "DATA UPDATE user CardNo=1\tPin=1".into(),
                    "SET OPTIONS Door1Drivertime=3".into()
                ],
                port_file: Some(PathBuf::from("/tmp/port")),
            })
        );
    }
}
