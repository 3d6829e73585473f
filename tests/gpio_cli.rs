//! The binary with GPIO board files on the host: `check-config --board` checks the lines against
//! the running system, and `run` refuses a board whose lines are missing. CI machines have no
//! GPIO at all (CONFIG_GPIOLIB off); the lines themselves are exercised in the QEMU test.

mod support;

use std::path::Path;
use std::process::ExitStatus;
use support::{run_cli, write_config, write_security_config};

fn board(name: &str) -> String {
    format!("{}/board/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Whether this machine has a GPIO character device at all.
/// `push-agent --config CONFIG check-config --board BOARD`.
fn check_config(config: &Path, board: &str) -> (ExitStatus, String, String) {
    run_cli(&[
        "--config",
        config.to_str().expect("a UTF-8 path"),
        "check-config",
        "--board",
        board,
    ])
}

fn has_gpio_chip() -> bool {
    std::fs::read_dir("/dev").is_ok_and(|dir| {
        dir.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("gpiochip"))
    })
}

const QEMU_LINES: [(&str, &str); 10] = [
    ("board.tamper", "TAMPER"),
    ("door[1].lock", "LOCK1"),
    ("door[1].sensor", "DOOR1"),
    ("door[1].exit_button", "EXIT1"),
    ("door[1].readers[1].wiegand.d0", "WG1_D0"),
    ("door[1].readers[1].wiegand.d1", "WG1_D1"),
    ("door[1].readers[1].led", "WG1_LED"),
    ("door[1].readers[1].buzzer", "WG1_BEEP"),
    ("aux_in[1].line", "AUX_IN1"),
    ("aux_out[1].line", "AUX_OUT1"),
];

/// The lines of board/qemu-virt.toml, reported missing as check-config and run report them.
fn assert_reports_every_line_missing(stderr: &str) {
    let headline = if has_gpio_chip() {
        "push-agent: bad configuration: board qemu-virt: 10 of the board's 10 GPIO lines are \
         missing or unusable here:"
    } else {
        "push-agent: bad configuration: board qemu-virt: this system has no GPIO chip (no \
         /dev/gpiochip*: the kernel needs CONFIG_GPIOLIB and CONFIG_GPIO_CDEV), so none of the \
         board's 10 GPIO lines exists here:"
    };
    assert!(stderr.contains(headline), "{stderr}");
    for (key, name) in QEMU_LINES {
        let line = format!("\n  {key} (\"{name}\"): no line has this name");
        assert!(stderr.contains(&line), "{line} in {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn check_config_names_every_missing_line_and_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_security_config(dir.path(), "http://127.0.0.1:9");
    let qemu = board("qemu-virt.toml");
    let (status, stdout, stderr) = check_config(&config, &qemu);
    assert_eq!(status.code(), Some(78), "{stderr}");
    assert_reports_every_line_missing(&stderr);
    // The parsed board is still shown, for the operator to compare.
    assert!(stdout.contains("driver = \"gpio\""), "{stdout}");
}

#[test]
fn run_refuses_a_gpio_board_whose_lines_are_missing() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_security_config(dir.path(), "http://127.0.0.1:9");
    let qemu = board("qemu-virt.toml");
    let (status, _, stderr) = run_cli(&["--config", config.to_str().unwrap(), "--board", &qemu]);
    assert_eq!(status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("cannot start: board qemu-virt: "),
        "{stderr}"
    );
    for (key, name) in QEMU_LINES {
        assert!(stderr.contains(&format!("{key} (\"{name}\")")), "{stderr}");
    }
}

#[test]
fn the_attendance_dialect_is_refused_on_a_gpio_board() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9", "");
    let qemu = board("qemu-virt.toml");
    for command in ["check-config", "run"] {
        let (status, _, stderr) = run_cli(&[
            "--config",
            config.to_str().unwrap(),
            "--board",
            &qemu,
            command,
        ]);
        assert_eq!(status.code(), Some(78), "{command}: {stderr}");
        assert!(
            stderr.contains(
                "board qemu-virt: the attendance dialect runs on the simulated board only \
                 (driver = \"sim\"); a gpio board needs dialect = \"security\""
            ),
            "{command}: {stderr}"
        );
    }
}

#[test]
fn check_config_shows_a_reference_board_with_its_reader_keys_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_security_config(dir.path(), "http://127.0.0.1:9");
    let four = board("ref-aarch64-4door.toml");
    let (status, stdout, stderr) = check_config(&config, &four);
    assert_eq!(status.code(), Some(78), "no such lines here: {stderr}");
    assert!(stdout.contains("scbk = \"<redacted>\""), "{stdout}");
    assert!(!stdout.contains("303132"), "{stdout}");
    assert!(!stderr.contains("303132"), "{stderr}");
    assert!(
        stderr.contains("door[3].lock (/dev/gpiochip3 offset 0): no GPIO chip there: "),
        "{stderr}"
    );
    assert!(
        stderr.contains("rs485[2].de (\"RS485_2_DE\"): no line has this name"),
        "{stderr}"
    );
}

#[test]
fn a_bad_board_file_exits_78_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_security_config(dir.path(), "http://127.0.0.1:9");
    let path = dir.path().join("board.toml");
    std::fs::write(
        &path,
        "[board]\nname = \"b\"\ndriver = \"gpio\"\nopkg_arch = \"all\"\n[[door]]\nreaders = []\n",
    )
    .unwrap();
    let (status, _, stderr) = check_config(&config, path.to_str().unwrap());
    assert_eq!(status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: key `door[1].lock`: missing: a gpio board drives every door's lock relay",
            path.display()
        )),
        "{stderr}"
    );
}

#[test]
fn check_config_names_a_missing_rs485_port_with_the_missing_lines() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_security_config(dir.path(), "http://127.0.0.1:9");
    let missing = dir.path().join("ttyNONE");
    let path = dir.path().join("board.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[board]
name = "osdp-test"
driver = "gpio"
opkg_arch = "aarch64_cortex-a53"

[[door]]
lock = "LOCK1"
readers = ["in", "out"]

[[rs485]]
port = "/dev/null"
mode = "kernel"
readers = [{{ address = 1, door = 1, side = "in" }}]

[[rs485]]
port = "{}"
mode = "kernel"
readers = [{{ address = 1, door = 1, side = "out" }}]
"#,
            missing.display()
        ),
    )
    .unwrap();
    let (status, stdout, stderr) = check_config(&config, path.to_str().unwrap());
    assert_eq!(status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("door[1].lock (\"LOCK1\")"), "{stderr}");
    let port_problem = format!(
        "1 of the board's 2 RS485 ports are missing here:\n  rs485[2].port: {}: ",
        missing.display()
    );
    assert!(stderr.contains(&port_problem), "{stderr}");
    assert!(!stderr.contains("rs485[1].port"), "{stderr}");
    assert!(
        stdout.contains("# rs485[1].port /dev/null is here"),
        "{stdout}"
    );
}
