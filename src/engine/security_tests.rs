//! The engine in the security dialect against the embedded server (`Preset::Security`, which checks
//! the token on every request) over real loopback HTTP. The engine's clock is manual: waits such as
//! ErrorDelay are skipped by moving the clock, so nothing here sleeps.

use super::*;
use crate::clock::ManualClock;
use crate::clock::TimeSource;
use crate::config::{self, AgentConfig};
use crate::controller::{DoorCommand, RemoteCommand};
use crate::protocol::civil::LocalDateTime;
use crate::protocol::options::UtcOffset;
use crate::protocol::security::capabilities::tests::seed_example;
use crate::protocol::security::rtlog::{InOutStatus, VerifyType};
use crate::protocol::security::rtstate::{AlarmFlags, SensorState};
use crate::server::{Fault, Preset, PushServer, ServerConfig};
use crate::transport::HttpTransport;
use std::path::Path;
use std::sync::Mutex;

const SN: &str = "SEC0001";
/// 2026-11-23 08:00:00 UTC.
const T0_MS: i64 = 1_795_420_800_000;
/// Ticks any one scenario may take: bounds every loop.
const MAX_TICKS: usize = 20_000;
/// Events made while the server is away. `PUSH_AGENT_OFFLINE_EVENTS` sets another count (at
/// least 100): CI sets it only for the armv7 run under qemu-arm, where each event costs several
/// times more; the native run keeps 5,000.
const OFFLINE_EVENTS: u16 = 5_000;
const OFFLINE_EVENTS_VAR: &str = "PUSH_AGENT_OFFLINE_EVENTS";

/// [`OFFLINE_EVENTS`], or the count in [`OFFLINE_EVENTS_VAR`].
fn offline_events() -> u16 {
    let Ok(text) = std::env::var(OFFLINE_EVENTS_VAR) else {
        return OFFLINE_EVENTS;
    };
    match text.parse() {
        Ok(n) if n >= 100 => n,
        _ => panic!("{OFFLINE_EVENTS_VAR}={text}: want a number of events from 100 to 65535"),
    }
}

/// The doors as the engine sees them: a fixed state and the commands it was given.
#[derive(Clone, Default)]
struct FakeDoors {
    commands: Arc<Mutex<Vec<RemoteCommand>>>,
    reloads: Arc<Mutex<usize>>,
}

impl DoorLink for FakeDoors {
    fn door_states(&self) -> (u64, Vec<DoorState>) {
        let door = DoorState {
            sensor: SensorState::Closed,
            relay_energised: false,
            alarms: AlarmFlags::NONE,
        };
        (1, vec![door, door])
    }

    fn apply(&self, commands: &[RemoteCommand], reload: bool) {
        self.commands.lock().unwrap().extend_from_slice(commands);
        if reload {
            *self.reloads.lock().unwrap() += 1;
        }
    }
}

struct Rig {
    server: PushServer,
    clock: Arc<ManualClock>,
    engine: Engine,
    doors: FakeDoors,
    _dir: tempfile::TempDir,
}

impl Rig {
    fn new() -> Rig {
        let mut cfg = ServerConfig::new(Preset::Security);
        cfg.options = vec![
            ("RequestDelay".into(), "1".into()),
            ("ErrorDelay".into(), "5".into()),
        ];
        let server = PushServer::start(cfg).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let toml = format!(
            "[server]\nurl = \"{}\"\nconnect_timeout_secs = 2\nio_timeout_secs = 5\n\
             [device]\nserial = \"{SN}\"\ndialect = \"security\"\npush_version = \"3.1.2\"\n\
             [storage]\ndata_dir = \"{}\"\n",
            server.url(),
            dir.path().display()
        );
        let agent: AgentConfig = config::parse(&toml, Path::new("test.toml")).unwrap();
        let mut engine_cfg = EngineConfig::from_agent(&agent);
        engine_cfg.capabilities = Some(seed_example());
        engine_cfg.door_count = 2;
        let clock = Arc::new(ManualClock::new(Now {
            mono: Mono(0),
            utc_ms: T0_MS,
        }));
        let device_clock = Arc::new(DeviceClock::new(Box::new(clock.clone()), 0, UtcOffset(0)));
        let transport = HttpTransport::new(&agent.server, agent.log.decode).unwrap();
        let store = Store::open(&dir.path().join("agent.db")).unwrap();
        let mut engine = Engine::new(engine_cfg, store, Box::new(transport), device_clock).unwrap();
        let doors = FakeDoors::default();
        engine.set_doors(Box::new(doors.clone()));
        Rig {
            server,
            clock,
            engine,
            doors,
            _dir: dir,
        }
    }

    /// Ticks until `done`, moving the manual clock over every wait. Panics after [`MAX_TICKS`].
    fn run_until(&mut self, what: &str, mut done: impl FnMut(&mut Rig) -> bool) {
        for _ in 0..MAX_TICKS {
            if done(self) {
                return;
            }
            match self.engine.tick() {
                Tick::Worked => {}
                Tick::Idle { until } => {
                    let now = self.clock.raw_now().mono;
                    let to = until.unwrap_or(now.plus_secs(1)).max(now.plus_millis(1));
                    self.clock.advance_ms(to.0 - now.0);
                }
                Tick::Restart => panic!("unexpected restart while waiting for {what}"),
            }
        }
        panic!("{what}: not reached in {MAX_TICKS} ticks");
    }

    fn append_events(&mut self, n: u16) -> Vec<i64> {
        let time = LocalDateTime::new(2026, 11, 23, 8, 0, 0).unwrap();
        self.engine
            .store()
            .write(|tx| {
                (0..n)
                    .map(|i| {
                        tx.append_rtlog(&RtLog {
                            time,
                            pin: "1".into(),
                            cardno: "123".into(),
                            sitecode: 0,
                            linkid: 0,
                            eventaddr: 1,
                            event: if i % 2 == 0 { 0 } else { 27 },
                            inoutstatus: InOutStatus::In,
                            verifytype: VerifyType::Code(4),
                            index: 0,
                        })
                    })
                    .collect()
            })
            .unwrap()
    }

    fn backlog(&mut self) -> i64 {
        self.engine
            .store()
            .read(|tx| tx.backlog_count(StampTable::RtLog))
            .unwrap()
    }

    fn received_indexes(&self) -> Vec<u64> {
        self.server
            .rt_events()
            .iter()
            .filter_map(|e| e.index)
            .collect()
    }
}

#[test]
fn registers_uploads_events_and_the_door_state_with_a_valid_token() {
    let mut rig = Rig::new();
    let ids = rig.append_events(3);
    rig.run_until("three events", |r| r.server.rt_events().len() == 3);
    let registration = rig.server.registration(SN).expect("registered");
    assert_eq!(registration.capability("LockCount"), Some("1"));
    assert_eq!(rig.server.rejected_tokens(), 0);
    let expected: Vec<u64> = ids.iter().map(|&i| i as u64).collect();
    assert_eq!(rig.received_indexes(), expected);
    for (event, id) in rig.server.rt_events().iter().zip(&ids) {
        assert!(
            event.line.ends_with(&format!("\tindex={id}")),
            "{}",
            event.line
        );
    }
    rig.run_until("the door state", |r| {
        !r.server.uploads("rtstate").is_empty()
    });
    // The time is the server's: the engine took its clock from the `Date` header.
    let state = &rig.server.uploads("rtstate")[0];
    assert!(
        state.ends_with("\tsensor=05\trelay=00\talarm=0000000000000000"),
        "{state}"
    );
}

#[test]
fn events_made_offline_arrive_in_index_order_exactly_once() {
    let mut rig = Rig::new();
    rig.append_events(1);
    rig.run_until("online", |r| r.server.rt_events().len() == 1);
    // The server goes away for a while: every request fails, then it answers again.
    rig.server.fail_next(40, Fault::Drop);
    let ids = rig.append_events(offline_events());
    // The store says when all is sent: asking the server re-reads every event it holds.
    rig.run_until("an empty backlog", |r| r.backlog() == 0);
    let mut expected = vec![ids[0] as u64 - 1];
    expected.extend(ids.iter().map(|&i| i as u64));
    assert_eq!(rig.received_indexes(), expected);
    assert_eq!(rig.server.duplicate_events(), 0);
}

#[test]
fn a_rejected_token_leads_to_a_new_registration_and_nothing_is_lost() {
    let mut rig = Rig::new();
    rig.append_events(2);
    rig.run_until("two events", |r| r.server.rt_events().len() == 2);
    let first = rig.server.registration(SN).unwrap().registry_code;
    rig.server.forget_registrations();
    rig.append_events(3);
    rig.run_until("five events", |r| r.server.rt_events().len() == 5);
    assert!(rig.server.rejected_tokens() >= 1);
    assert_ne!(rig.server.registration(SN).unwrap().registry_code, first);
    assert_eq!(rig.server.duplicate_events(), 0);
}

#[test]
fn door_commands_reach_the_doors_and_their_replies_reach_the_server() {
    let mut rig = Rig::new();
    rig.run_until("online", |r| r.server.registration(SN).is_some());
    let open = rig.server.queue_command("CONTROL DEVICE 01010105");
    let count = rig.server.queue_command("DATA COUNT user");
    rig.run_until("both replies", |r| r.server.replies().len() >= 2);
    assert_eq!(
        *rig.doors.commands.lock().unwrap(),
        [RemoteCommand::Door(DoorCommand {
            door: Some(1),
            remote: crate::door::Remote::OpenFor(std::num::NonZeroU8::new(5).unwrap()),
        })]
    );
    let replies: Vec<String> = rig.server.replies().iter().map(|r| r.raw.clone()).collect();
    assert!(
        replies.contains(&format!("ID={open}&Return=0&CMD=CONTROL DEVICE")),
        "{replies:?}"
    );
    assert!(
        replies.contains(&format!("ID={count}&Return=0&CMD=DATA COUNT")),
        "{replies:?}"
    );
    let packages = rig.server.query_packages();
    assert_eq!(packages.len(), 1);
    assert_eq!(packages[0].lines, ["user=0"]);
}

#[test]
fn uploads_the_device_parameters_when_the_server_asks() {
    let mut rig = Rig::new();
    rig.server.set_option("PushOptionsFlag", "1");
    rig.append_events(2);
    rig.run_until("the parameters", |r| !r.server.pushed_options().is_empty());
    let options = rig.server.pushed_options();
    let value = |key: &str| {
        options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(value("TransactionCount"), Some("2"));
    assert_eq!(value("UserCount"), Some("0"));
    assert_eq!(value("LockCount"), Some("1"));
    assert_eq!(value("PushVersion"), Some("3.1.2"));
    assert_eq!(value("FingerFunOn"), Some("0"));
}

#[test]
fn a_repeated_command_runs_once_and_is_answered_minus_7() {
    let mut rig = Rig::new();
    rig.run_until("online", |r| r.server.registration(SN).is_some());
    rig.server
        .queue_command_with_id("77", "CONTROL DEVICE 02010000");
    rig.run_until("the first reply", |r| !r.server.replies().is_empty());
    rig.server
        .queue_command_with_id("77", "CONTROL DEVICE 02010000");
    rig.run_until("the second reply", |r| r.server.replies().len() >= 2);
    let replies: Vec<String> = rig.server.replies().iter().map(|r| r.raw.clone()).collect();
    assert_eq!(
        replies,
        [
            "ID=77&Return=0&CMD=CONTROL DEVICE",
            "ID=77&Return=-7&CMD=CONTROL DEVICE"
        ]
    );
    assert_eq!(rig.doors.commands.lock().unwrap().len(), 1);
}

#[test]
fn with_realtime_off_events_wait_for_the_trans_interval() {
    let mut rig = Rig::new();
    rig.server.set_option("Realtime", "0");
    rig.server.set_option("TransInterval", "1");
    rig.run_until("online", |r| r.server.registration(SN).is_some());
    rig.run_until("the first door state", |r| {
        !r.server.uploads("rtstate").is_empty()
    });
    let start = rig.clock.raw_now().mono;
    rig.append_events(3);
    // Polls go on, the events stay: until a minute has passed.
    rig.run_until("50 s of polling", |r| {
        r.clock.raw_now().mono >= start.plus_secs(50)
    });
    assert!(rig.server.rt_events().is_empty());
    rig.run_until("the events", |r| r.server.rt_events().len() == 3);
    assert!(rig.clock.raw_now().mono >= start.plus_secs(59));
    assert_eq!(rig.backlog(), 0);
}
