//! Throughput of the two bulk paths of the agent, on a real file store in a temporary directory.
//!
//! 1. Applying `DATA UPDATE USERINFO` batches: 100,000 users sent as getrequest-reply bodies of
//!    200 commands, each parsed with [`parse_batch`] and run with [`execute_batch`] in one write
//!    transaction, as the engine does after a poll. Parse time is included; building the bodies
//!    is the server's work and is not. Between batches the queued replies are checked and deleted
//!    as if delivered (not timed): the engine sends them before it polls again, so they never pile
//!    up. Reported in users/s (target ≥ 50,000).
//! 2. Flushing a 100,000-record ATTLOG backlog: the store is filled (not timed), then the real
//!    [`Engine`] over [`HttpTransport`] uploads it to the embedded [`PushServer`] on loopback,
//!    from the first tick (connect, options, first poll) until the backlog is empty. Reported in
//!    records/s (target ≥ 50,000); the server must have received exactly the 100,000 lines.
//!
//! Each measurement runs [`ROUNDS`] times on a fresh store and prints every round and the median;
//! the peak RSS of the process (`VmHWM`) comes last. Times are printed, never asserted; results
//! are checked and a wrong one panics.
//!
//! Run with `cargo bench --locked --bench throughput` (release profile).

use push_agent::clock::{DeviceClock, MonoStopwatch, SystemTimeSource};
use push_agent::commands::{CommandContext, execute_batch};
use push_agent::config::types::DecodeLevel;
use push_agent::config::{self, AgentConfig};
use push_agent::engine::{Engine, EngineConfig, Tick, firmware_version};
use push_agent::protocol::civil::LocalDateTime;
use push_agent::protocol::command::parse_batch;
use push_agent::protocol::options::{ServerOptions, StampTable, UtcOffset};
use push_agent::protocol::record::AttLog;
use push_agent::server::{Preset, PushServer, ServerConfig};
use push_agent::store::{NewRecord, Store};
use push_agent::transport::HttpTransport;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const ROUNDS: usize = 3;
/// Users applied per round of measurement 1.
const USERS: usize = 100_000;
/// Commands per getrequest reply body.
const COMMANDS_PER_BATCH: usize = 200;
/// ATTLOG records flushed per round of measurement 2.
const RECORDS: usize = 100_000;
/// `[upload] batch_records` and `batch_bytes`: the shipped defaults, so the figure is the
/// product's (a 500-record batch is about 17 KB).
const BATCH_RECORDS: usize = push_agent::config::defaults::BATCH_RECORDS;
const BATCH_BYTES: usize = push_agent::config::defaults::BATCH_BYTES;
/// Far more ticks than the flush needs (about one per batch plus connecting and the first poll).
const MAX_TICKS: usize = 10 * RECORDS / BATCH_RECORDS + 100;
const TARGET_PER_SEC: f64 = 50_000.0;
const SERIAL: &str = "BENCH0001";
/// 2026-11-23 08:00:00 UTC: the command context's time and the first record's time.
const T0_UNIX: i64 = 1_795_420_800;

/// What one round did: items handled, how long it took, and a note for the round's line.
struct Round {
    items: usize,
    elapsed: Duration,
    note: String,
}

fn main() {
    println!("apply DATA UPDATE USERINFO: {USERS} users in batches of {COMMANDS_PER_BATCH}");
    report("users", (0..ROUNDS).map(|_| apply_users()));
    println!(
        "flush ATTLOG backlog: {RECORDS} records to a loopback server, \
         batch_records = {BATCH_RECORDS}, batch_bytes = {BATCH_BYTES}"
    );
    report("records", (0..ROUNDS).map(|_| flush_attlog()));
    println!("peak RSS (VmHWM): {}", peak_rss());
}

/// Prints each round's rate and the median of the rates.
fn report(unit: &str, rounds: impl Iterator<Item = Round>) {
    let mut rates = Vec::new();
    for (i, round) in rounds.enumerate() {
        let secs = round.elapsed.as_secs_f64();
        let rate = round.items as f64 / secs;
        println!(
            "  round {}: {} {unit} in {secs:.3} s = {rate:.0} {unit}/s ({})",
            i + 1,
            round.items,
            round.note
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "  median: {:.0} {unit}/s (target >= {TARGET_PER_SEC:.0})",
        rates[rates.len() / 2]
    );
}

/// A getrequest reply body of `COMMANDS_PER_BATCH` user updates, PINs from `first` on.
fn user_batch_body(first: usize) -> String {
    (first..first + COMMANDS_PER_BATCH)
        .map(|n| {
            format!(
                "C:{n}:DATA UPDATE USERINFO PIN={n}\tName=User {n}\tPri=0\tPasswd=\tCard={}\t\
                 Grp=1\tTZ=0000000100000000\tVerify=0\n",
                n + 1_000_000
            )
        })
        .collect()
}

/// Measurement 1: parses and applies the user batches in a fresh store.
fn apply_users() -> Round {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut store = Store::open(&dir.path().join("agent.db")).expect("store opens");
    let bodies: Vec<String> = (1..=USERS)
        .step_by(COMMANDS_PER_BATCH)
        .map(user_batch_body)
        .collect();
    let options = ServerOptions::default();
    let firmware = firmware_version();
    let ctx = CommandContext {
        serial: SERIAL,
        firmware: &firmware,
        ip: "127.0.0.1",
        options: &options,
        zone: UtcOffset(0),
        now_utc_ms: T0_UNIX * 1000,
        dialect: push_agent::protocol::dialect::Dialect::Attendance,
        door_count: 0,
        capabilities: None,
    };

    let mut elapsed = Duration::ZERO;
    for body in &bodies {
        let watch = MonoStopwatch::start();
        let batch = parse_batch(body, COMMANDS_PER_BATCH);
        store
            .write(|tx| execute_batch(tx, &ctx, &batch))
            .expect("batch applies");
        elapsed += watch.elapsed();
        deliver_replies(&mut store);
    }

    let (users, last) = store
        .read(|tx| {
            Ok((
                tx.count_users()?,
                tx.user_by_card((USERS + 1_000_000) as u64)?,
            ))
        })
        .expect("store reads");
    assert_eq!(users, USERS as i64, "users stored");
    let last = last.expect("the last user is found by card");
    assert_eq!(
        (last.pin, last.name),
        (USERS.to_string(), format!("User {USERS}"))
    );
    Round {
        items: USERS,
        elapsed,
        note: format!("{} transactions", bodies.len()),
    }
}

/// Checks that the last batch queued one success reply per command, then deletes the replies as
/// the engine does once the server has accepted them.
fn deliver_replies(store: &mut Store) {
    store
        .write(|tx| {
            let replies = tx.pending_replies(COMMANDS_PER_BATCH + 1)?;
            assert_eq!(replies.len(), COMMANDS_PER_BATCH, "replies queued");
            assert!(
                replies
                    .iter()
                    .all(|r| r.body.ends_with("&Return=0&CMD=DATA")),
                "every command succeeded"
            );
            let seqs: Vec<i64> = replies.iter().map(|r| r.seq).collect();
            tx.delete_replies(&seqs)
        })
        .expect("replies delivered");
}

/// Measurement 2: fills a fresh store, then lets the engine upload it to a loopback server.
fn flush_attlog() -> Round {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("agent.db");
    let expected = fill_attlog(&db);

    let server = PushServer::start(ServerConfig {
        options: [("Delay", "60"), ("Realtime", "1")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .to_vec(),
        ..ServerConfig::new(Preset::Standard)
    })
    .expect("server starts");
    let toml = format!(
        "[server]\nurl = \"{}\"\n\n[device]\nserial = \"{SERIAL}\"\ndialect = \"attendance\"\n\n\
         [upload]\nbatch_records = {BATCH_RECORDS}\nbatch_bytes = {BATCH_BYTES}\n",
        server.url()
    );
    let cfg: AgentConfig = config::parse(&toml, Path::new("bench.toml")).expect("config parses");
    let transport = HttpTransport::new(&cfg.server, DecodeLevel::Nothing).expect("transport");
    let clock = DeviceClock::new(Box::new(SystemTimeSource::new()), 0, UtcOffset(0));
    let mut engine = Engine::new(
        EngineConfig::from_agent(&cfg),
        Store::open(&db).expect("store opens"),
        Box::new(transport),
        Arc::new(clock),
    )
    .expect("engine starts");

    let watch = MonoStopwatch::start();
    let mut ticks = 0;
    while has_backlog(engine.store()) {
        assert!(
            ticks < MAX_TICKS,
            "backlog not flushed in {MAX_TICKS} ticks"
        );
        match engine.tick() {
            Tick::Worked => ticks += 1,
            other => panic!("engine stopped with records left: {other:?}"),
        }
    }
    let elapsed = watch.elapsed();

    let left = engine
        .store()
        .read(|tx| tx.backlog_count(StampTable::AttLog))
        .expect("store reads");
    assert_eq!(left, 0, "backlog left");

    let received = server.uploads("ATTLOG");
    assert_eq!(received.len(), RECORDS, "lines received");
    let received: HashSet<String> = received.into_iter().collect();
    assert!(
        received == expected,
        "the server received other lines than the store held"
    );
    Round {
        items: RECORDS,
        elapsed,
        note: format!("{ticks} ticks, {} requests", server.request_count()),
    }
}

/// Writes `RECORDS` distinct ATTLOG records in one transaction; returns their upload lines.
fn fill_attlog(db: &Path) -> HashSet<String> {
    let logs: Vec<AttLog> = (0..RECORDS)
        .map(|i| AttLog {
            pin: (i % 5_000 + 1).to_string(),
            time: LocalDateTime::from_unix(T0_UNIX + i as i64, 0),
            status: 0,
            verify: 1,
            workcode: String::new(),
            health: None,
        })
        .collect();
    let mut store = Store::open(db).expect("store opens");
    store
        .write(|tx| {
            for log in &logs {
                tx.append_record(&NewRecord::attendance(log, None))?;
            }
            Ok(())
        })
        .expect("records stored");
    let lines: HashSet<String> = logs.iter().map(AttLog::encode).collect();
    assert_eq!(lines.len(), RECORDS, "distinct records");
    lines
}

fn has_backlog(store: &mut Store) -> bool {
    store
        .read(|tx| tx.has_backlog(StampTable::AttLog))
        .expect("store reads")
}

/// `VmHWM` from /proc/self/status: the most resident memory the process has used.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unavailable".to_owned())
}
