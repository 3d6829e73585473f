//! `push-agent status`: what the store says about the agent, read without disturbing it, and in
//! the security dialect what the running agent says about its doors.

use crate::commands::{CHECK_PENDING_KEY, OPTION_BLOCK_KEY, options_from_block};
use crate::engine::{
    CLOCK_CORRECTION_KEY, LAST_CONTACT_KEY, SECURITY_UPLOAD_TABLES, UPLOAD_TABLES,
};
use crate::protocol::civil::LocalDateTime;
use crate::protocol::dialect::Dialect;
use crate::protocol::security::reply::ServerParams;
use crate::store::{RecordKind, Store, StoreError, scope};
use std::fmt::Write;
use std::path::Path;

/// The status report for the store at `path`, as text.
pub fn report(store: &mut Store, serial: &str, dialect: Dialect) -> Result<String, StoreError> {
    store.read(|tx| {
        let mut out = String::new();
        let state = |key: &str| tx.setting(scope::STATE, key);
        let last_contact = state(LAST_CONTACT_KEY)?
            .and_then(|s| s.parse::<i64>().ok())
            .map_or_else(
                || "never".to_owned(),
                |unix| format!("{} UTC", LocalDateTime::from_unix(unix, 0)),
            );
        let _ = writeln!(out, "serial:            {serial}");
        let _ = writeln!(out, "last contact:      {last_contact}");
        let correction = state(CLOCK_CORRECTION_KEY)?.unwrap_or_else(|| "0".to_owned());
        let _ = writeln!(out, "clock correction:  {correction} ms");
        if state(CHECK_PENDING_KEY)?.is_some() {
            let _ = writeln!(out, "CHECK:             re-init pending");
        }
        let _ = writeln!(out, "users:             {}", tx.count_users()?);
        let tables = match dialect {
            Dialect::Attendance => {
                let _ = writeln!(
                    out,
                    "records:           {} attendance, {} operation",
                    tx.count_records(RecordKind::AttLog)?,
                    tx.count_records(RecordKind::OpLog)?
                );
                &UPLOAD_TABLES[..]
            }
            Dialect::Security => {
                let _ = writeln!(
                    out,
                    "records:           {} access events",
                    tx.count_records(RecordKind::RtLog)?
                );
                let lost = crate::controller::records_lost(tx)?;
                if lost > 0 {
                    let _ = writeln!(
                        out,
                        "records lost:      {lost} deleted at capacity before the server had them"
                    );
                }
                &SECURITY_UPLOAD_TABLES[..]
            }
        };
        let _ = writeln!(
            out,
            "\nupload    backlog  acked-id  in-flight      server-stamp  uploaded"
        );
        for &table in tables {
            let st = tx.upload_state(table)?;
            let inflight = st
                .inflight
                .map_or_else(|| "-".to_owned(), |(a, b)| format!("{a}..{b}"));
            let stamp = if st.server_stamp.is_empty() {
                "-"
            } else {
                st.server_stamp.as_str()
            };
            let _ = writeln!(
                out,
                "{:<9} {:>7}  {:>8}  {:<13}  {:<12}  {:>8}",
                table.as_str(),
                tx.backlog_count(table)?,
                st.acked_id,
                inflight,
                stamp,
                st.uploaded_total
            );
        }
        let _ = writeln!(out, "\npending replies:   {}", tx.count_pending_replies()?);
        for reply in tx.pending_replies(10)? {
            let first = reply.body.lines().next().unwrap_or("");
            let _ = writeln!(out, "  {first}");
        }
        let _ = writeln!(
            out,
            "running queries:   {}",
            if tx.has_query_job()? { "yes" } else { "no" }
        );
        let _ = writeln!(out, "\noptions in force:");
        match tx.setting(scope::SERVER, OPTION_BLOCK_KEY)? {
            Some(block) => {
                let options = match dialect {
                    Dialect::Attendance => options_from_block(&block, serial),
                    Dialect::Security => ServerParams::parse(&block).to_options(),
                };
                for (k, v) in options.summary() {
                    let _ = writeln!(out, "  {k}={v}");
                }
            }
            None => {
                let _ = writeln!(out, "  (none yet: the server has not answered)");
            }
        }
        Ok(out)
    })
}

/// The doors as the running agent reports them (`sim relays`), one line each; a note instead
/// when the agent cannot be asked.
pub fn doors(socket: &Path) -> String {
    let mut out = String::from("\ndoors:\n");
    // A board with RS485 readers lists them after the doors; others answer none, or an error.
    let readers = crate::sim::request(socket, "readers")
        .ok()
        .and_then(|answer| answer.strip_prefix("ok ").map(str::to_owned))
        .filter(|readers| !readers.is_empty());
    match crate::sim::request(socket, "relays") {
        Ok(answer) => match answer.strip_prefix("ok ") {
            Some(doors) => {
                for door in doors.split(crate::sim::DOOR_SEPARATOR) {
                    let _ = writeln!(out, "  {door}");
                }
            }
            None => {
                let _ = writeln!(out, "  (the agent answered: {answer})");
            }
        },
        Err(e) => {
            let _ = writeln!(out, "  (unknown: {e})");
        }
    }
    if let Some(readers) = readers {
        out.push_str("rs485 readers:\n");
        for reader in readers.split(crate::sim::DOOR_SEPARATOR) {
            let _ = writeln!(out, "  {reader}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::options::StampTable;
    use crate::protocol::security::rtlog::RtLog;
    use crate::store::NewRecord;

    #[test]
    fn reports_backlog_stamps_replies_and_options() {
        let mut s = Store::open_in_memory().unwrap();
        s.write(|tx| {
            for i in 0..3 {
                tx.append_record(&NewRecord {
                    kind: RecordKind::AttLog,
                    pin: "1".into(),
                    time: LocalDateTime::parse("2026-11-23 08:00:00").unwrap(),
                    line: format!("1\t2026-11-23 08:00:0{i}\t0\t4\t0\t0\t0"),
                    credential: None,
                })?;
            }
            tx.ack_upload(StampTable::AttLog, 1, 1, false, 1_795_420_800)?;
            tx.set_server_stamp(StampTable::AttLog, "1")?;
            tx.queue_reply("5", "ID=5&Return=0&CMD=DATA", false)?;
            tx.set_setting(scope::STATE, LAST_CONTACT_KEY, "1795420800")?;
            tx.set_setting(
                scope::SERVER,
                OPTION_BLOCK_KEY,
                "GET OPTION FROM: S1\nDelay=7\nTimeZone=8",
            )
        })
        .unwrap();
        let text = report(&mut s, "S1", Dialect::Attendance).unwrap();
        assert!(
            text.contains("last contact:      2026-11-23 08:00:00 UTC"),
            "{text}"
        );
        assert!(
            text.contains("ATTLOG          2         1  -              1                    1"),
            "{text}"
        );
        assert!(
            text.contains("pending replies:   1\n  ID=5&Return=0&CMD=DATA"),
            "{text}"
        );
        assert!(text.contains("  Delay=7\n"), "{text}");
        assert!(text.contains("  TimeZone=+08:00\n"), "{text}");
    }

    #[test]
    fn reports_the_access_events_and_the_server_parameters_in_the_security_dialect() {
        let mut s = Store::open_in_memory().unwrap();
        s.write(|tx| {
            for event in [206, 0] {
                let line = format!(
                    "time=2026-11-23 08:00:00\tpin=0\tcardno=0\tsitecode=0\tlinkid=0\t\
                     eventaddr=1\tevent={event}\tinoutstatus=0\tverifytype=200\tindex=0"
                );
                tx.append_rtlog(&RtLog::parse(&line).unwrap())?;
            }
            tx.ack_upload(StampTable::RtLog, 1, 1, false, 1_795_420_800)?;
            tx.set_setting(
                scope::SERVER,
                OPTION_BLOCK_KEY,
                "registry=ok\nRegistryCode=Uy47fxftP3\nRequestDelay=7\nErrorDelay=40",
            )
        })
        .unwrap();
        let text = report(&mut s, "S1", Dialect::Security).unwrap();
        assert!(
            text.contains("records:           2 access events\n"),
            "{text}"
        );
        assert!(text.contains("\nrtlog           1         1  -"), "{text}");
        assert!(!text.contains("ATTLOG"), "{text}");
        assert!(!text.contains("records lost"), "{text}");
        s.write(|tx| tx.set_setting(scope::STATE, crate::controller::RECORDS_LOST_KEY, "3"))
            .unwrap();
        let text = report(&mut s, "S1", Dialect::Security).unwrap();
        assert!(
            text.contains("records lost:      3 deleted at capacity"),
            "{text}"
        );
        // RequestDelay is the security dialect's poll delay.
        assert!(text.contains("\n  ErrorDelay=40\n  Delay=7\n"), "{text}");
    }

    #[test]
    fn lists_a_gpio_boards_doors_and_rs485_readers_from_the_running_agent() {
        use crate::clock::{DeviceClock, ManualClock};
        use crate::config::ReaderSide;
        use crate::config::board::ReaderAt;
        use crate::controller::{Controller, ControllerInput};
        use crate::hal::SimRelays;
        use crate::hal::osdp::OsdpStatus;
        use crate::protocol::options::UtcOffset;
        use crate::protocol::session::{Mono, Now};
        use crate::sim::{SimBoard, SimControl};
        use std::sync::Arc;

        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(DeviceClock::new(
            Box::new(ManualClock::new(Now {
                mono: Mono(0),
                utc_ms: 1_795_420_800_000,
            })),
            0,
            UtcOffset(0),
        ));
        let store = Store::open(&dir.path().join("agent.db")).unwrap();
        // The relays are the board's lines; the socket reads the controller's snapshot only.
        let mut controller = Controller::new(store, clock, Box::new(SimRelays::new(2)), 2).unwrap();
        let sock = dir.path().join("sim.sock");
        let readers = OsdpStatus::default();
        let reader_at = |door, side| ReaderAt { door, side };
        readers.add_reader(reader_at(2, ReaderSide::Out), 1, 5);
        readers.add_reader(reader_at(1, ReaderSide::In), 2, 1);
        let board = SimBoard::Gpio {
            doors: controller.status(),
            readers,
        };
        let _control = SimControl::start(&sock, board, || {}).unwrap();
        controller
            .handle(&ControllerInput::ExitButton { door: 2 })
            .unwrap();
        controller.handle(&ControllerInput::Tamper).unwrap();
        assert_eq!(
            doors(&sock),
            "\ndoors:\n  door 1: relay off, sensor none, alarms tamper\n  \
             door 2: relay on, sensor none, alarms none\nrs485 readers:\n  \
             door 1 in: rs485[2] address 1, not seen yet\n  \
             door 2 out: rs485[1] address 5, not seen yet\n"
        );
        // The board's inputs are its lines, not the socket.
        assert_eq!(
            crate::sim::request(&sock, "exit 1").unwrap(),
            "error this agent runs a GPIO board: its inputs are the board's lines, and the \
             socket answers `relays` and `readers` only"
        );
    }

    #[test]
    fn says_when_the_doors_cannot_be_asked() {
        let dir = tempfile::tempdir().unwrap();
        let text = doors(&dir.path().join("sim.sock"));
        assert!(
            text.starts_with("\ndoors:\n  (unknown: cannot reach the agent at "),
            "{text}"
        );
    }
}
