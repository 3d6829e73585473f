//! Every default value of agent.toml, in one place.

/// Where agent.toml is looked for when neither `--config` nor `PUSH_AGENT_CONFIG` names one.
pub const CONFIG_PATH: &str = "/etc/push-agent/agent.toml";
/// The board used when agent.toml names none: the built-in simulated board.
pub const BOARD: &str = "sim";
/// Where the store and the sim control socket live.
pub const DATA_DIR: &str = "/var/lib/push-agent";
/// Access records kept (`~MaxAttLogCount`); when full the oldest 1 % go [C20].
pub const MAX_RECORDS: u64 = 100_000;
/// Protocol version we announce (`pushver`). AMB-1: 2.4.1 is the newest version App 6 lists.
pub const PUSH_VERSION: &str = "2.4.1";
/// Protocol version the security dialect announces. 3.0.1, not 3.1.2: from 3.1.1 on a server may
/// expect the key exchange, whose algorithms the spec leaves out (AMB-35), and nothing this agent
/// does needs a later version (App 13).
pub const SECURITY_PUSH_VERSION: &str = "3.0.1";
/// Sub-protocol sent as `DeviceType` [000 §5].
pub const DEVICE_TYPE: &str = "att";
/// App 2 language code: 69 = English.
pub const LANGUAGE: u16 = 69;
/// Offset from UTC for record times until the server sends `TimeZone`.
pub const TIME_ZONE: &str = "+00:00";
/// Whether the server's `Date` header corrects the clock [spec §6.5].
pub const SYNC_CLOCK: bool = true;
/// TCP (and TLS) connect timeout.
pub const CONNECT_TIMEOUT_SECS: u64 = 10;
/// Timeout for sending a request and receiving the whole response.
pub const IO_TIMEOUT_SECS: u64 = 30;
/// Largest response body accepted. 004 caps a command batch at 40 KB; this leaves room.
pub const MAX_RESPONSE_BYTES: u64 = 1 << 20;
/// Records per upload request (AMB-6 recommends 100–500).
pub const BATCH_RECORDS: usize = 500;
/// Bytes of record text per upload request (AMB-6: about 64 KB).
pub const BATCH_BYTES: usize = 64 * 1024;
/// Results per devicecmd request when replies are batched.
pub const MAX_REPLIES_PER_REQUEST: usize = 20;
/// Log level when neither the command line nor `RUST_LOG` sets one.
pub const LOG_LEVEL: &str = "info";

// Board files.

/// Debounce of a door contact, exit button or tamper input: contacts bounce for a few ms, and
/// 20–50 ms is the usual range (design note §3).
pub const CONTACT_DEBOUNCE_MS: u32 = 20;
/// Speed of an RS485 bus: OSDP's default.
pub const RS485_BAUD: u32 = 9600;
