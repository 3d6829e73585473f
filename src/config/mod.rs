//! agent.toml (server, device, storage, logging) and the board file (hardware).
//!
//! Values are checked while parsing (see [`types`]), unknown keys are refused, and every default
//! is in [`defaults`]. A bad file is a [`ConfigError`] naming the file, the line, the key and the
//! reason; `main` turns it into exit code 78 so the service manager does not restart-loop.

pub mod board;
pub mod defaults;
pub mod types;

pub use board::{
    BoardConfig, BoardDriver, BoardSection, DoorConfig, LineSpec, ReaderConfig, ReaderSide,
};

use crate::protocol::dialect::Dialect;
use crate::protocol::record::VerifyCodes;
use crate::protocol::version::PushVersion;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use types::*;

pub type ConnectTimeout = Bounded<1, 300>;
pub type IoTimeout = Bounded<1, 600>;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    pub server: ServerSection,
    pub device: DeviceSection,
    #[serde(default)]
    pub upload: UploadSection,
    #[serde(default)]
    pub storage: StorageSection,
    #[serde(default)]
    pub log: LogSection,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// `http://host:port` or `https://host:port`, optionally with a path prefix.
    pub url: ServerUrl,
    /// `pushcommkey`, the factory-written binding key [000 §5]. Sent only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm_key: Option<Secret>,
    /// A fixed `token` cookie for servers that want one (AMB-12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// PEM file with the CA certificates to trust for https, instead of the built-in roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: ConnectTimeout,
    #[serde(default = "default_io_timeout")]
    pub io_timeout_secs: IoTimeout,
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: Bounded<1024, { 64 << 20 }>,
    #[serde(default)]
    pub reply_batching: ReplyBatching,
    #[serde(default = "default_max_replies")]
    pub max_replies_per_request: Bounded<1, 200>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSection {
    pub serial: SerialNumber,
    pub dialect: Dialect,
    /// `sim` for the built-in simulated board, or the path of a board file.
    #[serde(default = "default_board")]
    pub board: String,
    /// The `pushver` announced; by default the dialect's ([`DeviceSection::push_version`]).
    #[serde(default, rename = "push_version")]
    pub push_version_setting: Option<ConfigPushVersion>,
    #[serde(default = "default_language")]
    pub language: u16,
    #[serde(default = "default_time_zone")]
    pub time_zone: TimeZoneSetting,
    #[serde(default = "default_sync_clock")]
    pub sync_clock: bool,
    /// ATTLOG `Verify` code table (AMB-7): `app7` or `legacy`.
    #[serde(default)]
    pub verify_codes: VerifyCodes,
    /// Address reported in INFO; found from the route to the server when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UploadSection {
    #[serde(default = "default_batch_records")]
    pub batch_records: Bounded<1, 10_000>,
    #[serde(default = "default_batch_bytes")]
    pub batch_bytes: Bounded<1024, { 16 << 20 }>,
}

impl Default for UploadSection {
    fn default() -> Self {
        UploadSection {
            batch_records: default_batch_records(),
            batch_bytes: default_batch_bytes(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Security dialect: the access records (`rtlog`) kept, reported as `~MaxAttLogCount`. At
    /// 90 % event 6005 is logged; when full the oldest 1 % are deleted, uploaded or not.
    #[serde(default = "default_max_records")]
    pub max_records: Bounded<100, 10_000_000>,
}

impl Default for StorageSection {
    fn default() -> Self {
        StorageSection {
            data_dir: default_data_dir(),
            max_records: default_max_records(),
        }
    }
}

impl StorageSection {
    pub fn database(&self) -> PathBuf {
        self.data_dir.join("agent.db")
    }

    pub fn sim_socket(&self) -> PathBuf {
        self.data_dir.join("sim.sock")
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    #[serde(default = "default_log_level")]
    pub level: LogLevel,
    #[serde(default)]
    pub decode: DecodeLevel,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            level: default_log_level(),
            decode: DecodeLevel::default(),
        }
    }
}

fn default_connect_timeout() -> ConnectTimeout {
    Bounded::new_const(defaults::CONNECT_TIMEOUT_SECS)
}
fn default_io_timeout() -> IoTimeout {
    Bounded::new_const(defaults::IO_TIMEOUT_SECS)
}
fn default_max_response_bytes() -> Bounded<1024, { 64 << 20 }> {
    Bounded::new_const(defaults::MAX_RESPONSE_BYTES)
}
fn default_max_replies() -> Bounded<1, 200> {
    Bounded::new_const(defaults::MAX_REPLIES_PER_REQUEST as u64)
}
fn default_board() -> String {
    defaults::BOARD.to_owned()
}
impl DeviceSection {
    /// The `pushver` announced: the configured one, else the dialect's default.
    pub fn push_version(&self) -> PushVersion {
        self.push_version_setting.as_ref().map_or_else(
            || {
                let default = match self.dialect {
                    Dialect::Attendance => defaults::PUSH_VERSION,
                    Dialect::Security => defaults::SECURITY_PUSH_VERSION,
                };
                default.parse().expect("the default versions parse")
            },
            |v| v.0,
        )
    }
}
fn default_language() -> u16 {
    defaults::LANGUAGE
}
fn default_time_zone() -> TimeZoneSetting {
    TimeZoneSetting::try_from(defaults::TIME_ZONE.to_owned()).expect("the default zone parses")
}
fn default_sync_clock() -> bool {
    defaults::SYNC_CLOCK
}
fn default_batch_records() -> Bounded<1, 10_000> {
    Bounded::new_const(defaults::BATCH_RECORDS as u64)
}
fn default_batch_bytes() -> Bounded<1024, { 16 << 20 }> {
    Bounded::new_const(defaults::BATCH_BYTES as u64)
}
fn default_data_dir() -> PathBuf {
    PathBuf::from(defaults::DATA_DIR)
}
fn default_max_records() -> Bounded<100, 10_000_000> {
    Bounded::new_const(defaults::MAX_RECORDS)
}
fn default_log_level() -> LogLevel {
    LogLevel::parse(defaults::LOG_LEVEL).expect("the default level parses")
}

/// The built-in simulated board, the same text as `board/sim.toml`.
pub const SIM_BOARD: &str = include_str!("../../board/sim.toml");

/// Why a config or board file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// Reads and checks agent.toml.
pub fn load_agent(path: &Path) -> Result<AgentConfig, ConfigError> {
    let text = read(path)?;
    parse(&text, path)
}

/// Reads and checks a board file (see [`board`]); `sim` is the built-in simulated board.
pub fn load_board(spec: &str) -> Result<BoardConfig, ConfigError> {
    let (board, path): (BoardConfig, &Path) = if spec == "sim" {
        let path = Path::new("board/sim.toml (built in)");
        (parse(SIM_BOARD, path)?, path)
    } else {
        let path = Path::new(spec);
        (parse(&read(path)?, path)?, path)
    };
    board.validate().map_err(|e| ConfigError {
        file: path.to_owned(),
        line: None,
        key: Some(e.key),
        reason: e.reason,
    })?;
    Ok(board)
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_owned(),
        line: None,
        key: None,
        reason: format!("cannot read: {e}"),
    })
}

/// Parses TOML text into `T`, turning the parser's error span into a line and a dotted key.
pub fn parse<T: serde::de::DeserializeOwned>(text: &str, file: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let (line, key) = match e.span() {
            Some(span) => locate_key(text, span.start, e.message()),
            None => (None, None),
        };
        ConfigError {
            file: file.to_owned(),
            line,
            key,
            reason: e.message().trim().to_owned(),
        }
    })
}

/// The line of `offset` and the dotted key written there: `table.key` for a `key = value` line,
/// `table.field` for a "missing field" error reported at a table header.
fn locate_key(text: &str, offset: usize, message: &str) -> (Option<usize>, Option<String>) {
    let offset = offset.min(text.len());
    let line_no = text[..offset].matches('\n').count() + 1;
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("").trim();
    let header = |l: &str| {
        let l = l.trim();
        l.starts_with('[')
            .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned())
    };
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|m| m.split('`').next())
        .map(str::to_owned);
    let key = if let Some(table) = header(line) {
        Some(match missing {
            Some(field) => format!("{table}.{field}"),
            None => table,
        })
    } else {
        let table = text[..line_start].lines().rev().find_map(header);
        let name = line.split('=').next().unwrap_or("").trim().to_owned();
        match (table, name.is_empty()) {
            (_, true) => missing,
            (Some(t), false) => Some(format!("{t}.{name}")),
            (None, false) => Some(name),
        }
    };
    (Some(line_no), key)
}

impl AgentConfig {
    /// The effective configuration as TOML, secrets shown as `<redacted>`.
    pub fn render(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[server]\nurl = \"http://127.0.0.1:8080\"\n\n[device]\nserial = \"DEV1\"\ndialect = \"attendance\"\n";

    fn parse_agent(text: &str) -> Result<AgentConfig, ConfigError> {
        parse(text, Path::new("agent.toml"))
    }

    #[test]
    fn fills_every_default() {
        let c = parse_agent(MINIMAL).unwrap();
        assert_eq!(c.device.board, "sim");
        assert_eq!(c.device.push_version().to_string(), "2.4.1");
        assert_eq!(c.server.io_timeout_secs.get(), defaults::IO_TIMEOUT_SECS);
        assert_eq!(c.upload.batch_records.get(), defaults::BATCH_RECORDS as u64);
        assert_eq!(c.storage.data_dir, PathBuf::from(defaults::DATA_DIR));
        assert_eq!(c.storage.max_records.get(), defaults::MAX_RECORDS);
        assert_eq!(c.log.level, LogLevel::Info);
        assert_eq!(c.server.reply_batching, ReplyBatching::OnePerRequest);
    }

    #[test]
    fn names_the_key_of_an_unknown_field() {
        let e = parse_agent(&format!(
            "{MINIMAL}\n[log]\nlevel = \"info\"\ncolour = true\n"
        ))
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("log.colour"));
        assert_eq!(e.line, Some(10));
        assert!(e.reason.contains("unknown field"), "{e}");
    }

    #[test]
    fn names_the_key_of_an_invalid_value() {
        let e = parse_agent(&MINIMAL.replace("http://127.0.0.1:8080", "ftp://x")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("server.url"));
        assert_eq!(
            e.to_string(),
            "agent.toml:2: key `server.url`: \"ftp://x\" must start with http:// or https://"
        );
        let e = parse_agent(&format!("{MINIMAL}\n[upload]\nbatch_records = 0\n")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("upload.batch_records"));
        let e = parse_agent(&format!("{MINIMAL}\n[storage]\nmax_records = 10\n")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("storage.max_records"));
    }

    #[test]
    fn names_a_missing_required_key() {
        let e = parse_agent("[server]\nurl = \"http://h\"\n[device]\ndialect = \"attendance\"\n")
            .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("device.serial"));
        assert!(e.reason.contains("missing field"), "{e}");
    }

    #[test]
    fn accepts_both_dialects() {
        let c = parse_agent(MINIMAL).unwrap();
        assert_eq!(c.device.dialect, Dialect::Attendance);
        let c = parse_agent(&MINIMAL.replace("attendance", "security")).unwrap();
        assert_eq!(c.device.dialect, Dialect::Security);
        assert_eq!(c.device.push_version().to_string(), "3.0.1");
        let pinned = MINIMAL.replace("attendance\"", "security\"\npush_version = \"3.1.2\"");
        let c = parse_agent(&pinned).unwrap();
        assert_eq!(c.device.push_version().to_string(), "3.1.2");
        assert!(
            c.render().contains("dialect = \"security\""),
            "{}",
            c.render()
        );
    }

    #[test]
    fn refuses_dialects_this_build_does_not_speak() {
        let e = parse_agent(&MINIMAL.replace("attendance", "fkweb")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("device.dialect"));
    }

    #[test]
    fn renders_without_secrets() {
        let text = MINIMAL.replace(
            "url = \"http://127.0.0.1:8080\"",
            "url = \"http://h\"\ncomm_key = \"4a9594af\"\ntoken = \"tok\"",
        );
        let c = parse_agent(&text).unwrap();
        let shown = c.render();
        assert!(
            !shown.contains("4a9594af") && !shown.contains("tok\""),
            "{shown}"
        );
        assert!(shown.contains("comm_key = \"<redacted>\""), "{shown}");
        let again: toml::Table = toml::from_str(&shown).unwrap();
        assert!(again.contains_key("storage"));
    }

    #[test]
    fn refuses_a_board_with_more_doors_than_rtstate_reports() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.toml");
        let doors = "[[door]]\n".repeat(9);
        std::fs::write(
            &path,
            format!("[board]\nname = \"big\"\ndriver = \"sim\"\nopkg_arch = \"all\"\n{doors}"),
        )
        .unwrap();
        let e = load_board(path.to_str().unwrap()).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("door"));
        assert!(e.reason.contains("9 doors"), "{e}");
    }

    #[test]
    fn loads_the_built_in_sim_board() {
        let b = load_board("sim").unwrap();
        assert_eq!(b.board.driver, BoardDriver::Sim);
        assert_eq!(b.doors.len(), 2);
        assert_eq!(b.reader_count(), 4);
    }

    #[test]
    fn reports_an_unreadable_file() {
        let e = load_agent(Path::new("/nonexistent/agent.toml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/agent.toml: cannot read"),
            "{e}"
        );
    }
}
