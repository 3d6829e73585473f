use super::*;
use crate::config::{ConfigError, SIM_BOARD, load_board};

fn board_file(name: &str) -> String {
    format!("{}/board/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Parses and validates a board file's text as `load_board` does, named `b.toml`.
fn load_text(text: &str) -> Result<BoardConfig, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.toml");
    std::fs::write(&path, text).unwrap();
    load_board(path.to_str().unwrap()).map_err(|e| ConfigError {
        file: PathBuf::from("b.toml"),
        ..e
    })
}

const GPIO_HEADER: &str = "[board]\nname = \"t\"\ndriver = \"gpio\"\nopkg_arch = \"all\"\n";

/// A gpio board of `rest` (doors, buses, more board keys).
fn gpio(rest: &str) -> String {
    format!("{GPIO_HEADER}{rest}")
}

/// A one-door gpio board with a Wiegand reader on WG_D0/WG_D1; `extra` goes into the door.
fn one_door(extra: &str) -> String {
    gpio(&format!(
        "[[door]]\nlock = \"LOCK1\"\n{extra}\nreaders = [{{ side = \"in\", wiegand = {{ d0 = \
         \"WG_D0\", d1 = \"WG_D1\" }} }}]\n"
    ))
}

/// Loads `text`, which must be refused at `key` for `reason`; the error.
fn assert_refused(text: &str, key: &str, reason: &str) -> ConfigError {
    let e = load_text(text).unwrap_err();
    assert_eq!(
        (e.key.as_deref(), e.reason.as_str()),
        (Some(key), reason),
        "{text}"
    );
    e
}

/// [`one_door`] with aux tables after it.
fn with_aux(tables: &str) -> String {
    format!("{}{tables}\n", one_door(""))
}

#[test]
fn the_reference_boards_load() {
    let qemu = load_board(&board_file("qemu-virt.toml")).unwrap();
    assert_eq!(qemu.board.driver, BoardDriver::Gpio);
    assert_eq!(qemu.board.opkg_arch, "arm_cortex-a15_neon-vfpv4");
    let keys: Vec<(String, String)> = qemu
        .lines()
        .iter()
        .map(|l| (l.key.clone(), l.spec.at.to_string()))
        .collect();
    let expected = [
        ("board.tamper", "\"TAMPER\""),
        ("door[1].lock", "\"LOCK1\""),
        ("door[1].sensor", "\"DOOR1\""),
        ("door[1].exit_button", "\"EXIT1\""),
        ("door[1].readers[1].wiegand.d0", "\"WG1_D0\""),
        ("door[1].readers[1].wiegand.d1", "\"WG1_D1\""),
        ("door[1].readers[1].led", "\"WG1_LED\""),
        ("door[1].readers[1].buzzer", "\"WG1_BEEP\""),
        ("aux_in[1].line", "\"AUX_IN1\""),
        ("aux_out[1].line", "\"AUX_OUT1\""),
    ];
    assert_eq!(
        keys,
        expected.map(|(k, a)| (k.to_owned(), a.to_owned())),
        "the lines the QEMU test creates"
    );

    let one = load_board(&board_file("ref-armv7-1door.toml")).unwrap();
    assert_eq!(one.board.opkg_arch, "arm_cortex-a7_neon-vfpv4");
    assert_eq!((one.doors.len(), one.reader_count()), (1, 1));
    assert_eq!(one.doors[0].sensor_type, Some(SensorContact::Nc));

    let four = load_board(&board_file("ref-aarch64-4door.toml")).unwrap();
    assert_eq!(four.board.opkg_arch, "aarch64_cortex-a53");
    assert_eq!((four.doors.len(), four.reader_count()), (4, 8));
    assert_eq!(four.rs485.len(), 2);
    assert_eq!(four.rs485[1].mode, Rs485Mode::DeGpio);
    assert_eq!(four.rs485[1].baud.get(), 115_200);
    let lock3 = four.doors[2].lock.as_ref().unwrap();
    assert_eq!(
        lock3.at,
        LineAt::Chip {
            chip: PathBuf::from("/dev/gpiochip3"),
            offset: 0
        }
    );
    let wiegand = four.doors[0].readers[0].wiegand.as_ref().unwrap();
    assert!(wiegand.d0.active_low && wiegand.d0.debounce_ms.is_none());
}

#[test]
fn every_board_file_round_trips_through_check_config_output() {
    for name in [
        "sim.toml",
        "qemu-virt.toml",
        "ref-armv7-1door.toml",
        "ref-aarch64-4door.toml",
    ] {
        let board = load_board(&board_file(name)).unwrap();
        let shown = toml::to_string(&board).unwrap();
        if name == "ref-aarch64-4door.toml" {
            assert!(!shown.contains("303132"), "the SCBK is shown: {shown}");
            assert!(shown.contains("scbk = \"<redacted>\""), "{shown}");
            continue; // a redacted key does not parse back
        }
        let again = load_text(&shown).unwrap();
        assert_eq!(again, board, "{name}:\n{shown}");
    }
}

#[test]
fn the_sim_board_is_unchanged() {
    let sim = load_board("sim").unwrap();
    assert_eq!(sim.board.driver, BoardDriver::Sim);
    assert_eq!(sim.doors.len(), 2);
    assert!(sim.lines().is_empty() && sim.rs485.is_empty());
    for door in &sim.doors {
        assert_eq!(
            door.readers,
            [ReaderSide::In, ReaderSide::Out].map(ReaderConfig::side_only)
        );
    }
    let shown = toml::to_string(&sim).unwrap();
    assert!(
        shown.contains("readers = [\"in\", \"out\"]") && !shown.contains("lock"),
        "{shown}"
    );
    assert_eq!(
        SIM_BOARD,
        std::fs::read_to_string(board_file("sim.toml")).unwrap()
    );
}

#[test]
fn a_line_is_a_name_or_a_chip_and_offset_with_its_settings() {
    let board = load_text(&one_door(
        "sensor = { chip = \"/dev/gpiochip2\", offset = 7, active_low = true, bias = \
         \"pull-down\", debounce_ms = 0 }\nexit_button = \"EXIT\"",
    ))
    .unwrap();
    let door = &board.doors[0];
    assert_eq!(
        door.lock,
        Some(LineSpec {
            at: LineAt::Named("LOCK1".into()),
            active_low: false,
            bias: None,
            debounce_ms: None,
        })
    );
    assert_eq!(
        door.sensor,
        Some(LineSpec {
            at: LineAt::Chip {
                chip: PathBuf::from("/dev/gpiochip2"),
                offset: 7
            },
            active_low: true,
            bias: Some(Bias::PullDown),
            debounce_ms: Some(0),
        })
    );
    assert_eq!(door.sensor_type, None, "the server's SensorType applies");
}

#[test]
fn malformed_lines_are_refused_with_their_line_and_key() {
    let cases = [
        (
            "lock = { name = \"A\", chip = \"/dev/gpiochip0\", offset = 1 }",
            "b.toml:6: key `door.lock`: give a line's `name`, or its `chip` and `offset`, not both",
        ),
        (
            "lock = { chip = \"/dev/gpiochip0\" }",
            "b.toml:6: key `door.lock`: `chip` and `offset` go together",
        ),
        (
            "lock = { active_low = true }",
            "b.toml:6: key `door.lock`: a line needs `name`, or `chip` and `offset`",
        ),
        (
            "lock = \" \"",
            "b.toml:6: key `door.lock`: a line name cannot be empty",
        ),
        (
            "lock = 5",
            "b.toml:6: key `door.lock`: invalid type: integer `5`, expected a string or a table",
        ),
        (
            "lock = { name = \"L\", debounce_ms = 1001 }",
            "b.toml:6: key `door.lock`: debounce_ms = 1001 is outside 0..=1000",
        ),
        (
            "lock = { name = \"L\", pull = \"up\" }",
            "b.toml:6: key `door.lock`: unknown field `pull`, expected one of `name`, `chip`, \
             `offset`, `active_low`, `bias`, `debounce_ms`",
        ),
        (
            "lock = { name = \"L\", bias = \"up\" }",
            "b.toml:6: key `door.lock`: unknown variant `up`, expected one of `pull-up`, \
             `pull-down`, `disabled`",
        ),
        (
            "lock = \"L\"\nreaders = [\"up\"]",
            "b.toml:7: key `door.readers`: unknown variant `up`, expected `in` or `out`",
        ),
        (
            "lock = \"L\"\nsensor = \"S\"\nsensor_type = \"normal\"",
            "b.toml:8: key `door.sensor_type`: unknown variant `normal`, expected `no` or `nc`",
        ),
    ];
    for (door, expected) in cases {
        let e = load_text(&gpio(&format!("[[door]]\n{door}\n"))).unwrap_err();
        assert_eq!(e.to_string(), expected, "{door}");
    }
}

#[test]
fn whole_file_checks_name_the_key_and_the_reason() {
    let wiegand_on_rs485 = gpio(
        "[[door]]\nlock = \"L\"\nreaders = [{ side = \"in\", wiegand = { d0 = \"A\", d1 = \"B\" \
         } }]\n[[rs485]]\nport = \"/dev/ttyS1\"\nmode = \"kernel\"\nreaders = [{ address = 1, \
         door = 1, side = \"in\" }]\n",
    );
    let bus = |bus: &str, readers: &str| {
        gpio(&format!(
            "[[door]]\nlock = \"L\"\nreaders = [\"in\", \"out\"]\n[[rs485]]\n{bus}\nreaders = \
             [{readers}]\n"
        ))
    };
    let cases = [
        (
            gpio("[[door]]\nreaders = []\n"),
            "door[1].lock",
            "missing: a gpio board drives every door's lock relay",
        ),
        (
            one_door("exit_button = \"LOCK1\""),
            "door[1].exit_button",
            "line \"LOCK1\" is also door[1].lock",
        ),
        (
            gpio(
                "[[door]]\nlock = \"L1\"\nreaders = []\n[[door]]\nlock = { chip = \"/dev/c\", \
                 offset = 1 }\nreaders = []\n[[door]]\nlock = { chip = \"/dev/c\", offset = 1 \
                 }\nreaders = []\n",
            ),
            "door[3].lock",
            "line /dev/c offset 1 is also door[2].lock",
        ),
        (
            one_door("exit_button = \"WG_D1\""),
            "door[1].readers[1].wiegand.d1",
            "line \"WG_D1\" is also door[1].exit_button: a Wiegand line carries nothing else",
        ),
        (
            gpio(
                "[[door]]\nlock = \"L\"\nreaders = [{ side = \"in\", wiegand = { d0 = \"A\", d1 \
                 = \"A\" } }]\n",
            ),
            "door[1].readers[1].wiegand.d1",
            "line \"A\" is also door[1].readers[1].wiegand.d0: a Wiegand line carries nothing \
             else",
        ),
        (
            gpio(&format!(
                "tamper = \"WG_D0\"\n{}",
                one_door("").trim_start_matches(GPIO_HEADER)
            )),
            "door[1].readers[1].wiegand.d0",
            "line \"WG_D0\" is also board.tamper: a Wiegand line carries nothing else",
        ),
        (
            gpio(
                "[[door]]\nlock = \"L\"\nreaders = [{ side = \"in\", wiegand = { d0 = { name = \
                 \"A\", debounce_ms = 5 }, d1 = \"B\" } }]\n",
            ),
            "door[1].readers[1].wiegand.d0",
            "a Wiegand line is never debounced: debounce would swallow its 20-100 us pulses",
        ),
        (
            one_door("").replace("\"LOCK1\"", "{ name = \"LOCK1\", debounce_ms = 20 }"),
            "door[1].lock",
            "debounce_ms applies to contact inputs only (sensor, exit_button, tamper, aux_in)",
        ),
        (
            one_door("").replace("\"LOCK1\"", "{ name = \"LOCK1\", bias = \"pull-up\" }"),
            "door[1].lock",
            "bias applies to inputs only",
        ),
        (
            one_door("sensor_type = \"nc\""),
            "door[1].sensor_type",
            "sensor_type without a sensor line",
        ),
        (
            gpio(
                "[[door]]\nlock = \"L\"\nreaders = [{ side = \"in\", wiegand = { d0 = \"A\", d1 = \"B\" } }, \"in\"]\n",
            ),
            "door[1].readers",
            "side `in` has two readers",
        ),
        (
            gpio("[[door]]\nlock = \"L\"\nreaders = [\"out\"]\n"),
            "door[1].readers[1]",
            "the `out` reader has no wiegand lines and no [[rs485]] reader",
        ),
        (
            "[board]\nname = \"t\"\ndriver = \"sim\"\nopkg_arch = \"all\"\n[[door]]\nlock = \
             \"L\"\n"
                .to_owned(),
            "door[1].lock",
            "the sim driver has no GPIO lines (driver = \"gpio\" drives them)",
        ),
        (
            wiegand_on_rs485,
            "rs485[1].readers[1].side",
            "door 1 in is a Wiegand reader already",
        ),
        (
            bus(
                "port = \"/dev/ttyS1\"\nmode = \"de-gpio\"",
                "{ address = 1, door = 1, side = \"in\" }",
            ),
            "rs485[1].de",
            "missing: mode = \"de-gpio\" needs the driver-enable line",
        ),
        (
            bus(
                "port = \"/dev/ttyS1\"\nmode = \"kernel\"\nde = \"DE\"",
                "{ address = 1, door = 1, side = \"in\" }",
            ),
            "rs485[1].de",
            "mode = \"kernel\" switches the transceiver itself; remove `de` or set mode = \
             \"de-gpio\"",
        ),
        (
            bus("port = \"/dev/ttyS1\"\nmode = \"kernel\"", ""),
            "rs485[1].readers",
            "a bus needs a reader",
        ),
        (
            bus(
                "port = \"/dev/ttyS1\"\nmode = \"kernel\"",
                "{ address = 3, door = 1, side = \"in\" }, { address = 3, door = 1, side = \
                 \"out\" }",
            ),
            "rs485[1].readers[2].address",
            "address 3 is also rs485[1].readers[1]'s",
        ),
        (
            bus(
                "port = \"/dev/ttyS1\"\nmode = \"kernel\"",
                "{ address = 1, door = 2, side = \"in\" }",
            ),
            "rs485[1].readers[1].door",
            "door 2 does not exist (the board has 1)",
        ),
        (
            gpio(
                "[[door]]\nlock = \"L\"\nreaders = [\"in\"]\n[[rs485]]\nport = \
                 \"/dev/ttyS1\"\nmode = \"kernel\"\nreaders = [{ address = 1, door = 1, side = \
                 \"in\" }, { address = 2, door = 1, side = \"out\" }]\n",
            ),
            "rs485[1].readers[2].side",
            "door[1].readers has no `out` reader",
        ),
        (
            bus(
                "port = \"/dev/ttyS1\"\nmode = \"kernel\"",
                "{ address = 1, door = 1, side = \"in\" }, { address = 2, door = 1, side = \
                 \"in\" }",
            ),
            "rs485[1].readers[2].side",
            "door 1 in is served by rs485[1].readers[1].side already",
        ),
        (
            gpio(
                "[[door]]\nlock = \"L\"\nreaders = [\"in\", \"out\"]\n[[rs485]]\nport = \
                 \"/dev/ttyS1\"\nmode = \"kernel\"\nreaders = [{ address = 1, door = 1, side = \
                 \"in\" }]\n[[rs485]]\nport = \"/dev/ttyS1\"\nmode = \"kernel\"\nreaders = [{ \
                 address = 1, door = 1, side = \"out\" }]\n",
            ),
            "rs485[2].port",
            "/dev/ttyS1 is also rs485[1].port",
        ),
        (
            with_aux("[[aux_in]]\nline = \"AUX1\"\n[[aux_out]]\nline = \"AUX1\""),
            "aux_out[1].line",
            "line \"AUX1\" is also aux_in[1].line",
        ),
        (
            with_aux("[[aux_out]]\nline = { name = \"AUX1\", bias = \"pull-up\" }"),
            "aux_out[1].line",
            "bias applies to inputs only",
        ),
        (
            with_aux("[[aux_out]]\nline = { name = \"AUX1\", debounce_ms = 20 }"),
            "aux_out[1].line",
            "debounce_ms applies to contact inputs only (sensor, exit_button, tamper, aux_in)",
        ),
        (
            GPIO_HEADER.replace("gpio", "sim") + "[[door]]\n[[aux_in]]\nline = \"AUX1\"\n",
            "aux_in[1].line",
            "the sim driver has no GPIO lines (driver = \"gpio\" drives them)",
        ),
    ];
    for (text, key, reason) in cases {
        let e = assert_refused(&text, key, reason);
        assert_eq!(e.to_string(), format!("b.toml: key `{key}`: {reason}"));
    }
}

#[test]
fn rs485_values_are_checked_while_parsing() {
    let bus = |line: &str| {
        gpio(&format!(
            "[[door]]\nlock = \"L\"\nreaders = [\"in\"]\n[[rs485]]\nport = \"/dev/ttyS1\"\nmode \
             = \"kernel\"\n{line}\n"
        ))
    };
    let reader = |fields: &str| {
        bus(&format!(
            "readers = [{{ door = 1, side = \"in\", {fields} }}]"
        ))
    };
    let cases = [
        (
            bus("baud = 9601\nreaders = [{ address = 1, door = 1, side = \"in\" }]"),
            "rs485.baud",
            "9601 is not an OSDP speed (9600, 19200, 38400, 57600, 115200, 230400)",
        ),
        (
            reader("address = 127"),
            "rs485.readers",
            "127 is outside 0..=126",
        ),
        (
            reader("address = 1, scbk = \"0011\""),
            "rs485.readers",
            "must be 32 hex digits (16 bytes), got 4 characters",
        ),
        (
            reader("address = 1, scbk = \"G0112233445566778899AABBCCDDEEFF\""),
            "rs485.readers",
            "must be 32 hex digits (16 bytes), got 32 characters",
        ),
    ];
    for (text, key, reason) in cases {
        assert_refused(&text, key, reason);
    }
    let ok = load_text(&reader(
        "address = 0, scbk = \"00112233445566778899aabbccddeeff\"",
    ))
    .unwrap();
    let bus = &ok.rs485[0];
    assert_eq!(bus.baud.get(), defaults::RS485_BAUD);
    let scbk = bus.readers[0].scbk.as_ref().unwrap();
    assert_eq!(
        scbk.bytes(),
        [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff
        ]
    );
    assert_eq!(format!("{scbk:?}"), "<redacted>");
}

#[test]
fn lines_lists_every_role_once_in_file_order() {
    let board = load_board(&board_file("ref-aarch64-4door.toml")).unwrap();
    let lines = board.lines();
    let count = |kind: LineKind| lines.iter().filter(|l| l.role.kind() == kind).count();
    // 4 locks, 4 reader LEDs/buzzers (2 Wiegand readers × 2), a DE line and an aux output; 4
    // sensors, 4 buttons, the tamper input and 2 aux inputs; 2 readers × 2 data lines.
    assert_eq!(count(LineKind::Output), 4 + 4 + 1 + 1);
    assert_eq!(count(LineKind::Contact), 4 + 4 + 1 + 2);
    assert_eq!(count(LineKind::Wiegand), 4);
    let reader = ReaderAt {
        door: 2,
        side: ReaderSide::In,
    };
    assert!(
        lines
            .iter()
            .any(|l| l.key == "door[2].readers[1].wiegand.d1"
                && l.role == LineRole::Wiegand(reader, WiegandWire::D1))
    );
    let tail: Vec<(&str, LineRole)> = lines[lines.len() - 4..]
        .iter()
        .map(|l| (l.key.as_str(), l.role))
        .collect();
    assert_eq!(
        tail,
        [
            ("rs485[2].de", LineRole::Rs485De(2)),
            ("aux_in[1].line", LineRole::AuxIn(1)),
            ("aux_in[2].line", LineRole::AuxIn(2)),
            ("aux_out[1].line", LineRole::AuxOut(1)),
        ]
    );
}
