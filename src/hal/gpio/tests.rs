use super::inputs::{IDLE_WAIT, WIEGAND_FRAME_GAP};
use super::*;
use crate::access::Credential;
use crate::access::model::Direction;
use crate::config::board::{ReaderSide, SensorContact, WiegandWire};
use crate::config::{ConfigError, load_board};
use crate::door::DoorPosition;
use crate::hal::keypad::Password;
use crate::hal::reads::{FrameRead, frame_input};
use gpiocdev::line::{EdgeEvent, EdgeKind};
use std::collections::HashMap;
use std::path::Path;

/// A system with these chips, each a path and its lines' names by offset.
struct FakeChips(Vec<(&'static str, Vec<&'static str>)>);

impl GpioSystem for FakeChips {
    fn chips(&self) -> Result<Vec<PathBuf>, String> {
        Ok(self.0.iter().map(|(path, _)| PathBuf::from(path)).collect())
    }

    fn find_named_lines(&self, wanted: &[&str]) -> HashMap<String, LineAddress> {
        wanted
            .iter()
            .filter_map(|name| {
                self.0.iter().find_map(|(path, names)| {
                    let offset = names.iter().position(|n| n == name)?;
                    let address = LineAddress {
                        chip: PathBuf::from(path),
                        offset: u32::try_from(offset).unwrap(),
                    };
                    Some(((*name).to_owned(), address))
                })
            })
            .collect()
    }

    fn chip(&self, path: &Path) -> Result<ChipLines, String> {
        self.0
            .iter()
            .find(|(p, _)| Path::new(p) == path)
            .map(|(p, names)| ChipLines {
                path: PathBuf::from(p),
                lines: u32::try_from(names.len()).unwrap(),
            })
            .ok_or_else(|| "no GPIO chip there".to_owned())
    }
}

/// The QEMU test's gpio-sim bank, after the virt board's PL061.
fn qemu_system() -> FakeChips {
    FakeChips(vec![
        ("/dev/gpiochip0", vec![""; 8]),
        (
            "/dev/gpiochip1",
            vec![
                "LOCK1", "DOOR1", "EXIT1", "TAMPER", "WG1_D0", "WG1_D1", "WG1_LED", "WG1_BEEP",
                "AUX_IN1", "AUX_OUT1",
            ],
        ),
    ])
}

fn board_file(name: &str) -> BoardConfig {
    load_board(&format!("{}/board/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn board_text(text: &str) -> Result<BoardConfig, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.toml");
    std::fs::write(&path, text).unwrap();
    load_board(path.to_str().unwrap())
}

#[test]
fn finds_the_qemu_boards_lines_by_name() {
    let board = board_file("qemu-virt.toml");
    let found = resolve_lines(&board, &qemu_system()).unwrap();
    let addresses: Vec<(&str, String)> = found
        .iter()
        .map(|r| (r.line.key.as_str(), r.address.to_string()))
        .collect();
    assert_eq!(
        addresses,
        [
            ("board.tamper", "/dev/gpiochip1 offset 3"),
            ("door[1].lock", "/dev/gpiochip1 offset 0"),
            ("door[1].sensor", "/dev/gpiochip1 offset 1"),
            ("door[1].exit_button", "/dev/gpiochip1 offset 2"),
            ("door[1].readers[1].wiegand.d0", "/dev/gpiochip1 offset 4"),
            ("door[1].readers[1].wiegand.d1", "/dev/gpiochip1 offset 5"),
            ("door[1].readers[1].led", "/dev/gpiochip1 offset 6"),
            ("door[1].readers[1].buzzer", "/dev/gpiochip1 offset 7"),
            ("aux_in[1].line", "/dev/gpiochip1 offset 8"),
            ("aux_out[1].line", "/dev/gpiochip1 offset 9"),
        ]
        .map(|(k, a)| (k, a.to_owned()))
    );
}

#[test]
fn a_system_without_gpio_chips_is_named_as_such() {
    let board = board_file("qemu-virt.toml");
    let e = resolve_lines(&board, &FakeChips(vec![])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "this system has no GPIO chip (no /dev/gpiochip*: the kernel needs CONFIG_GPIOLIB and \
         CONFIG_GPIO_CDEV), so none of the board's 10 GPIO lines exists here:\n  \
         board.tamper (\"TAMPER\"): no line has this name\n  \
         door[1].lock (\"LOCK1\"): no line has this name\n  \
         door[1].sensor (\"DOOR1\"): no line has this name\n  \
         door[1].exit_button (\"EXIT1\"): no line has this name\n  \
         door[1].readers[1].wiegand.d0 (\"WG1_D0\"): no line has this name\n  \
         door[1].readers[1].wiegand.d1 (\"WG1_D1\"): no line has this name\n  \
         door[1].readers[1].led (\"WG1_LED\"): no line has this name\n  \
         door[1].readers[1].buzzer (\"WG1_BEEP\"): no line has this name\n  \
         aux_in[1].line (\"AUX_IN1\"): no line has this name\n  \
         aux_out[1].line (\"AUX_OUT1\"): no line has this name"
    );
}

#[test]
fn says_which_lines_are_missing_or_unusable() {
    let board = board_text(
        "[board]\nname = \"t\"\ndriver = \"gpio\"\nopkg_arch = \"all\"\n\
         [[door]]\nlock = \"LOCK1\"\nsensor = \"NOPE\"\n\
         exit_button = { chip = \"/dev/gpiochip1\", offset = 10 }\n\
         readers = [{ side = \"in\", wiegand = { d0 = \"WG1_D0\", d1 = { chip = \
         \"/dev/gpiochip0\", offset = 2 } } }]\n\
         [[door]]\nlock = { chip = \"/dev/gpiochip1\", offset = 0 }\n\
         exit_button = { chip = \"/dev/gpiochip9\", offset = 0 }\nreaders = []\n",
    )
    .unwrap();
    let e = resolve_lines(&board, &qemu_system()).unwrap_err();
    assert_eq!((e.lines, e.no_chips.as_deref()), (7, None));
    assert_eq!(
        e.to_string(),
        "5 of the board's 7 GPIO lines are missing or unusable here:\n  \
         door[1].sensor (\"NOPE\"): no line has this name\n  \
         door[1].exit_button (/dev/gpiochip1 offset 10): the chip has only 10 lines\n  \
         door[1].readers[1].wiegand.d1 (/dev/gpiochip0 offset 2): on /dev/gpiochip0, but \
         door[1].readers[1].wiegand.d0 is on /dev/gpiochip1: a reader's D0 and D1 must share a \
         chip\n  \
         door[2].lock (/dev/gpiochip1 offset 0): /dev/gpiochip1 offset 0 is also door[1].lock\n  \
         door[2].exit_button (/dev/gpiochip9 offset 0): no GPIO chip there"
    );
}

#[test]
fn the_real_system_lookup_reports_a_missing_line_without_panicking() {
    // On a machine without GPIO (like CI) every lookup fails cleanly; with GPIO the name is
    // still unlikely to exist.
    let board = board_file("qemu-virt.toml");
    let system = LinuxGpio;
    assert_eq!(
        system
            .find_named_lines(&["push-agent-no-such-line"])
            .get("push-agent-no-such-line"),
        None
    );
    assert!(system.chip(Path::new("/dev/null")).is_err());
    if let Err(e) = resolve_lines(&board, &system) {
        assert_eq!(e.lines, 10);
    }
}

const DOOR: u8 = 1;
const SENSOR: Offset = 1;
const EXIT: Offset = 2;
const TAMPER: Offset = 3;
const D0: Offset = 4;
const D1: Offset = 5;
const D0_B: Offset = 6;

fn reader(door: DoorId) -> ReaderAt {
    ReaderAt {
        door,
        side: ReaderSide::In,
    }
}

fn tracker(contact: Option<SensorContact>) -> InputTracker {
    InputTracker::new([
        (
            SENSOR,
            InputRole::Sensor {
                door: DOOR,
                contact,
            },
        ),
        (EXIT, InputRole::ExitButton(DOOR)),
        (TAMPER, InputRole::Tamper),
        (D0, InputRole::Wiegand(reader(1), WiegandWire::D0)),
        (D1, InputRole::Wiegand(reader(1), WiegandWire::D1)),
        (D0_B, InputRole::Wiegand(reader(2), WiegandWire::D0)),
    ])
}

fn edge(offset: Offset, rising: bool, timestamp_ns: u64, line_seqno: u32) -> EdgeEvent {
    EdgeEvent {
        timestamp_ns,
        kind: if rising {
            EdgeKind::Rising
        } else {
            EdgeKind::Falling
        },
        offset,
        seqno: line_seqno,
        line_seqno,
    }
}

fn server_says(sensor: SensorType) -> impl Fn(DoorId) -> SensorType {
    move |_| sensor
}

fn sensor(position: DoorPosition) -> InputStep {
    InputStep::Controller(ControllerInput::Sensor {
        door: DOOR,
        position,
    })
}

#[test]
fn the_levels_at_start_give_the_door_position_and_a_tamper_already_in_alarm() {
    let mut t = tracker(Some(SensorContact::Nc));
    assert_eq!(t.contacts().collect::<Vec<_>>(), [SENSOR, EXIT, TAMPER]);
    let none = server_says(SensorType::None);
    // The NC contact is open (door open), the exit button held, the tamper switch in alarm.
    assert_eq!(
        t.start(&[(SENSOR, false), (EXIT, true), (TAMPER, true)], &none),
        [
            sensor(DoorPosition::Open),
            InputStep::Controller(ControllerInput::Tamper)
        ]
    );
    // The held button's release is no press; the next press is.
    assert_eq!(t.edge(&edge(EXIT, false, 10, 1), &none), []);
    assert_eq!(
        t.edge(&edge(EXIT, true, 20, 2), &none),
        [InputStep::Controller(ControllerInput::ExitButton {
            door: DOOR
        })]
    );
    let mut t = tracker(Some(SensorContact::Nc));
    assert_eq!(
        t.start(&[(SENSOR, true), (EXIT, false), (TAMPER, false)], &none),
        [sensor(DoorPosition::Closed)]
    );
}

#[test]
fn contact_edges_become_inputs_once_per_change() {
    let mut t = tracker(Some(SensorContact::No));
    let none = server_says(SensorType::None);
    t.start(&[(SENSOR, false), (EXIT, false), (TAMPER, false)], &none);
    let steps: Vec<Vec<InputStep>> = [
        edge(SENSOR, true, 100, 1),
        // Reported again after the first read, or a repeat: no change, nothing.
        edge(SENSOR, true, 110, 2),
        edge(SENSOR, false, 200, 3),
        edge(TAMPER, true, 300, 1),
        edge(TAMPER, false, 400, 2),
        edge(EXIT, false, 500, 1),
        // An edge on a line the request does not know.
        edge(40, true, 600, 1),
    ]
    .iter()
    .map(|e| t.edge(e, &none))
    .collect();
    assert_eq!(
        steps,
        [
            vec![sensor(DoorPosition::Open)],
            vec![],
            vec![sensor(DoorPosition::Closed)],
            vec![InputStep::Controller(ControllerInput::Tamper)],
            vec![],
            vec![],
            vec![],
        ]
    );
}

#[test]
fn an_aux_input_reports_each_change_but_not_its_level_at_start() {
    const AUX: Offset = 9;
    let mut t = InputTracker::new([(AUX, InputRole::AuxIn(2))]);
    let none = server_says(SensorType::None);
    assert_eq!(t.contacts().collect::<Vec<_>>(), [AUX]);
    assert_eq!(t.start(&[(AUX, true)], &none), []);
    let aux = |contact_made| {
        vec![InputStep::Controller(ControllerInput::AuxInput {
            aux: 2,
            contact_made,
        })]
    };
    let steps: Vec<Vec<InputStep>> = [
        edge(AUX, true, 100, 1),
        edge(AUX, false, 200, 2),
        edge(AUX, true, 300, 3),
    ]
    .iter()
    .map(|e| t.edge(e, &none))
    .collect();
    assert_eq!(steps, [vec![], aux(false), aux(true)]);
}

#[test]
fn a_sensor_without_wiring_in_the_board_follows_the_servers_sensor_type() {
    let mut t = tracker(None);
    let levels = [(SENSOR, true), (EXIT, false), (TAMPER, false)];
    assert_eq!(
        t.start(&levels, &server_says(SensorType::None)),
        [],
        "no sensor: the contact is not a door position"
    );
    assert_eq!(
        t.edge(
            &edge(SENSOR, false, 10, 1),
            &server_says(SensorType::NormallyClosed)
        ),
        [sensor(DoorPosition::Open)]
    );
    assert_eq!(
        t.edge(
            &edge(SENSOR, true, 20, 2),
            &server_says(SensorType::NormallyOpen)
        ),
        [sensor(DoorPosition::Open)]
    );
}

#[test]
fn door_position_follows_the_contact_and_its_wiring() {
    let cases = [
        (SensorType::NormallyClosed, true, Some(DoorPosition::Closed)),
        (SensorType::NormallyClosed, false, Some(DoorPosition::Open)),
        (SensorType::NormallyOpen, true, Some(DoorPosition::Open)),
        (SensorType::NormallyOpen, false, Some(DoorPosition::Closed)),
        (SensorType::None, true, None),
        (SensorType::None, false, None),
    ];
    for (sensor, made, position) in cases {
        assert_eq!(door_position(sensor, made), position, "{sensor:?} {made}");
    }
}

fn wiegand(reader: ReaderAt, wire: WiegandWire, edge: PulseEdge, ns: u64, seqno: u32) -> InputStep {
    InputStep::Wiegand(WiegandEdge {
        reader,
        wire,
        edge,
        timestamp_ns: ns,
        seqno,
    })
}

#[test]
fn wiegand_edges_go_to_the_decoder_and_a_gap_ends_the_frame() {
    let mut t = tracker(None);
    let none = server_says(SensorType::None);
    let gap = u64::try_from(WIEGAND_FRAME_GAP.as_nanos()).unwrap();
    assert_eq!(t.wait(), IDLE_WAIT);
    // A 0 then a 1: 50 us pulses 1 ms apart (active = inside the pulse).
    let t0 = 1_000_000_000;
    let pulses = [
        (D0, true, t0, 1),
        (D0, false, t0 + 50_000, 2),
        (D1, true, t0 + 1_000_000, 1),
        (D1, false, t0 + 1_050_000, 2),
    ];
    let steps: Vec<InputStep> = pulses
        .iter()
        .flat_map(|&(line, rising, ns, seq)| t.edge(&edge(line, rising, ns, seq), &none))
        .collect();
    let r1 = reader(1);
    assert_eq!(
        steps,
        [
            wiegand(r1, WiegandWire::D0, PulseEdge::Start, t0, 1),
            wiegand(r1, WiegandWire::D0, PulseEdge::End, t0 + 50_000, 2),
            wiegand(r1, WiegandWire::D1, PulseEdge::Start, t0 + 1_000_000, 1),
            wiegand(r1, WiegandWire::D1, PulseEdge::End, t0 + 1_050_000, 2),
        ]
    );
    assert_eq!(t.wait(), WIEGAND_FRAME_GAP, "a frame is open");
    // Reader 2 starts just under the gap after reader 1's last edge: reader 1's frame goes on.
    let last = t0 + 1_050_000;
    assert_eq!(
        t.edge(&edge(D0_B, true, last + gap - 1, 1), &none),
        [wiegand(
            reader(2),
            WiegandWire::D0,
            PulseEdge::Start,
            last + gap - 1,
            1
        )]
    );
    // Reader 2's next edge comes a full gap after reader 1's last: reader 1's frame ended first.
    assert_eq!(
        t.edge(&edge(D0_B, false, last + gap, 2), &none),
        [
            InputStep::FrameEnd(r1),
            wiegand(reader(2), WiegandWire::D0, PulseEdge::End, last + gap, 2)
        ]
    );
    // The wait for reader 2's next edge timed out: its frame ended too.
    assert_eq!(t.quiet(), [InputStep::FrameEnd(reader(2))]);
    assert_eq!(t.wait(), IDLE_WAIT);
    assert_eq!(t.quiet(), []);
}

#[test]
fn a_frame_becomes_a_card_or_event_42_at_its_readers_door_and_side() {
    let out = ReaderAt {
        door: 3,
        side: ReaderSide::Out,
    };
    assert_eq!(
        frame_input(out, FrameRead::Card(123_456)),
        ControllerInput::Credential {
            credential: Credential::Card(123_456),
            door: 3,
            side: Direction::Out,
        }
    );
    assert_eq!(
        frame_input(
            out,
            FrameRead::Refused(wiegand::WiegandError::UnknownLength { bits: 25 })
        ),
        ControllerInput::BadWiegandFrame {
            door: 3,
            side: Direction::Out,
        }
    );
}

/// The edges of `bits` on a reader's lines: 50 µs pulses every 2 ms, from `start_ns`; each line's
/// sequence numbers go on from `seqnos`, and `skip_seqno` drops one (edges lost in the kernel).
fn pulses(
    bits: &str,
    start_ns: u64,
    seqnos: &mut [u32; 2],
    skip_seqno: Option<usize>,
) -> Vec<WiegandEdge> {
    let mut out = Vec::new();
    for (i, bit) in bits.chars().enumerate() {
        let (wire, slot) = if bit == '1' {
            (WiegandWire::D1, 1)
        } else {
            (WiegandWire::D0, 0)
        };
        let at = start_ns + i as u64 * 2_000_000;
        for (edge, ns) in [(PulseEdge::Start, at), (PulseEdge::End, at + 50_000)] {
            seqnos[slot] += 1;
            if skip_seqno == Some(i) && edge == PulseEdge::Start {
                seqnos[slot] += 1;
            }
            out.push(WiegandEdge {
                reader: reader(1),
                wire,
                edge,
                timestamp_ns: ns,
                seqno: seqnos[slot],
            });
        }
    }
    out
}

#[test]
fn a_readers_edges_decode_to_its_card_and_bad_frames_are_refused() {
    use wiegand::WiegandError;
    // 26-bit H10301, FC 123 CN 4567: card 123 × 65536 + 4567 (see the decoder's tests).
    const FRAME: &str = "10111101100010001110101110";
    let card = FrameRead::Card(8_065_495);
    let mut decoder = ReaderDecoder::new(reader(1), SharedReaderTables::default());
    let mut seqnos = [0; 2];
    let mut frame = |decoder: &mut ReaderDecoder, bits: &str, at: u64, skip| {
        for edge in pulses(bits, at, &mut seqnos, skip) {
            decoder.edge(&edge);
        }
        decoder.frame_end()
    };
    let first = frame(&mut decoder, FRAME, 1_000_000_000, None);
    assert_eq!(first, std::slice::from_ref(&card));
    assert_eq!(decoder.frame_end(), [], "a frame is presented once");
    assert_eq!(
        frame(&mut decoder, FRAME, 2_000_000_000, Some(7)),
        [FrameRead::Refused(WiegandError::EventsLost)]
    );
    // The lines are in step again: the next frame reads.
    assert_eq!(frame(&mut decoder, FRAME, 3_000_000_000, None), [card]);
    // One bit short: no format of 25 bits.
    assert_eq!(
        frame(&mut decoder, &FRAME[..25], 4_000_000_000, None),
        [FrameRead::Refused(WiegandError::UnknownLength { bits: 25 })]
    );
    // The last bit flipped: the odd parity over the second half fails.
    let flipped = format!("{}1", &FRAME[..25]);
    assert!(
        matches!(
            frame(&mut decoder, &flipped, 5_000_000_000, None)[..],
            [FrameRead::Refused(WiegandError::Parity { bits: 26, .. })]
        ),
        "parity"
    );
    // Keypad bursts (4-bit, MSB first): 4, 2, then # submits "42" as a typed password.
    let keys: Vec<Vec<FrameRead>> = [("0100", 6), ("0010", 7), ("1011", 8)]
        .into_iter()
        .map(|(burst, second)| frame(&mut decoder, burst, second * 1_000_000_000, None))
        .collect();
    assert_eq!(
        keys,
        [
            vec![],
            vec![],
            vec![FrameRead::Typed(Password("42".into()))]
        ]
    );
    assert_eq!(
        frame_input(reader(1), FrameRead::Typed(Password("42".into()))),
        ControllerInput::Credential {
            credential: Credential::Password("42".into()),
            door: 1,
            side: Direction::In,
        }
    );
}

/// The levels set on fake indicator lines, each with the line's name, in order.
type LevelLog = Arc<std::sync::Mutex<Vec<(&'static str, bool)>>>;

/// An indicator line that notes each level it is set to.
struct FakeIndicator {
    name: &'static str,
    log: LevelLog,
    fail: bool,
}

impl IndicatorLine for FakeIndicator {
    /// Notes the level asked for; then fails if the line is gone.
    fn set(&mut self, active: bool) -> Result<(), String> {
        self.log.lock().unwrap().push((self.name, active));
        if self.fail {
            return Err("line gone".to_owned());
        }
        Ok(())
    }
}

/// A driver for door 1's inside reader (LED and buzzer) and door 2's inside reader (a buzzer
/// only), and the levels set on them.
fn indicator_driver() -> (IndicatorDriver, LevelLog) {
    let log = LevelLog::default();
    let line = |name| {
        Box::new(FakeIndicator {
            name,
            log: log.clone(),
            fail: false,
        }) as Box<dyn IndicatorLine>
    };
    let driver = IndicatorDriver::new([
        (
            (reader(1), Indicator::Led),
            "door[1].readers[1].led".to_owned(),
            line("led1"),
        ),
        (
            (reader(1), Indicator::Buzzer),
            "door[1].readers[1].buzzer".to_owned(),
            line("buzzer1"),
        ),
        (
            (reader(2), Indicator::Buzzer),
            "door[2].readers[1].buzzer".to_owned(),
            line("buzzer2"),
        ),
    ]);
    (driver, log)
}

/// Steps `driver` from change to change until every pattern is over: each change's time, after
/// `start`, and the levels set then.
fn play_out(
    driver: &mut IndicatorDriver,
    log: &LevelLog,
    start: Mono,
) -> Vec<(u64, Vec<(&'static str, bool)>)> {
    let mut changes = Vec::new();
    for _ in 0..100 {
        let Some(at) = driver.next_change() else {
            return changes;
        };
        driver.step(at);
        let set = std::mem::take(&mut *log.lock().unwrap());
        changes.push((at.0 - start.0, set));
    }
    panic!("the patterns never end: {changes:?}");
}

#[test]
fn a_grant_lights_the_led_for_a_second_with_one_short_beep() {
    let (mut driver, log) = indicator_driver();
    assert_eq!(driver.next_change(), None, "nothing to show");
    let t0 = Mono(5_000);
    driver.show(reader(1), Feedback::Granted, t0);
    assert_eq!(
        play_out(&mut driver, &log, t0),
        [
            (0, vec![("led1", true), ("buzzer1", true)]),
            (150, vec![("buzzer1", false)]),
            (1000, vec![("led1", false)]),
        ]
    );
}

#[test]
fn a_refusal_beeps_three_times_and_leaves_the_led_alone() {
    let (mut driver, log) = indicator_driver();
    let t0 = Mono(5_000);
    driver.show(reader(1), Feedback::Denied, t0);
    let beep = |on| vec![("buzzer1", on)];
    assert_eq!(
        play_out(&mut driver, &log, t0),
        [
            (0, beep(true)),
            (100, beep(false)),
            (200, beep(true)),
            (300, beep(false)),
            (400, beep(true)),
            (500, beep(false)),
        ]
    );
}

#[test]
fn a_new_feedback_replaces_the_one_under_way_and_readers_are_independent() {
    let (mut driver, log) = indicator_driver();
    let t0 = Mono(5_000);
    driver.show(reader(1), Feedback::Granted, t0);
    driver.show(reader(2), Feedback::Granted, t0);
    driver.step(t0);
    driver.step(t0.plus_millis(150));
    log.lock().unwrap().clear();
    // A refused card at door 1 within the green second: red at once, three beeps; door 2's
    // reader (a buzzer only) is done.
    let t1 = t0.plus_millis(300);
    driver.show(reader(1), Feedback::Denied, t1);
    let changes = play_out(&mut driver, &log, t0);
    assert_eq!(
        changes[0],
        (300, vec![("led1", false), ("buzzer1", true)]),
        "{changes:?}"
    );
    assert_eq!(changes.last(), Some(&(800, vec![("buzzer1", false)])));
    assert!(
        changes
            .iter()
            .flat_map(|(_, set)| set)
            .all(|(line, _)| *line == "buzzer1" || *line == "led1"),
        "{changes:?}"
    );
    // A reader without lines here (an OSDP reader, say) shows nothing and is not waited for.
    driver.show(reader(3), Feedback::Granted, t1);
    assert_eq!(driver.next_change(), None);
    assert_eq!(driver.readers(), [reader(1), reader(2)]);
}

#[test]
fn a_late_step_sets_the_levels_due_then_and_release_turns_everything_off() {
    let (mut driver, log) = indicator_driver();
    let t0 = Mono(5_000);
    driver.show(reader(1), Feedback::Granted, t0);
    // The thread woke late, after the beep: only the LED goes on.
    driver.step(t0.plus_millis(400));
    assert_eq!(*log.lock().unwrap(), [("led1", true)]);
    assert_eq!(driver.next_change(), Some(t0.plus_millis(1000)));
    driver.release();
    assert_eq!(*log.lock().unwrap(), [("led1", true), ("led1", false)]);
    assert_eq!(driver.next_change(), None);
}

#[test]
fn a_line_that_cannot_be_set_does_not_stall_the_patterns() {
    let log = LevelLog::default();
    let mut driver = IndicatorDriver::new([(
        (reader(1), Indicator::Led),
        "door[1].readers[1].led".to_owned(),
        Box::new(FakeIndicator {
            name: "led1",
            log: log.clone(),
            fail: true,
        }) as Box<dyn IndicatorLine>,
    )]);
    let t0 = Mono(5_000);
    driver.show(reader(1), Feedback::Granted, t0);
    driver.step(t0);
    driver.step(t0.plus_millis(500));
    assert_eq!(
        *log.lock().unwrap(),
        [("led1", true), ("led1", true)],
        "asked again at the next step: the first did not take"
    );
    driver.step(t0.plus_millis(1000));
    assert_eq!(
        driver.next_change(),
        None,
        "the pattern is over all the same"
    );
}

#[test]
fn the_feedback_thread_plays_the_pattern_without_holding_up_the_caller() {
    let (driver, log) = indicator_driver();
    let clock = Arc::new(DeviceClock::new(
        Box::new(crate::clock::SystemTimeSource::new()),
        0,
        crate::protocol::options::UtcOffset(0),
    ));
    let mut feedback = GpioFeedback::start(driver, clock.clone()).unwrap();
    let started = crate::clock::MonoStopwatch::start();
    feedback.show(reader(2), Feedback::Denied, clock.now().mono);
    assert!(started.elapsed() < Duration::from_millis(50), "show waited");
    let expected = [true, false, true, false, true, false].map(|on| ("buzzer2", on));
    while log.lock().unwrap().len() < expected.len() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(*log.lock().unwrap(), expected);
    // A grant, then the agent stops during it: the lines go inactive.
    feedback.show(reader(1), Feedback::Granted, clock.now().mono);
    while log.lock().unwrap().len() < expected.len() + 2 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(feedback);
    let log = log.lock().unwrap();
    assert_eq!(
        log[expected.len()..expected.len() + 2],
        [("led1", true), ("buzzer1", true)]
    );
    for line in ["led1", "buzzer1"] {
        let last = log.iter().rev().find(|(name, _)| *name == line);
        assert_eq!(last, Some(&(line, false)), "{log:?}");
    }
}
