//! The agent binary against the fake server under faults: 10,000 swipes while the server fails
//! 30 % of requests at random and the agent is killed with SIGKILL 5 times. At the end the server
//! holds every stored record exactly once and every command has exactly one reply.
//!
//! `PUSH_AGENT_E2E_SWIPES` sets another count (at least 1,000). CI sets it only for the armv7 run
//! under qemu-arm, where each swipe costs several times more; the native run keeps 10,000.
//!
//! The store is the truth: a swipe answered `ok` is committed, and a swipe that was committed
//! just before a kill (so never answered) is in the store too. So the server's uploads are
//! compared with the store's records, line for line, as multisets.

mod support;

use push_agent::protocol::options::StampTable;
use push_agent::server::{Outcome, PushServer, SplitMix64};
use push_agent::store::Store;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use support::{AgentProcess, Preset, fast_server, write_config};

const SWIPES: u64 = 10_000;
const SWIPES_VAR: &str = "PUSH_AGENT_E2E_SWIPES";
/// Fewer swipes than this would not spread the kills and the INFO/LOG commands over the run.
const MIN_SWIPES: u64 = 1_000;
const KILLS: usize = 5;
const USERS: u64 = 200;
const FAULT_RATE: f64 = 0.3;
const SEED: u64 = 0x5EED_2026;
/// Pause between swipes, so the swipes (and the kills among them) spread over about a minute of
/// uploads, retries and reconnects instead of finishing before the first retry.
const SWIPE_GAP: Duration = Duration::from_millis(5);

/// [`SWIPES`], or the count in [`SWIPES_VAR`].
fn swipes() -> u64 {
    let Ok(text) = std::env::var(SWIPES_VAR) else {
        return SWIPES;
    };
    match text.parse() {
        Ok(n) if n >= MIN_SWIPES => n,
        _ => panic!("{SWIPES_VAR}={text}: want a whole number of swipes, at least {MIN_SWIPES}"),
    }
}

fn card_of(user: u64) -> u64 {
    1_000_000 + user
}

/// Every line of `table` in the store, with how often it occurs.
fn store_lines(db: &Path, table: StampTable) -> BTreeMap<String, usize> {
    let mut store = Store::open_read_only(db).expect("open the agent's store");
    let rows = store
        .read(|tx| tx.records_after(table, 0, usize::MAX >> 1, usize::MAX))
        .expect("read records");
    count(rows.into_iter().map(|r| r.1))
}

fn count(lines: impl IntoIterator<Item = String>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for l in lines {
        *out.entry(l).or_insert(0) += 1;
    }
    out
}

/// Waits (bounded, 5 minutes) for the agent to have nothing left to send.
fn drained(db: &Path, server: &PushServer) -> bool {
    for _ in 0..1500 {
        let done = Store::open_read_only(db)
            .and_then(|mut s| {
                s.read(|tx| {
                    Ok(tx.backlog_count(StampTable::AttLog)? == 0
                        && tx.backlog_count(StampTable::OperLog)? == 0
                        && tx.count_pending_replies()? == 0
                        && !tx.has_query_job()?)
                })
            })
            .unwrap_or(false);
        if done && server.outstanding_commands().is_empty() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

#[test]
fn swipes_through_faults_and_kills_arrive_exactly_once() {
    let swipes = swipes();
    let dir = tempfile::tempdir().unwrap();
    let server = fast_server(Preset::Standard);
    // Batched replies: fewer requests, so the 30 % faults cost less waiting (ErrorDelay).
    let config = write_config(dir.path(), &server.url(), "reply_batching = \"batched\"");
    let db = dir.path().join("agent.db");
    let mut rng = SplitMix64::new(SEED);

    let mut agent = AgentProcess::start(&config);
    let mut commands = Vec::new();
    for user in 0..USERS {
        commands.push(server.queue_command(&format!(
            "DATA UPDATE USERINFO PIN={user}\tName=User {user}\tCard={}",
            card_of(user)
        )));
    }
    server.set_random_faults(FAULT_RATE, SEED);

    let mut kill_at: Vec<u64> = (0..KILLS).map(|_| 1 + rng.below(swipes - 1)).collect();
    kill_at.sort_unstable();
    let (mut answered, mut kills) = (0u64, 0usize);
    for i in 0..swipes {
        if kill_at.get(kills) == Some(&i) {
            agent.kill();
            kills += 1;
            agent = AgentProcess::start(&config);
        }
        if i % 1000 == 500 {
            commands.push(server.queue_command("INFO"));
            commands.push(server.queue_command("LOG"));
        }
        // One in twenty cards is unknown to the terminal: a failed-verification operation.
        let card = if rng.below(20) == 0 {
            5_000_000 + i
        } else {
            card_of(rng.below(USERS))
        };
        std::thread::sleep(SWIPE_GAP);
        for attempt in 0.. {
            match agent.swipe(card) {
                Ok(answer) => {
                    assert!(answer.starts_with("ok "), "swipe {i}: {answer}");
                    answered += 1;
                    break;
                }
                Err(e) if attempt < 100 => {
                    eprintln!("swipe {i} attempt {attempt}: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("swipe {i} never answered: {e}"),
            }
        }
    }
    assert_eq!(kills, KILLS);
    let during_swipes = server.request_count();
    assert!(
        drained(&db, &server),
        "the agent did not finish uploading; see {}",
        dir.path().join("agent.log").display()
    );
    agent.kill();

    // Every stored record is on the server exactly once.
    let mut stored_total = 0;
    for (table, name) in [
        (StampTable::AttLog, "ATTLOG"),
        (StampTable::OperLog, "OPERLOG"),
    ] {
        let stored = store_lines(&db, table);
        let uploaded = count(server.uploads(name));
        stored_total += stored.values().sum::<usize>();
        let missing: Vec<_> = stored
            .iter()
            .filter(|(l, n)| uploaded.get(*l) != Some(n))
            .take(5)
            .collect();
        assert!(
            missing.is_empty(),
            "{name}: store and server differ, e.g. {missing:?}"
        );
        assert_eq!(
            stored, uploaded,
            "{name}: the server holds something the store does not"
        );
    }
    // Each answered swipe is stored; at most one unanswered record per kill, plus the power-on
    // record of every start.
    let starts = KILLS + 1;
    assert!(stored_total as u64 >= answered + starts as u64);
    assert!(stored_total as u64 <= answered + (starts + KILLS) as u64);

    // Every command has exactly one reply; a reply sent again (its answer was lost) is identical.
    let replies = server.replies();
    for id in &commands {
        let mine: Vec<_> = replies.iter().filter(|r| &r.id == id).collect();
        let first = mine.iter().filter(|r| !r.duplicate).count();
        assert_eq!(first, 1, "command {id}: {} replies", mine.len());
        assert!(
            mine.iter().all(|r| r.raw == mine[0].raw),
            "command {id} answered differently: {mine:?}"
        );
        assert_eq!(mine[0].return_code, Ok(0), "command {id}: {}", mine[0].raw);
    }
    assert!(replies.iter().all(|r| commands.contains(&r.id)));
    let faults = server.read(|v| {
        v.requests()
            .iter()
            .filter(|r| !matches!(r.outcome, Outcome::Responded { status: 200, .. }))
            .count()
    });
    eprintln!(
        "swipes answered {answered}, records stored {stored_total}, requests {} ({during_swipes} while swiping), faulted {faults}, replies {} ({} resent)",
        server.request_count(),
        replies.len(),
        replies.iter().filter(|r| r.duplicate).count()
    );
}
