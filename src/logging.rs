//! The stderr logger, exchange logging by decode level, and redaction.
//!
//! procd (`stderr 1`) and systemd both capture stderr, so one line per event on stderr is the whole
//! logging story. Secrets (comm key, tokens, passwords) and card numbers never reach the log:
//! request targets and bodies pass through [`redact`] first.

use crate::config::types::DecodeLevel;
use crate::protocol::http::{HttpRequest, HttpResponse, RedactedTarget, TransportError};
use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;

struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        shown_level(metadata).is_some_and(|level| level <= log::max_level())
    }

    fn log(&self, record: &Record<'_>) {
        if let Some(level) = shown_level(record.metadata())
            && level <= log::max_level()
        {
            let target = record
                .target()
                .strip_prefix("push_agent::")
                .unwrap_or(record.target());
            let _ = writeln!(
                std::io::stderr().lock(),
                "{:<5} {target}: {}",
                level,
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

/// The level a record is shown at, if at all. LibOSDP's own lines (target `libosdp…`) name no
/// reader and repeat for every missed 200 ms reply, while the bus thread logs each reader's
/// changes once with its name (`src/hal/osdp.rs`): its warnings and notes go to debug, its errors
/// stay, and its debug lines are dropped, since they dump packets and secure-channel material.
fn shown_level(metadata: &Metadata<'_>) -> Option<Level> {
    let level = metadata.level();
    if !metadata.target().starts_with("libosdp") {
        return Some(level);
    }
    match level {
        Level::Error => Some(Level::Error),
        Level::Warn | Level::Info => Some(Level::Debug),
        Level::Debug | Level::Trace => None,
    }
}

static LOGGER: StderrLogger = StderrLogger;

/// Installs the logger (once per process; later calls only change the level).
pub fn init(level: LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

/// Keys whose values are secret or personal: masked wherever they appear as `key=value`.
const SENSITIVE_KEYS: [&str; 14] = [
    "passwd",
    "password",
    "card",
    "cardno",
    "vicecard",
    "tmp",
    "content",
    "photo",
    "pushcommkey",
    "token",
    "qrcodedecryptkey",
    "fptemplate1",
    "fptemplate2",
    "comm_key",
];

/// Masks the values of sensitive `key=value` pairs in protocol text. A value ends at a tab, a
/// newline, `&`, `;`, `,` or a space.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(eq) = rest.find('=') {
        let key_start = rest[..eq]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let key = &rest[key_start..eq];
        out.push_str(&rest[..=eq]);
        rest = &rest[eq + 1..];
        if SENSITIVE_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            let end = rest
                .find(['\t', '\n', '\r', '&', ';', ',', ' '])
                .unwrap_or(rest.len());
            if end > 0 {
                out.push_str("***");
            }
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

/// Logs one exchange at DEBUG as `decode` asks: nothing, a summary line, plus headers, plus the
/// (redacted) bodies.
pub fn log_exchange(
    decode: DecodeLevel,
    req: &HttpRequest,
    result: &Result<HttpResponse, TransportError>,
    millis: u128,
) {
    if decode == DecodeLevel::Nothing || !log::log_enabled!(log::Level::Debug) {
        return;
    }
    let target = RedactedTarget(&req.target);
    let outcome = match result {
        Ok(r) => format!("{} ({} bytes)", r.status, r.body.len()),
        Err(e) => format!("failed: {e}"),
    };
    let mut text = format!(
        "{} {target} ({} bytes) -> {outcome} in {millis} ms",
        req.method.as_str(),
        req.body.len()
    );
    if decode >= DecodeLevel::Headers {
        for (name, value) in &req.headers {
            let shown = if name.eq_ignore_ascii_case("cookie") {
                redact(value)
            } else {
                value.clone()
            };
            text.push_str(&format!("\n  > {name}: {shown}"));
        }
        if let Ok(resp) = result {
            for (name, value) in &resp.headers {
                let shown = if name.eq_ignore_ascii_case("set-cookie") {
                    redact(value)
                } else {
                    value.clone()
                };
                text.push_str(&format!("\n  < {name}: {shown}"));
            }
        }
    }
    if decode >= DecodeLevel::Payload {
        if !req.body.is_empty() {
            text.push_str(&format!(
                "\n  > body:\n{}",
                indent(&redact(&String::from_utf8_lossy(&req.body)))
            ));
        }
        if let Ok(resp) = result
            && !resp.body.is_empty()
        {
            text.push_str(&format!("\n  < body:\n{}", indent(&redact(&resp.text()))));
        }
    }
    log::debug!("{text}");
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The level from `RUST_LOG` when it is a plain level name (`debug`, `warn`, …).
pub fn level_from_env() -> Option<LevelFilter> {
    let value = std::env::var("RUST_LOG").ok()?;
    crate::config::types::LogLevel::parse(&value).map(|l| l.to_filter())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libosdp_lines_are_quieter_and_its_debug_dumps_never_shown() {
        let shown = |target: &str, level: Level| {
            shown_level(&Metadata::builder().target(target).level(level).build())
        };
        assert_eq!(shown("libosdp::cp", Level::Error), Some(Level::Error));
        assert_eq!(shown("libosdp::cp", Level::Warn), Some(Level::Debug));
        assert_eq!(shown("libosdp::cp", Level::Info), Some(Level::Debug));
        assert_eq!(shown("libosdp::cp", Level::Debug), None);
        assert_eq!(
            shown("push_agent::hal::osdp", Level::Warn),
            Some(Level::Warn)
        );
        assert_eq!(
            shown("push_agent::hal::osdp", Level::Debug),
            Some(Level::Debug)
        );
    }

    #[test]
    fn masks_secrets_and_cards_in_commands_and_queries() {
        let cmd =
            "C:1:DATA UPDATE USERINFO PIN=7\tName=Ann\tPasswd=1234\tCard=[15CD5B07]\tViceCard=99";
        assert_eq!(
            redact(cmd),
            "C:1:DATA UPDATE USERINFO PIN=7\tName=Ann\tPasswd=***\tCard=***\tViceCard=***"
        );
        assert_eq!(
            redact("/x?SN=1&pushcommkey=abcd&y=2"),
            "/x?SN=1&pushcommkey=***&y=2"
        );
        assert_eq!(redact("token=abc; lang=en"), "token=***; lang=en");
        assert_eq!(redact("Passwd=\tName=x"), "Passwd=\tName=x");
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        let t = "ID=1&Return=0&CMD=DATA\n1452\t2015-07-30 15:16:28\t0\t1\t0\t0\t0";
        assert_eq!(redact(t), t);
        assert_eq!(redact("no pairs at all"), "no pairs at all");
    }
}
