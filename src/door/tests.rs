//! Scenarios on a manual clock: plain `Mono` values, no sleeping. Expected events are App 2 codes
//! [note §7.2]; expected alarm bytes are `rtstate`'s [note §3.2].

use super::*;

const T0: Mono = Mono(1_000_000);

fn at(secs: u64) -> Mono {
    T0.plus_secs(secs)
}

/// NC sensor, 5 s drive, 15 s detector, close-and-lock: the settings most scenarios share.
fn settings() -> DoorSettings {
    DoorSettings {
        drive_secs: 5,
        detector_secs: 15,
        sensor: SensorType::NormallyClosed,
        close_and_lock: true,
        ..DoorSettings::default()
    }
}

fn closed_door(settings: DoorSettings) -> Door {
    Door::new(settings, DoorPosition::Closed, T0)
}

fn codes(output: &Output) -> Vec<u16> {
    output.events.iter().map(|event| event.code()).collect()
}

const OPEN: Input = Input::Sensor(DoorPosition::Open);
const CLOSE: Input = Input::Sensor(DoorPosition::Closed);
const PASS: Input = Input::Grant(Grant::Pass);

fn remote(remote: Remote) -> Input {
    Input::Remote(remote)
}

/// Ticks one millisecond before `deadline` (nothing happens) and at it; returns the latter.
fn tick_exactly_at(door: &mut Door, deadline: Mono) -> Output {
    assert_eq!(door.next_deadline(), Some(deadline));
    let early = door.tick(Mono(deadline.0 - 1));
    assert_eq!(early, Output::default(), "a tick before {deadline:?} fired");
    door.tick(deadline)
}

#[test]
fn grant_releases_the_relay_for_exactly_the_drive_time() {
    for drive_secs in [1u8, 5, 30, 254] {
        let mut door = closed_door(DoorSettings {
            drive_secs,
            ..settings()
        });
        let granted = door.handle(T0, PASS);
        assert_eq!(granted.relay_energised, Some(true), "drive {drive_secs}");
        assert!(granted.events.is_empty(), "the decision logs the pass");
        assert!(granted.state_changed);
        assert!(door.state().relay_energised);

        let relocked = tick_exactly_at(&mut door, at(drive_secs.into()));
        assert_eq!(relocked.relay_energised, Some(false), "drive {drive_secs}");
        assert!(relocked.state_changed);
        assert!(!door.state().relay_energised);
        assert_eq!(door.next_deadline(), None);
    }
}

#[test]
fn grant_with_drive_time_255_latches_until_a_remote_close() {
    let mut door = closed_door(DoorSettings {
        drive_secs: LATCHED_DRIVE_SECS,
        close_and_lock: false,
        ..settings()
    });
    assert_eq!(door.handle(T0, PASS).relay_energised, Some(true));
    assert_eq!(door.next_deadline(), None);
    assert_eq!(door.tick(at(100_000)), Output::default());
    // Latched open: opening and leaving the door open raises nothing.
    assert_eq!(codes(&door.handle(at(1), OPEN)), [200]);
    assert_eq!(door.next_deadline(), None);
    assert_eq!(codes(&door.handle(at(60), CLOSE)), [201]);
    assert!(door.state().relay_energised);

    let closed = door.handle(at(61), remote(Remote::Close));
    assert_eq!(codes(&closed), [9]);
    assert_eq!(closed.relay_energised, Some(false));
}

#[test]
fn latched_pass_relocks_when_the_door_closes_with_close_and_lock() {
    let mut door = closed_door(DoorSettings {
        drive_secs: LATCHED_DRIVE_SECS,
        ..settings()
    });
    door.handle(T0, PASS);
    door.handle(at(1), OPEN);
    let closed = door.handle(at(2), CLOSE);
    assert_eq!(codes(&closed), [201]);
    assert_eq!(closed.relay_energised, Some(false));
}

#[test]
fn pass_relocks_at_the_close_with_close_and_lock() {
    let mut door = closed_door(settings());
    door.handle(T0, PASS);
    let opened = door.handle(at(1), OPEN);
    assert_eq!(codes(&opened), [200], "a released door is not forced");
    assert_eq!(opened.relay_energised, None);
    assert_eq!(door.state().sensor, SensorState::Open);
    assert!(door.is_open());

    let closed = door.handle(Mono(at(2).0 + 500), CLOSE);
    assert_eq!(codes(&closed), [201]);
    assert_eq!(closed.relay_energised, Some(false));
    assert_eq!(door.state().sensor, SensorState::Closed);
    assert_eq!(door.next_deadline(), None);
    assert_eq!(door.state().alarms, AlarmFlags::NONE);
}

#[test]
fn pass_runs_its_full_drive_time_without_close_and_lock() {
    let mut door = closed_door(DoorSettings {
        close_and_lock: false,
        ..settings()
    });
    door.handle(T0, PASS);
    door.handle(at(1), OPEN);
    let closed = door.handle(at(2), CLOSE);
    assert_eq!(codes(&closed), [201]);
    assert_eq!(closed.relay_energised, None);
    assert_eq!(
        tick_exactly_at(&mut door, at(5)).relay_energised,
        Some(false)
    );
}

#[test]
fn second_pass_extends_the_release_and_never_shortens_it() {
    let mut door = closed_door(settings());
    door.handle(T0, PASS);
    assert_eq!(door.handle(at(3), PASS), Output::default());
    assert_eq!(door.next_deadline(), Some(at(8)));
    // A 1 s remote open inside the 5 s pass keeps the pass's end.
    door.handle(at(4), remote(Remote::lock_output(1)));
    assert_eq!(
        tick_exactly_at(&mut door, at(8)).relay_energised,
        Some(false)
    );
}

#[test]
fn held_open_fires_exactly_at_the_detector_time_and_latches_until_cancel() {
    let mut door = closed_door(settings());
    door.handle(T0, PASS);
    door.handle(at(1), OPEN);
    // The pass ends at 5 s; the door stays open.
    assert_eq!(
        tick_exactly_at(&mut door, at(5)).relay_energised,
        Some(false)
    );

    let held = tick_exactly_at(&mut door, at(16));
    assert_eq!(codes(&held), [28]);
    assert!(held.state_changed);
    assert_eq!(door.state().alarms, AlarmFlags::DOOR_HELD_OPEN);
    assert_eq!(door.next_deadline(), None, "28 fires once per opening");

    assert_eq!(codes(&door.handle(at(40), CLOSE)), [201]);
    assert_eq!(door.tick(at(1_000)), Output::default());
    assert_eq!(door.state().alarms, AlarmFlags::DOOR_HELD_OPEN);

    let cancelled = door.handle(at(1_001), remote(Remote::CancelAlarm));
    assert_eq!(codes(&cancelled), [7]);
    assert!(cancelled.state_changed);
    assert_eq!(door.state().alarms, AlarmFlags::NONE);
}

#[test]
fn held_open_alarm_is_off_with_detector_time_zero() {
    let mut door = closed_door(DoorSettings {
        detector_secs: 0,
        ..settings()
    });
    door.handle(T0, PASS);
    door.handle(at(1), OPEN);
    door.tick(at(5));
    assert_eq!(door.next_deadline(), None);
    assert_eq!(door.tick(at(100_000)), Output::default());
    assert_eq!(door.state().alarms, AlarmFlags::NONE);
}

#[test]
fn input_after_a_missed_deadline_fires_the_timer_first() {
    let mut door = closed_door(settings());
    door.handle(T0, PASS);
    door.handle(at(1), OPEN);
    let closed = door.handle(at(30), CLOSE);
    assert_eq!(codes(&closed), [28, 201]);
    assert_eq!(closed.relay_energised, Some(false));
    assert_eq!(door.state().alarms, AlarmFlags::DOOR_HELD_OPEN);
}

#[test]
fn forced_open_logs_102_and_latches_its_bit() {
    let mut door = closed_door(settings());
    let forced = door.handle(at(1), OPEN);
    assert_eq!(codes(&forced), [200, 102]);
    assert_eq!(forced.relay_energised, None);
    assert!(forced.state_changed);
    assert_eq!(door.state().alarms, AlarmFlags::FORCED_OPEN);
    // Forced and then left open: held open too, 15 s after the opening.
    assert_eq!(codes(&tick_exactly_at(&mut door, at(16))), [28]);
    assert_eq!(codes(&door.handle(at(20), CLOSE)), [201]);
    assert_eq!(
        door.state().alarms,
        AlarmFlags::FORCED_OPEN | AlarmFlags::DOOR_HELD_OPEN
    );
    assert_eq!(
        codes(&door.handle(at(21), remote(Remote::CancelAlarm))),
        [7]
    );
    assert_eq!(door.state().alarms, AlarmFlags::NONE);
}

#[test]
fn opening_at_the_instant_the_pass_ends_is_forced() {
    let mut door = closed_door(settings());
    door.handle(T0, PASS);
    let opened = door.handle(at(5), OPEN);
    assert_eq!(codes(&opened), [200, 102]);
    assert_eq!(opened.relay_energised, Some(false));
}

#[test]
fn opening_again_after_close_and_lock_is_forced() {
    let mut door = closed_door(settings());
    door.handle(T0, PASS);
    door.handle(at(1), OPEN);
    door.handle(at(2), CLOSE);
    assert_eq!(codes(&door.handle(at(3), OPEN)), [200, 102]);
}

#[test]
fn exit_button_logs_202_and_pulses_for_the_drive_time() {
    let mut door = closed_door(settings());
    let pressed = door.handle(T0, Input::ExitButton);
    assert_eq!(codes(&pressed), [202]);
    assert_eq!(pressed.relay_energised, Some(true));
    assert_eq!(pressed.events[0].verify_type(), VerifyType::Code(200));
    assert_eq!(codes(&door.handle(at(1), OPEN)), [200]);
    assert_eq!(codes(&door.handle(at(2), CLOSE)), [201]);
    assert!(!door.state().relay_energised);

    let mut untouched = closed_door(settings());
    untouched.handle(T0, Input::ExitButton);
    assert_eq!(
        tick_exactly_at(&mut untouched, at(5)).relay_energised,
        Some(false)
    );
}

#[test]
fn lockdown_refuses_the_exit_button_with_209_until_unlocked() {
    let mut door = closed_door(settings());
    door.handle(T0, PASS);
    let locked = door.handle(at(1), remote(Remote::Lockdown(true)));
    assert_eq!(codes(&locked), [233]);
    assert_eq!(locked.relay_energised, Some(false), "locking ends the pass");
    assert!(door.settings().locked);

    let pressed = door.handle(at(2), Input::ExitButton);
    assert_eq!(codes(&pressed), [209]);
    assert_eq!(pressed.relay_energised, None);
    assert_eq!(door.next_deadline(), None);

    let unlocked = door.handle(at(3), remote(Remote::Lockdown(false)));
    assert_eq!(codes(&unlocked), [234]);
    assert!(!door.settings().locked);
    let pressed = door.handle(at(4), Input::ExitButton);
    assert_eq!(codes(&pressed), [202]);
    assert_eq!(pressed.relay_energised, Some(true));
}

#[test]
fn lockdown_suspends_scheduled_normal_open_but_passes_the_decisions_grants() {
    let mut door = closed_door(settings());
    door.handle(T0, Input::KeepOpenStarted);
    assert!(door.in_normal_open());
    let locked = door.handle(at(1), remote(Remote::Lockdown(true)));
    assert_eq!(locked.relay_energised, Some(false));
    assert!(!door.in_normal_open());
    // Only super users get a grant during lockdown; the door honours it.
    assert_eq!(door.handle(at(2), PASS).relay_energised, Some(true));
    assert_eq!(door.tick(at(7)).relay_energised, Some(false));
    let unlocked = door.handle(at(8), remote(Remote::Lockdown(false)));
    assert_eq!(unlocked.relay_energised, Some(true));
    assert!(door.in_normal_open());
}

#[test]
fn lock_output_byte_maps_to_close_seconds_and_normal_open() {
    let cases = [
        (0x00, Remote::Close),
        (0x01, Remote::OpenFor(NonZeroU8::MIN)),
        (0x05, Remote::OpenFor(NonZeroU8::new(5).unwrap())),
        (0xFE, Remote::OpenFor(NonZeroU8::new(254).unwrap())),
        (0xFF, Remote::NormalOpen),
    ];
    for (dd, expected) in cases {
        assert_eq!(Remote::lock_output(dd), expected, "DD={dd:02X}");
    }
}

#[test]
fn remote_open_releases_for_exactly_n_seconds() {
    let mut door = closed_door(settings());
    // Seed 003 §9.4 example `01010105`: open door 1 for 5 s.
    let opened = door.handle(T0, remote(Remote::lock_output(0x05)));
    assert_eq!(codes(&opened), [8]);
    assert_eq!(opened.relay_energised, Some(true));
    assert_eq!(codes(&door.handle(at(1), OPEN)), [200], "not forced");
    assert_eq!(
        tick_exactly_at(&mut door, at(5)).relay_energised,
        Some(false)
    );
}

#[test]
fn remote_open_then_remote_close_relocks_at_once() {
    let mut door = closed_door(settings());
    door.handle(T0, remote(Remote::lock_output(200)));
    assert_eq!(door.next_deadline(), Some(at(200)));
    let closed = door.handle(at(10), remote(Remote::Close));
    assert_eq!(codes(&closed), [9]);
    assert_eq!(closed.relay_energised, Some(false));
    assert_eq!(door.next_deadline(), None);
}

#[test]
fn remote_normal_open_holds_until_remote_close_without_held_open_alarm() {
    let mut door = closed_door(settings());
    let normal = door.handle(T0, remote(Remote::NormalOpen));
    assert_eq!(codes(&normal), [205]);
    assert_eq!(normal.relay_energised, Some(true));
    assert!(door.in_normal_open());
    assert_eq!(codes(&door.handle(at(1), OPEN)), [200]);
    assert_eq!(door.next_deadline(), None);
    assert_eq!(door.tick(at(100_000)), Output::default());
    // A grant inside normal open changes nothing on the relay.
    assert_eq!(door.handle(at(100_001), PASS).relay_energised, None);

    let closed = door.handle(at(100_010), remote(Remote::Close));
    assert_eq!(codes(&closed), [9]);
    assert_eq!(closed.relay_energised, Some(false));
    assert!(!door.in_normal_open());
    // The door still stands open: the held-open timer starts at the close command.
    assert_eq!(door.next_deadline(), Some(at(100_025)));
}

#[test]
fn keep_open_window_releases_the_door_and_its_end_logs_204() {
    let mut door = closed_door(settings());
    let started = door.handle(T0, Input::KeepOpenStarted);
    assert!(started.events.is_empty());
    assert_eq!(started.relay_energised, Some(true));
    assert!(door.in_normal_open());

    let ended = door.handle(at(3_600), Input::KeepOpenEnded);
    assert_eq!(codes(&ended), [204]);
    assert_eq!(ended.relay_energised, Some(false));
    assert!(!door.in_normal_open());
}

#[test]
fn today_normal_open_disable_and_enable_log_10_and_11() {
    let mut door = closed_door(settings());
    door.handle(T0, Input::KeepOpenStarted);
    let disabled = door.handle(at(1), remote(Remote::TodayNormalOpen(false)));
    assert_eq!(codes(&disabled), [10]);
    assert_eq!(disabled.relay_energised, Some(false));
    assert!(!door.in_normal_open());

    let enabled = door.handle(at(2), remote(Remote::TodayNormalOpen(true)));
    assert_eq!(codes(&enabled), [11]);
    assert_eq!(enabled.relay_energised, Some(true));

    door.handle(at(3), remote(Remote::TodayNormalOpen(false)));
    // The cancelled window ends quietly, and the next one opens the door again.
    assert_eq!(door.handle(at(4), Input::KeepOpenEnded), Output::default());
    assert_eq!(
        door.handle(at(86_400), Input::KeepOpenStarted)
            .relay_energised,
        Some(true)
    );
}

#[test]
fn disabling_today_before_the_window_cancels_that_window() {
    let mut door = closed_door(settings());
    assert_eq!(
        codes(&door.handle(T0, remote(Remote::TodayNormalOpen(false)))),
        [10]
    );
    assert_eq!(
        door.handle(at(1), Input::KeepOpenStarted),
        Output::default()
    );
    assert!(!door.in_normal_open());
}

#[test]
fn remote_close_ends_the_current_keep_open_window() {
    let mut door = closed_door(settings());
    door.handle(T0, Input::KeepOpenStarted);
    let closed = door.handle(at(1), remote(Remote::Close));
    assert_eq!(codes(&closed), [9]);
    assert_eq!(closed.relay_energised, Some(false));
    assert_eq!(door.handle(at(2), Input::KeepOpenEnded), Output::default());
    assert_eq!(
        door.handle(at(3), Input::KeepOpenStarted).relay_energised,
        Some(true)
    );
}

#[test]
fn first_card_grant_latches_until_its_period_ends() {
    let mut door = closed_door(settings());
    let granted = door.handle(T0, Input::Grant(Grant::FirstCardNormalOpen));
    assert_eq!(granted.relay_energised, Some(true));
    assert!(door.in_normal_open());
    assert_eq!(door.next_deadline(), None);
    door.handle(at(1), OPEN);
    assert_eq!(codes(&door.handle(at(2), CLOSE)), [201]);
    assert!(
        door.state().relay_energised,
        "close-and-lock ends passes, not normal open"
    );

    let ended = door.handle(at(30_000), Input::FirstCardPeriodEnded);
    assert_eq!(codes(&ended), [204]);
    assert_eq!(ended.relay_energised, Some(false));
}

#[test]
fn normal_open_ending_with_the_door_open_starts_the_held_open_timer() {
    let mut door = closed_door(settings());
    door.handle(T0, Input::KeepOpenStarted);
    assert_eq!(codes(&door.handle(at(1), OPEN)), [200]);
    assert_eq!(door.next_deadline(), None);
    assert_eq!(codes(&door.handle(at(100), Input::KeepOpenEnded)), [204]);
    assert_eq!(codes(&tick_exactly_at(&mut door, at(115))), [28]);
}

#[test]
fn emergency_dual_on_releases_and_ignores_grants_until_a_remote_close() {
    let mut door = closed_door(settings());
    let on = door.handle(T0, remote(Remote::Emergency(Emergency::DualOn)));
    assert_eq!(codes(&on), [227]);
    assert_eq!(on.relay_energised, Some(true));
    assert_eq!(door.emergency(), Some(Emergency::DualOn));
    assert!(!door.in_normal_open());

    assert_eq!(door.handle(at(1), PASS), Output::default());
    assert_eq!(door.next_deadline(), None);
    assert_eq!(codes(&door.handle(at(2), Input::ExitButton)), [202]);
    assert_eq!(door.next_deadline(), None);
    assert_eq!(codes(&door.handle(at(3), OPEN)), [200]);
    assert_eq!(
        door.tick(at(10_000)),
        Output::default(),
        "no held-open alarm"
    );

    let closed = door.handle(at(10_001), remote(Remote::Close));
    assert_eq!(codes(&closed), [9]);
    assert_eq!(closed.relay_energised, Some(false));
    assert_eq!(door.emergency(), None);
}

#[test]
fn emergency_dual_off_locks_refuses_grants_and_exit_until_a_remote_open() {
    let mut door = closed_door(settings());
    door.handle(T0, Input::KeepOpenStarted);
    let off = door.handle(at(1), remote(Remote::Emergency(Emergency::DualOff)));
    assert_eq!(codes(&off), [228]);
    assert_eq!(off.relay_energised, Some(false));

    assert_eq!(door.handle(at(2), PASS), Output::default());
    let pressed = door.handle(at(3), Input::ExitButton);
    assert_eq!(codes(&pressed), [209]);
    assert_eq!(pressed.relay_energised, None);
    assert_eq!(codes(&door.handle(at(4), OPEN)), [200, 102]);
    door.handle(at(5), CLOSE);

    // Dual-on replaces dual-off.
    let on = door.handle(at(6), remote(Remote::Emergency(Emergency::DualOn)));
    assert_eq!(codes(&on), [227]);
    assert_eq!(on.relay_energised, Some(true));
    door.handle(at(7), remote(Remote::Emergency(Emergency::DualOff)));

    let opened = door.handle(at(8), remote(Remote::lock_output(3)));
    assert_eq!(codes(&opened), [8]);
    assert_eq!(opened.relay_energised, Some(true));
    assert_eq!(door.emergency(), None);
    assert_eq!(
        tick_exactly_at(&mut door, at(11)).relay_energised,
        None,
        "the keep-open window still holds the door"
    );
}

#[test]
fn tamper_logs_100_and_sets_the_tamper_bit_until_cancel() {
    let mut door = closed_door(settings());
    let tampered = door.handle(T0, Input::Tamper);
    assert_eq!(codes(&tampered), [100]);
    assert!(tampered.state_changed);
    assert_eq!(tampered.relay_energised, None);
    // The seed's `alarm=02…` byte for door 1 [seed 003 §7.3].
    assert_eq!(door.state().alarms, AlarmFlags(0x02));
    assert_eq!(door.tick(at(100_000)), Output::default());
    assert_eq!(
        codes(&door.handle(at(100_001), remote(Remote::CancelAlarm))),
        [7]
    );
    assert_eq!(door.state().alarms, AlarmFlags::NONE);
}

#[test]
fn a_duress_pass_latches_the_duress_bit_until_cancel() {
    let mut door = closed_door(settings());
    let duress = door.handle(T0, Input::DuressAlarm);
    assert!(duress.state_changed);
    assert!(codes(&duress).is_empty(), "the decision logs 101 itself");
    assert_eq!(door.state().alarms, AlarmFlags::DURESS_PASSWORD);
    assert_eq!(
        codes(&door.handle(at(1_000), remote(Remote::CancelAlarm))),
        [7]
    );
    assert_eq!(door.state().alarms, AlarmFlags::NONE);
}

#[test]
fn sensor_type_none_ignores_edges_and_reports_no_sensor() {
    let mut door = closed_door(DoorSettings {
        sensor: SensorType::None,
        ..settings()
    });
    assert_eq!(door.state().sensor, SensorState::NoSensor);
    assert_eq!(door.handle(at(1), OPEN), Output::default());
    assert_eq!(door.state().sensor, SensorState::NoSensor);
    assert!(!door.is_open(), "without a sensor only the relay tells");
    assert_eq!(door.tick(at(100)), Output::default());
    assert_eq!(door.next_deadline(), None);
    assert_eq!(door.state().alarms, AlarmFlags::NONE);

    door.handle(at(101), PASS);
    assert!(door.is_open());
    assert_eq!(door.handle(at(102), CLOSE), Output::default());
    assert_eq!(
        tick_exactly_at(&mut door, at(106)).relay_energised,
        Some(false)
    );
}

#[test]
fn repeated_sensor_reading_is_not_an_edge() {
    let mut door = closed_door(settings());
    assert_eq!(door.handle(at(1), CLOSE), Output::default());
    door.handle(at(2), PASS);
    door.handle(at(3), OPEN);
    assert_eq!(door.handle(at(4), OPEN), Output::default());
}

#[test]
fn door_open_at_start_is_watched_for_held_open_without_events() {
    let mut door = Door::new(settings(), DoorPosition::Open, T0);
    assert_eq!(door.state().sensor, SensorState::Open);
    assert_eq!(door.state().alarms, AlarmFlags::NONE);
    assert_eq!(codes(&tick_exactly_at(&mut door, at(15))), [28]);
}

#[test]
fn new_detector_time_applies_to_the_running_timer() {
    let mut door = closed_door(settings());
    door.handle(T0, OPEN);
    assert_eq!(door.next_deadline(), Some(at(15)));
    let changed = door.set_settings(
        at(1),
        DoorSettings {
            detector_secs: 30,
            ..settings()
        },
    );
    assert_eq!(changed, Output::default());
    assert_eq!(codes(&tick_exactly_at(&mut door, at(30))), [28]);
}

#[test]
fn switching_the_sensor_type_off_shows_no_sensor_in_rtstate() {
    let mut door = closed_door(settings());
    let changed = door.set_settings(
        T0,
        DoorSettings {
            sensor: SensorType::None,
            ..settings()
        },
    );
    assert_eq!(changed.relay_energised, None);
    assert!(changed.state_changed);
    assert_eq!(door.state().sensor, SensorState::NoSensor);
}

#[test]
fn drive_time_zero_releases_nothing() {
    let mut door = closed_door(DoorSettings {
        drive_secs: 0,
        ..settings()
    });
    assert_eq!(door.handle(T0, PASS), Output::default());
    assert_eq!(codes(&door.handle(at(1), Input::ExitButton)), [202]);
    assert!(!door.state().relay_energised);
    assert_eq!(door.next_deadline(), None);
}
