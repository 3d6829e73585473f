//! The controller driven as on a device: the server's commands through the real executor, inputs
//! at the board, time on a manual clock moved from deadline to deadline as the timer thread does.
//! Every assertion is on something observable: relay transitions and their times, the rtlog
//! lines stored, the `rtstate` snapshot.

use super::*;
use crate::clock::ManualClock;
use crate::commands::{CommandContext, execute_batch};
use crate::hal::reads::{ReaderReads, frame_input};
use crate::hal::wiegand::Frame;
use crate::hal::{RelayChange, SimFeedback, SimRelayView, SimRelays};
use crate::protocol::dialect::Dialect;
use crate::protocol::options::{ServerOptions, StampTable, UtcOffset};
use crate::protocol::security::control::OutputAction;
use crate::protocol::security::rtstate::{AlarmFlags, SensorState};
use crate::protocol::session::Now;
use std::path::Path;

/// 2026-11-23 08:00:00 UTC, a Monday: 09:00:00 on the device, which is at UTC+1.
const START_UTC_MS: i64 = 1_795_420_800_000;
const ZONE: UtcOffset = UtcOffset(60);
/// Monotonic time at the start: not 0, so an offset mistaken for a time shows.
const T0: Mono = Mono(7_000);

/// A packed period `(start_hhmm << 16) + end_hhmm` [note §1.4].
fn packed(start_hhmm: u32, end_hhmm: u32) -> u32 {
    (start_hhmm << 16) + end_hhmm
}

/// The fields of a time zone open 08:00–18:00 on weekdays.
fn weekdays_8_to_18() -> String {
    ["Mon", "Tue", "Wed", "Thu", "Fri"]
        .iter()
        .map(|d| format!("\t{d}Time1={}", packed(800, 1800)))
        .collect()
}

/// User 1 with card 123, allowed through door 1 in time zone 1: weekdays 08:00–18:00. Door 1
/// drives its lock for 3 s (not App 10's default 5, so the setting is seen to apply).
fn office() -> String {
    let weekdays = weekdays_8_to_18();
    format!(
        "C:1:DATA UPDATE user CardNo=123\tPin=1\tName=Ann\n\
         C:2:DATA UPDATE userauthorize Pin=1\tAuthorizeTimezoneId=1\tAuthorizeDoorId=1\n\
         C:3:DATA UPDATE timezone TimezoneId=1{weekdays}\n\
         C:4:SET OPTIONS Door1Drivertime=3\n"
    )
}

/// The rig's auxiliary outputs.
const AUX_OUTPUTS: usize = 2;

/// A device with two doors on a file store, a second connection for the network side.
struct Rig {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    manual: Arc<ManualClock>,
    clock: Arc<DeviceClock>,
    controller: Controller,
    /// The network side's connection: the command executor and the uploader read and write here.
    store: Store,
    relays: SimRelayView,
    relay_changes_seen: usize,
    last_index: i64,
    next_cmd: u32,
}

impl Rig {
    fn new() -> Rig {
        Rig::with_relays(|relays, _| Box::new(relays))
    }

    /// A rig whose relays are `wrap(the sim relays, the store's path)`.
    fn with_relays(wrap: impl FnOnce(SimRelays, &Path) -> Box<dyn Relays>) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.db");
        let manual = Arc::new(ManualClock::new(Now {
            mono: T0,
            utc_ms: START_UTC_MS,
        }));
        let clock = Arc::new(DeviceClock::new(Box::new(manual.clone()), 0, ZONE));
        let sim = SimRelays::new(2).with_aux_outputs(AUX_OUTPUTS);
        let relays = sim.view();
        let controller = Controller::new(
            Store::open(&path).unwrap(),
            clock.clone(),
            wrap(sim, &path),
            2,
        )
        .unwrap()
        .with_aux_outputs(AUX_OUTPUTS);
        Rig {
            store: Store::open(&path).unwrap(),
            path,
            _dir: dir,
            manual,
            clock,
            controller,
            relays,
            relay_changes_seen: 0,
            last_index: 0,
            next_cmd: 1000,
        }
    }

    /// The device restarts: a new controller on the same store, with relays that start de-energised
    /// (a fresh board).
    fn restart(&mut self) {
        let sim = SimRelays::new(2);
        self.relays = sim.view();
        self.relay_changes_seen = 0;
        self.controller = Controller::new(
            Store::open(&self.path).unwrap(),
            self.clock.clone(),
            Box::new(sim),
            2,
        )
        .unwrap();
    }

    /// The server's command lines, run as the engine runs them: one committed batch, then the
    /// door commands and a reload when door parameters changed. Every command must succeed.
    fn server(&mut self, body: &str) {
        let options = ServerOptions::default();
        let ctx = CommandContext {
            serial: "SEC0001",
            firmware: "Ver 0.1.0",
            ip: "127.0.0.1",
            options: &options,
            zone: self.clock.zone(),
            now_utc_ms: self.clock.now().utc_ms,
            dialect: Dialect::Security,
            door_count: self.controller.door_count(),
            capabilities: None,
        };
        let batch = crate::protocol::command::parse_batch_as(Dialect::Security, body, 200);
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        let effects = self
            .store
            .write(|tx| execute_batch(tx, &ctx, &batch))
            .unwrap();
        let replies = self.store.read(|tx| tx.pending_replies(200)).unwrap();
        for reply in &replies {
            assert!(reply.body.contains("&Return=0&"), "{}", reply.body);
        }
        let seqs: Vec<i64> = replies.iter().map(|r| r.seq).collect();
        self.store.write(|tx| tx.delete_replies(&seqs)).unwrap();
        for command in effects.remote_commands {
            self.controller.command(command).unwrap();
        }
        if effects.access_changed {
            self.controller.reload().unwrap();
        }
    }

    /// `CONTROL DEVICE <args>` from the server.
    fn control(&mut self, args: &str) {
        self.next_cmd += 1;
        let body = format!("C:{}:CONTROL DEVICE {args}\n", self.next_cmd);
        self.server(&body);
    }

    fn input(&mut self, input: ControllerInput) -> Handled {
        self.controller.handle(&input).unwrap()
    }

    fn swipe(&mut self, card: u64, side: Direction) -> Handled {
        self.input(ControllerInput::Credential {
            credential: Credential::Card(card),
            door: 1,
            side,
        })
    }

    fn sensor(&mut self, position: DoorPosition) {
        self.input(ControllerInput::Sensor { door: 1, position });
    }

    /// Runs the timer thread until `at`: the clock moves to each deadline due by then and the
    /// controller ticks there.
    fn run_until(&mut self, at: Mono) {
        for _ in 0..10_000 {
            match self.controller.next_deadline() {
                Some(deadline) if deadline <= at => {
                    self.manual.advance_to(deadline);
                    self.controller.tick().unwrap();
                }
                _ => break,
            }
        }
        self.manual.advance_to(at);
    }

    /// The relay transitions since the last call.
    fn relay_changes(&mut self) -> Vec<RelayChange> {
        let history = self.relays.history();
        let new = history[self.relay_changes_seen..].to_vec();
        self.relay_changes_seen = history.len();
        new
    }

    /// The rtlog lines stored since the last call, as `HH:MM:SS event pin card door in|out
    /// verifytype`. Each line's `index` is its store id and larger than any before.
    fn records(&mut self) -> Vec<String> {
        let rows = self
            .store
            .read(|tx| tx.records_after(StampTable::RtLog, self.last_index, 1000, 1 << 20))
            .unwrap();
        rows.into_iter()
            .map(|(id, line)| {
                let log = RtLog::parse(&line).unwrap();
                assert_eq!(log.index, u64::try_from(id).unwrap(), "{line}");
                assert!(id > self.last_index, "{line}");
                self.last_index = id;
                let side = match log.inoutstatus {
                    InOutStatus::In => "in",
                    InOutStatus::Out => "out",
                };
                format!(
                    "{:02}:{:02}:{:02} {} pin={} card={} door={} {side} verify={}",
                    log.time.hour,
                    log.time.minute,
                    log.time.second,
                    log.event,
                    log.pin,
                    log.cardno,
                    log.eventaddr,
                    log.verifytype
                )
            })
            .collect()
    }

    /// Door 1's `rtstate` slot as the network side reads it.
    fn door1(&self) -> DoorState {
        self.controller.status().door_states().1[0]
    }
}

fn up(at: Mono) -> RelayChange {
    RelayChange {
        at,
        door: 1,
        energised: true,
    }
}

fn down(at: Mono) -> RelayChange {
    RelayChange {
        at,
        door: 1,
        energised: false,
    }
}

fn secs(n: u64) -> Mono {
    T0.plus_secs(n)
}

#[test]
fn a_granted_swipe_releases_the_lock_for_exactly_the_drive_time() {
    let mut rig = Rig::new();
    rig.server(&office());
    let (version_before, _) = rig.controller.status().door_states();

    let handled = rig.swipe(123, Direction::In);
    assert_eq!(handled.indexes, [1]);
    assert_eq!(rig.relay_changes(), [up(T0)]);
    assert!(rig.door1().relay_energised);
    assert!(rig.controller.status().door_states().0 > version_before);
    let line = rig
        .store
        .read(|tx| tx.backlog(StampTable::RtLog, 10, 1 << 20));
    assert_eq!(
        line.unwrap(),
        [(
            1,
            "time=2026-11-23 09:00:00\tpin=1\tcardno=123\tsitecode=0\tlinkid=0\teventaddr=1\t\
             event=0\tinoutstatus=0\tverifytype=4\tindex=1"
                .to_owned()
        )]
    );

    rig.run_until(Mono(secs(3).0 - 1));
    assert_eq!(rig.relay_changes(), []);
    rig.run_until(secs(3));
    assert_eq!(rig.relay_changes(), [down(secs(3))]);
    assert!(!rig.door1().relay_energised);
    assert_eq!(
        rig.records(),
        ["09:00:00 0 pin=1 card=123 door=1 in verify=4"]
    );
}

/// The local time `hh:mm:ss` on the start day, as monotonic time.
fn local(hh: u64, mm: u64, ss: u64) -> Mono {
    // The rig starts at 09:00:00.
    Mono(T0.0 + ((hh * 60 + mm) * 60 + ss) * 1000 - 9 * 3_600_000)
}

#[test]
fn refused_credentials_move_no_relay_and_log_the_reason() {
    let weekdays = weekdays_8_to_18();
    // (what, the server's extra commands, local time, card, record)
    let cases = [
        (
            "outside the authorization's time zone",
            String::new(),
            local(19, 0, 0),
            123,
            "19:00:00 21 pin=1 card=123 door=1 in verify=4",
        ),
        (
            "on a holiday, whose own periods replace the weekday's",
            format!(
                "C:10:DATA UPDATE holiday Holiday=20261123\tHolidayType=1\tLoop=0\n\
                 C:11:DATA UPDATE timezone TimezoneId=1{weekdays}\tHol1Time1={}\n",
                packed(1000, 1100)
            ),
            local(9, 30, 0),
            123,
            "09:30:00 21 pin=1 card=123 door=1 in verify=4",
        ),
        (
            "an extra card reported lost",
            "C:10:DATA UPDATE mulcarduser Pin=1\tCardNo=1C8\tLossCardFlag=1\n".to_owned(),
            local(9, 0, 0),
            456,
            "09:00:00 38 pin=1 card=456 door=1 in verify=4",
        ),
        (
            "the user's own card reported lost",
            "C:10:DATA UPDATE mulcarduser Pin=1\tCardNo=7B\tLossCardFlag=1\n".to_owned(),
            local(9, 0, 0),
            123,
            "09:00:00 38 pin=1 card=123 door=1 in verify=4",
        ),
        (
            "an unknown card",
            String::new(),
            local(9, 0, 0),
            999,
            "09:00:00 27 pin=0 card=999 door=1 in verify=4",
        ),
        (
            "a user without a right to the door",
            "C:10:DATA UPDATE user CardNo=777\tPin=2\tName=Bo\n".to_owned(),
            local(9, 0, 0),
            777,
            "09:00:00 23 pin=2 card=777 door=1 in verify=4",
        ),
    ];
    for (what, setup, at, card, record) in cases {
        let mut rig = Rig::new();
        rig.server(&office());
        rig.server(&setup);
        rig.run_until(at);
        let (version, _) = rig.controller.status().door_states();
        let handled = rig.swipe(card, Direction::In);
        assert_eq!(
            handled.decision.map(|d| d.verdict),
            Some(Verdict::Deny),
            "{what}"
        );
        rig.run_until(at.plus_secs(60));
        assert_eq!(rig.relay_changes(), [], "{what}");
        assert_eq!(rig.records(), [record], "{what}");
        assert_eq!(rig.controller.status().door_states().0, version, "{what}");
    }
}

#[test]
fn a_holiday_opens_the_door_in_its_own_periods() {
    let mut rig = Rig::new();
    rig.server(&office());
    rig.server(&format!(
        "C:10:DATA UPDATE holiday Holiday=20261123\tHolidayType=1\tLoop=0\n\
         C:11:DATA UPDATE timezone TimezoneId=1\tMonTime1={}\tHol1Time1={}\n",
        packed(800, 1800),
        packed(1000, 1100)
    ));
    rig.swipe(123, Direction::In);
    rig.run_until(local(10, 30, 0));
    rig.swipe(123, Direction::In);
    assert_eq!(rig.relay_changes(), [up(local(10, 30, 0)),]);
    assert_eq!(
        rig.records(),
        [
            "09:00:00 21 pin=1 card=123 door=1 in verify=4",
            "10:30:00 0 pin=1 card=123 door=1 in verify=4",
        ]
    );
}

#[test]
fn anti_passback_refuses_a_second_entry_until_the_user_has_left() {
    let mut rig = Rig::new();
    rig.server(&office());
    rig.server("C:10:SET OPTIONS Door1InOutAntiPassback=1\n");
    rig.swipe(123, Direction::In);
    rig.run_until(secs(10));
    rig.swipe(123, Direction::In);
    rig.run_until(secs(20));
    rig.swipe(123, Direction::Out);
    rig.run_until(secs(30));
    rig.swipe(123, Direction::In);
    rig.run_until(secs(40));
    assert_eq!(
        rig.relay_changes(),
        [
            up(T0),
            down(secs(3)),
            up(secs(20)),
            down(secs(23)),
            up(secs(30)),
            down(secs(33)),
        ]
    );
    assert_eq!(
        rig.records(),
        [
            "09:00:00 0 pin=1 card=123 door=1 in verify=4",
            "09:00:10 24 pin=1 card=123 door=1 in verify=4",
            "09:00:20 0 pin=1 card=123 door=1 out verify=4",
            "09:00:30 0 pin=1 card=123 door=1 in verify=4",
        ]
    );
}

/// Door 1 with a normally-open sensor that alarms after 10 s open.
const SENSOR: &str = "C:20:SET OPTIONS Door1SensorType=1,Door1Detectortime=10\n";

#[test]
fn a_door_held_open_alarms_until_the_server_cancels_it() {
    let mut rig = Rig::new();
    rig.server(&office());
    rig.server(SENSOR);
    rig.swipe(123, Direction::In);
    rig.run_until(secs(1));
    rig.sensor(DoorPosition::Open);
    rig.run_until(Mono(secs(11).0 - 1));
    assert_eq!(rig.door1().alarms, AlarmFlags::NONE);
    rig.run_until(secs(11));
    assert_eq!(rig.door1().alarms, AlarmFlags::DOOR_HELD_OPEN);
    rig.run_until(secs(70));
    rig.sensor(DoorPosition::Closed);
    // Latched: closing the door does not clear it.
    assert_eq!(
        rig.door1(),
        DoorState {
            sensor: SensorState::Closed,
            relay_energised: false,
            alarms: AlarmFlags::DOOR_HELD_OPEN
        }
    );
    rig.run_until(secs(80));
    rig.control("02010000");
    assert_eq!(rig.door1().alarms, AlarmFlags::NONE);
    assert_eq!(rig.relay_changes(), [up(T0), down(secs(3))]);
    assert_eq!(
        rig.records(),
        [
            "09:00:00 0 pin=1 card=123 door=1 in verify=4",
            "09:00:01 200 pin=0 card=0 door=1 in verify=200",
            "09:00:11 28 pin=0 card=0 door=1 in verify=200",
            "09:01:10 201 pin=0 card=0 door=1 in verify=200",
            "09:01:20 7 pin=0 card=0 door=1 in verify=200",
        ]
    );
}

#[test]
fn a_door_opened_without_a_grant_is_forced() {
    let mut rig = Rig::new();
    rig.server(&office());
    rig.server(SENSOR);
    rig.sensor(DoorPosition::Open);
    assert_eq!(
        rig.door1(),
        DoorState {
            sensor: SensorState::Open,
            relay_energised: false,
            alarms: AlarmFlags::FORCED_OPEN
        }
    );
    assert_eq!(rig.relay_changes(), []);
    assert_eq!(
        rig.records(),
        [
            "09:00:00 200 pin=0 card=0 door=1 in verify=200",
            "09:00:00 102 pin=0 card=0 door=1 in verify=200",
        ]
    );
}

#[test]
fn the_exit_button_pulses_the_lock_and_tamper_alarms() {
    let mut rig = Rig::new();
    rig.server(&office());
    rig.input(ControllerInput::ExitButton { door: 1 });
    rig.run_until(secs(10));
    rig.input(ControllerInput::Tamper);
    assert_eq!(rig.relay_changes(), [up(T0), down(secs(3))]);
    assert_eq!(rig.door1().alarms, AlarmFlags::TAMPER);
    assert_eq!(
        rig.records(),
        [
            "09:00:00 202 pin=0 card=0 door=1 in verify=200",
            "09:00:10 100 pin=0 card=0 door=1 in verify=200",
        ]
    );
}

#[test]
fn remote_open_lasts_its_seconds_and_remote_close_ends_it() {
    let mut rig = Rig::new();
    rig.server(&office());
    rig.control("01010105");
    rig.run_until(secs(10));
    rig.control("01010105");
    rig.run_until(secs(12));
    rig.control("01010100");
    rig.run_until(secs(30));
    assert_eq!(
        rig.relay_changes(),
        [up(T0), down(secs(5)), up(secs(10)), down(secs(12))]
    );
    assert_eq!(
        rig.records(),
        [
            "09:00:00 8 pin=0 card=0 door=1 in verify=200",
            "09:00:10 8 pin=0 card=0 door=1 in verify=200",
            "09:00:12 9 pin=0 card=0 door=1 in verify=200",
        ]
    );
}

/// Time zone 2: Mondays 09:02–09:03, both minutes included; door 1 keeps open inside it.
fn keep_open(end_hhmm: u32) -> String {
    format!(
        "C:30:DATA UPDATE timezone TimezoneId=2\tMonTime1={}\n\
         C:31:SET OPTIONS Door1KeepOpenTimeZone=2\n",
        packed(902, end_hhmm)
    )
}

#[test]
fn a_keep_open_time_zone_holds_the_door_open_from_its_first_minute_to_past_its_last() {
    let mut rig = Rig::new();
    rig.run_until(secs(20));
    rig.server(&office());
    rig.server(&keep_open(903));
    rig.run_until(local(9, 10, 0));
    assert_eq!(
        rig.relay_changes(),
        [up(local(9, 2, 0)), down(local(9, 4, 0))]
    );
    assert_eq!(
        rig.records(),
        ["09:04:00 204 pin=0 card=0 door=1 in verify=200"]
    );
}

#[test]
fn removing_the_keep_open_time_zone_ends_a_running_window_at_once() {
    let mut rig = Rig::new();
    rig.server(&office());
    rig.server(&keep_open(930));
    rig.run_until(local(9, 5, 0));
    rig.server("C:40:SET OPTIONS Door1KeepOpenTimeZone=0\n");
    rig.run_until(local(9, 10, 0));
    assert_eq!(
        rig.relay_changes(),
        [up(local(9, 2, 0)), down(local(9, 5, 0))]
    );
    assert_eq!(
        rig.records(),
        ["09:05:00 204 pin=0 card=0 door=1 in verify=200"]
    );
}

#[test]
fn a_restart_inside_a_keep_open_window_opens_the_door_at_once() {
    let mut rig = Rig::new();
    rig.server(&office());
    rig.server(&keep_open(930));
    rig.run_until(local(9, 5, 30));
    rig.restart();
    assert_eq!(rig.relay_changes(), [up(local(9, 5, 30))]);
    assert!(rig.door1().relay_energised);
}

#[test]
fn a_first_card_holds_the_door_open_until_its_time_zone_ends() {
    let mut rig = Rig::new();
    rig.server(&office());
    rig.server(&format!(
        "C:60:DATA UPDATE timezone TimezoneId=3\tMonTime1={}\n\
         C:61:DATA UPDATE firstcard DoorID=1\tTimezoneID=3\tPin=1\n\
         C:62:SET OPTIONS Door1FirstCardOpenDoor=1\n",
        packed(900, 905)
    ));
    rig.swipe(123, Direction::In);
    rig.run_until(local(9, 10, 0));
    assert_eq!(rig.relay_changes(), [up(T0), down(local(9, 6, 0))]);
    assert_eq!(
        rig.records(),
        [
            "09:00:00 2 pin=1 card=123 door=1 in verify=4",
            "09:06:00 204 pin=0 card=0 door=1 in verify=200",
        ]
    );
}

/// Relays that note how many records were committed each time a relay moves.
struct CountingRelays {
    inner: SimRelays,
    store: Store,
    committed_at_each_move: Arc<Mutex<Vec<i64>>>,
}

impl Relays for CountingRelays {
    fn set_lock(&mut self, door: DoorId, energised: bool, now: Mono) {
        let committed = self.store.read(|tx| tx.count_all_records()).unwrap();
        self.committed_at_each_move.lock().unwrap().push(committed);
        self.inner.set_lock(door, energised, now);
    }

    fn set_aux_output(&mut self, aux: u8, energised: bool, now: Mono) {
        self.inner.set_aux_output(aux, energised, now);
    }
}

#[test]
fn the_relay_moves_before_the_record_is_committed() {
    let moves = Arc::new(Mutex::new(Vec::new()));
    let seen = moves.clone();
    let mut rig = Rig::with_relays(|inner, path| {
        Box::new(CountingRelays {
            inner,
            store: Store::open(path).unwrap(),
            committed_at_each_move: seen,
        })
    });
    rig.server(&office());
    rig.swipe(123, Direction::In);
    rig.input(ControllerInput::ExitButton { door: 2 });
    assert_eq!(*moves.lock().unwrap(), [0, 1]);
    assert_eq!(rig.store.read(|tx| tx.count_all_records()).unwrap(), 2);
}

/// `n` swipes of an unknown card: one record (27) each. The indexes written, in order.
fn unknown_swipes(rig: &mut Rig, n: usize) -> Vec<i64> {
    (0..n)
        .flat_map(|_| rig.swipe(999, Direction::In).indexes)
        .collect()
}

fn stored_ids(rig: &mut Rig) -> Vec<i64> {
    rig.store
        .read(|tx| tx.records_after(StampTable::RtLog, 0, 1000, 1 << 20))
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

fn capacity_warnings(rig: &mut Rig) -> usize {
    rig.records()
        .iter()
        .filter(|r| r.contains(" 6005 "))
        .count()
}

#[test]
fn the_store_logs_6005_once_at_90_percent_until_it_drops_below() {
    let capacity = RecordCapacity {
        max_records: 20,
        delete_batch: 2,
    };
    let mut rig = Rig::new();
    rig.controller.set_record_capacity(capacity);
    assert_eq!(unknown_swipes(&mut rig, 17), (1..=17).collect::<Vec<_>>());
    assert_eq!(capacity_warnings(&mut rig), 0);
    // The 18th record is 90 %: 6005 follows it in the same commit.
    assert_eq!(unknown_swipes(&mut rig, 1), [18, 19]);
    assert_eq!(
        rig.records(),
        [
            "09:00:00 27 pin=0 card=999 door=1 in verify=4",
            "09:00:00 6005 pin=0 card=0 door=0 in verify=200",
        ]
    );
    // Full, and trimmed to stay so: no second warning, not after a restart either.
    unknown_swipes(&mut rig, 10);
    rig.restart();
    rig.controller.set_record_capacity(capacity);
    unknown_swipes(&mut rig, 5);
    assert_eq!(capacity_warnings(&mut rig), 0);
    assert_eq!(stored_ids(&mut rig).len(), 20);
    // The server empties the table: the count drops below 90 %, so the next crossing warns again.
    rig.server("C:50:DATA DELETE transaction *\n");
    assert_eq!(unknown_swipes(&mut rig, 17).len(), 17);
    assert_eq!(stored_ids(&mut rig).len(), 17);
    assert_eq!(capacity_warnings(&mut rig), 0);
    assert_eq!(unknown_swipes(&mut rig, 1).len(), 2);
    assert_eq!(capacity_warnings(&mut rig), 1);
}

#[test]
fn a_full_store_deletes_its_oldest_records_and_counts_those_the_server_never_had() {
    let mut rig = Rig::new();
    rig.controller.set_record_capacity(RecordCapacity {
        max_records: 20,
        delete_batch: 2,
    });
    let lost = |rig: &mut Rig| rig.store.read(records_lost).unwrap();
    unknown_swipes(&mut rig, 18);
    assert_eq!(stored_ids(&mut rig), (1..=19).collect::<Vec<_>>());
    // The server has record 1.
    rig.store
        .write(|tx| tx.ack_upload(StampTable::RtLog, 1, 1, false, 0))
        .unwrap();
    assert_eq!(unknown_swipes(&mut rig, 1), [20]);
    assert_eq!(lost(&mut rig), 0);
    // Full: DelRecord (2) oldest go, 1 uploaded and 2 not.
    assert_eq!(unknown_swipes(&mut rig, 1), [21]);
    assert_eq!(stored_ids(&mut rig), (3..=21).collect::<Vec<_>>());
    assert_eq!(lost(&mut rig), 1);
    unknown_swipes(&mut rig, 2);
    assert_eq!(stored_ids(&mut rig), (5..=23).collect::<Vec<_>>());
    assert_eq!(lost(&mut rig), 3);
    // The uploader goes on from the oldest record left.
    let backlog = rig
        .store
        .read(|tx| tx.backlog(StampTable::RtLog, 1, 1 << 20));
    assert_eq!(backlog.unwrap()[0].0, 5);
    // Persistent: the counter survives a restart and is in the settings the status reads.
    rig.restart();
    assert_eq!(lost(&mut rig), 3);
}

#[test]
fn the_default_capacity_is_the_configured_default_and_deletes_one_percent() {
    assert_eq!(
        RecordCapacity::default(),
        RecordCapacity {
            max_records: 100_000,
            delete_batch: 1_000
        }
    );
    assert_eq!(RecordCapacity::new(150).delete_batch, 1);
}

fn aux(aux: Option<u8>, action: OutputAction) -> RemoteCommand {
    RemoteCommand::Aux(AuxCommand { aux, action })
}

#[test]
fn a_remote_aux_opening_drives_the_output_for_its_time_and_is_recorded() {
    let mut rig = Rig::new();
    let five = OutputAction::OpenFor(std::num::NonZeroU8::new(5).unwrap());
    let handled = rig.controller.command(aux(Some(2), five)).unwrap();
    assert_eq!(handled.indexes.len(), 1);
    assert_eq!(rig.relays.aux_levels(), [false, true]);
    // The doors' relays are not the aux outputs.
    assert_eq!(rig.relays.levels(), [false, false]);
    assert_eq!(rig.controller.next_deadline(), Some(secs(5)));
    rig.run_until(Mono(secs(5).0 - 1));
    assert_eq!(rig.relays.aux_levels(), [false, true]);
    rig.run_until(secs(5));
    assert_eq!(rig.relays.aux_levels(), [false, false]);
    // Event 12 at aux output 2; the timed end is no event.
    assert_eq!(
        rig.records(),
        ["09:00:00 12 pin=0 card=0 door=2 in verify=200"]
    );
}

#[test]
fn normally_open_aux_outputs_stay_on_until_the_server_closes_them() {
    let mut rig = Rig::new();
    rig.controller
        .command(aux(None, OutputAction::NormallyOpen))
        .unwrap();
    rig.run_until(secs(3600));
    assert_eq!(rig.relays.aux_levels(), [true, true]);
    rig.controller
        .command(aux(Some(1), OutputAction::Close))
        .unwrap();
    assert_eq!(rig.relays.aux_levels(), [false, true]);
    assert_eq!(
        rig.records(),
        [
            "09:00:00 12 pin=0 card=0 door=1 in verify=200",
            "09:00:00 12 pin=0 card=0 door=2 in verify=200",
            "10:00:00 13 pin=0 card=0 door=1 in verify=200",
        ]
    );
}

#[test]
fn aux_input_changes_are_recorded_at_their_input() {
    let mut rig = Rig::new();
    rig.input(ControllerInput::AuxInput {
        aux: 2,
        contact_made: true,
    });
    rig.input(ControllerInput::AuxInput {
        aux: 2,
        contact_made: false,
    });
    assert_eq!(
        rig.records(),
        [
            "09:00:00 221 pin=0 card=0 door=2 in verify=200",
            "09:00:00 220 pin=0 card=0 door=2 in verify=200",
        ]
    );
    // No door moved.
    assert!(rig.relay_changes().is_empty());
}

/// What a reader was showing, and what had happened by then.
#[derive(Debug, PartialEq, Eq)]
struct Shown {
    at: Mono,
    reader: ReaderAt,
    feedback: Feedback,
    /// The relays' levels, door 1 first.
    relays: Vec<bool>,
    /// Records committed.
    committed: i64,
}

/// Readers that note, at each feedback, the relays' levels and the records committed.
struct SpyFeedback {
    relays: SimRelayView,
    store: Store,
    shown: Arc<Mutex<Vec<Shown>>>,
}

impl ReaderFeedback for SpyFeedback {
    fn show(&mut self, reader: ReaderAt, feedback: Feedback, now: Mono) {
        let committed = self.store.read(|tx| tx.count_all_records()).unwrap();
        self.shown.lock().unwrap().push(Shown {
            at: now,
            reader,
            feedback,
            relays: self.relays.levels(),
            committed,
        });
    }
}

/// A rig with the office's rules whose readers are spied on; the device's start is recorded.
fn spied_rig() -> (Rig, Arc<Mutex<Vec<Shown>>>) {
    let mut rig = Rig::new();
    rig.server(&office());
    rig.controller.started().unwrap();
    rig.records();
    let shown = Arc::new(Mutex::new(Vec::new()));
    rig.controller.set_reader_feedback(Box::new(SpyFeedback {
        relays: rig.relays.clone(),
        store: Store::open(&rig.path).unwrap(),
        shown: shown.clone(),
    }));
    (rig, shown)
}

fn door1_reader(side: ReaderSide) -> ReaderAt {
    ReaderAt { door: 1, side }
}

#[test]
fn a_grant_shows_at_the_reader_after_the_relay_moved_and_before_the_record() {
    let (mut rig, shown) = spied_rig();
    rig.run_until(secs(2));
    rig.swipe(123, Direction::Out);
    assert_eq!(
        *shown.lock().unwrap(),
        [Shown {
            at: secs(2),
            reader: door1_reader(ReaderSide::Out),
            feedback: Feedback::Granted,
            relays: vec![true, false],
            committed: 1,
        }],
        "the relay on, only the start record (206) committed"
    );
    assert_eq!(rig.relay_changes(), [up(secs(2))]);
    assert_eq!(
        rig.records(),
        ["09:00:02 0 pin=1 card=123 door=1 out verify=4"]
    );
}

#[test]
fn a_refusal_shows_denied_and_inputs_that_are_no_credential_show_nothing() {
    let (mut rig, shown) = spied_rig();
    rig.swipe(999, Direction::In);
    rig.input(ControllerInput::ExitButton { door: 1 });
    rig.sensor(DoorPosition::Open);
    rig.input(ControllerInput::Tamper);
    // A credential at a door the board lacks is no reader's.
    rig.input(ControllerInput::Credential {
        credential: Credential::Card(123),
        door: 3,
        side: Direction::In,
    });
    assert_eq!(
        *shown.lock().unwrap(),
        [Shown {
            at: T0,
            reader: door1_reader(ReaderSide::In),
            feedback: Feedback::Denied,
            relays: vec![false, false],
            committed: 1,
        }]
    );
    assert_eq!(
        rig.records()[0],
        "09:00:00 27 pin=0 card=999 door=1 in verify=4"
    );
}

#[test]
fn a_bad_wiegand_frame_is_refused_at_its_reader_and_logged_as_event_42() {
    let (mut rig, shown) = spied_rig();
    let (version, _) = rig.controller.status().door_states();
    let handled = rig.input(ControllerInput::BadWiegandFrame {
        door: 1,
        side: Direction::Out,
    });
    assert_eq!(handled.indexes.len(), 1);
    assert_eq!(handled.summary, "door 1: unreadable card (event 42)");
    assert_eq!(
        rig.records(),
        ["09:00:00 42 pin=0 card=0 door=1 out verify=4"]
    );
    assert_eq!(
        *shown.lock().unwrap(),
        [Shown {
            at: T0,
            reader: door1_reader(ReaderSide::Out),
            feedback: Feedback::Denied,
            relays: vec![false, false],
            committed: 1,
        }]
    );
    rig.run_until(secs(60));
    assert_eq!(rig.relay_changes(), []);
    assert_eq!(rig.controller.status().door_states().0, version);
    // At a door the board lacks: nothing.
    let handled = rig.input(ControllerInput::BadWiegandFrame {
        door: 3,
        side: Direction::In,
    });
    assert_eq!(handled.indexes, []);
    assert_eq!(shown.lock().unwrap().len(), 1);
}

#[test]
fn the_sim_readers_show_each_decision_in_order() {
    let mut rig = Rig::new();
    rig.server(&office());
    let readers = SimFeedback::default();
    let view = readers.view();
    rig.controller.set_reader_feedback(Box::new(readers));
    rig.swipe(123, Direction::In);
    rig.run_until(secs(1));
    rig.swipe(999, Direction::Out);
    let shown: Vec<(Mono, ReaderSide, Feedback)> = view
        .shown()
        .iter()
        .map(|s| (s.at, s.reader.side, s.feedback))
        .collect();
    assert_eq!(
        shown,
        [
            (T0, ReaderSide::In, Feedback::Granted),
            (secs(1), ReaderSide::Out, Feedback::Denied)
        ]
    );
}

#[test]
fn reader_events_are_recorded_at_the_readers_door_and_side() {
    let mut rig = Rig::new();
    for event in [
        ReaderEvent::Offline,
        ReaderEvent::Online,
        ReaderEvent::TamperAlarm,
        ReaderEvent::TamperCleared,
    ] {
        rig.input(ControllerInput::Reader {
            door: 2,
            side: Direction::Out,
            event,
        });
    }
    assert_eq!(
        rig.records(),
        [
            "09:00:00 110 pin=0 card=0 door=2 out verify=200",
            "09:00:00 237 pin=0 card=0 door=2 out verify=200",
            "09:00:00 109 pin=0 card=0 door=2 out verify=200",
            "09:00:00 236 pin=0 card=0 door=2 out verify=200",
        ]
    );
    assert!(rig.relay_changes().is_empty());
}

/// A 26-bit frame of `data` (24 bits, first sent first) with its parity: bit 1 even over the
/// first 12 data bits, bit 26 odd over the last 12.
fn wiegand26(data: u32) -> Frame {
    let bits = format!("{:024b}", data & 0xFF_FFFF);
    let ones = |half: &str| half.bytes().filter(|&b| b == b'1').count();
    let even = if ones(&bits[..12]) % 2 == 1 { "1" } else { "0" };
    let odd = if ones(&bits[12..]) % 2 == 0 { "1" } else { "0" };
    format!("{even}{bits}{odd}").parse().unwrap()
}

#[test]
fn a_server_wiegand_format_decides_which_card_a_frame_is_from_then_on() {
    let mut rig = Rig::new();
    rig.server(&office());
    // Card 123 at site 45 on a reader sending ZKTeco's "Wiegand 26a" (8 site bits, 16 card
    // bits). The built-in H10301 reads all 24 bits: 45 × 65536 + 123, no user's card.
    let frame = wiegand26(45 << 16 | 123);
    let door1_in = ReaderAt {
        door: 1,
        side: ReaderSide::In,
    };
    let present = |rig: &mut Rig| {
        let mut reads = ReaderReads::new(rig.controller.reader_tables());
        let read = reads.frame(door1_in, Ok(frame), 0).unwrap();
        rig.input(frame_input(door1_in, read))
    };
    present(&mut rig);
    assert_eq!(rig.relay_changes(), []);

    rig.server(
        "C:20:DATA UPDATE DefaultWGFormat ID=1\tCardBit=26\tFormatName=Wiegand 26a\t\
         CardFormat=pssssssssccccccccccccccccp:eeeeeeeeeeeeeooooooooooooo\n",
    );
    present(&mut rig);
    assert_eq!(rig.relay_changes(), [up(T0)]);

    // Kept in the store: a restarted controller reads the frame the same way.
    rig.restart();
    present(&mut rig);
    assert_eq!(rig.relay_changes(), [up(T0)]);
    assert_eq!(
        rig.records(),
        [
            "09:00:00 27 pin=0 card=2949243 door=1 in verify=4",
            "09:00:00 0 pin=1 card=123 door=1 in verify=4",
            "09:00:00 0 pin=1 card=123 door=1 in verify=4",
        ]
    );
}
