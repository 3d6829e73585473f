//! The RS485 port of a bus, through serial2: 8N1 at the board's speed, raw, no flow control. The
//! transceiver's direction is switched by the UART driver (`mode = "kernel"`, TIOCSRS485 through
//! serial2's `rs4xx` feature) or by the agent around each write (`mode = "de-gpio"`: the `de` line
//! active, the bytes written, the output drained with tcdrain, the line inactive). The drain
//! returns once the last byte left the shift register on most UARTs; OSDP's 200 ms reply window
//! leaves room for the rest.
//!
//! LibOSDP polls the port without blocking ([`Channel::read`] returns at once), and takes a fresh
//! [`Channel`] each time the bus's control panel is built; every channel shares the one open port.

use crate::config::BoardConfig;
use crate::config::board::{Rs485Bus, Rs485Mode};
use gpiocdev::Request;
use gpiocdev::line::Value;
use libosdp::{Channel, ChannelError};
use serial2::{CharSize, FlowControl, Parity, SerialPort, Settings, StopBits};
use std::io::ErrorKind;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Why a bus's port could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("cannot open {port}: {source}")]
    Open {
        port: String,
        source: std::io::Error,
    },
    #[error("cannot configure {port} ({baud} baud, 8N1, raw): {source}")]
    Configure {
        port: String,
        baud: u32,
        source: std::io::Error,
    },
}

/// An open bus port, and its driver-enable line in `de-gpio` mode.
#[derive(Clone)]
pub struct BusPort {
    port: Arc<SerialPort>,
    de: Option<Arc<Request>>,
    name: Arc<str>,
    /// Set while writes fail, so a failing port is logged once.
    failing: Arc<AtomicBool>,
}

impl BusPort {
    /// Opens `bus.port` at its speed. With `mode = "kernel"` the UART is put in RS485 mode unless
    /// it is already; a driver that refuses is logged, not fatal (serial2 notes that ports fixed
    /// in RS485 mode by hardware often refuse the request). `de` is the bus's driver-enable line,
    /// requested as an output (inactive), for `mode = "de-gpio"`.
    pub fn open(bus: &Rs485Bus, de: Option<Request>) -> Result<BusPort, PortError> {
        let name = bus.port.display().to_string();
        let baud = bus.baud.get();
        let mut port = SerialPort::open(&bus.port, |mut s: Settings| {
            s.set_raw();
            s.set_baud_rate(baud)?;
            s.set_char_size(CharSize::Bits8);
            s.set_stop_bits(StopBits::One);
            s.set_parity(Parity::None);
            s.set_flow_control(FlowControl::None);
            Ok(s)
        })
        .map_err(|source| match source.kind() {
            ErrorKind::NotFound | ErrorKind::PermissionDenied => PortError::Open {
                port: name.clone(),
                source,
            },
            _ => PortError::Configure {
                port: name.clone(),
                baud,
                source,
            },
        })?;
        port.set_read_timeout(Duration::ZERO)
            .map_err(|source| PortError::Configure {
                port: name.clone(),
                baud,
                source,
            })?;
        if bus.mode == Rs485Mode::Kernel {
            enter_rs485_mode(&port, &name);
        }
        Ok(BusPort::new(port, de, name))
    }

    /// An already open port (a pty in tests), used as it is.
    pub fn from_port(mut port: SerialPort, name: &str) -> std::io::Result<BusPort> {
        port.set_read_timeout(Duration::ZERO)?;
        Ok(BusPort::new(port, None, name.to_owned()))
    }

    fn new(port: SerialPort, de: Option<Request>, name: String) -> BusPort {
        BusPort {
            port: Arc::new(port),
            de: de.map(Arc::new),
            name: name.into(),
            failing: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A channel on this port for one control panel; `id` tells LibOSDP which readers share it.
    pub fn channel(&self, id: i32) -> Box<dyn Channel> {
        Box::new(PortChannel {
            port: self.clone(),
            id,
        })
    }

    fn write_frame(&self, bytes: &[u8]) -> std::io::Result<()> {
        let set_de = |value: Value| -> std::io::Result<()> {
            match &self.de {
                Some(de) => de.set_lone_value(value).map_err(std::io::Error::other),
                None => Ok(()),
            }
        };
        set_de(Value::Active)?;
        let written = self.port.write_all(bytes).and_then(|()| self.port.flush());
        // The line drops even when the write failed, so the bus is never held.
        let released = set_de(Value::Inactive);
        written.and(released)
    }

    /// Logs the first failure of a series.
    fn report(&self, e: &std::io::Error) {
        if !self.failing.swap(true, Ordering::SeqCst) {
            log::error!("{}: {e}", self.name);
        }
    }
}

fn enter_rs485_mode(port: &SerialPort, name: &str) {
    use serial2::rs4xx::{Rs485Config, TransceiverMode};
    if let Ok(TransceiverMode::Rs485(_)) = port.get_rs4xx_mode() {
        log::info!("{name}: the UART is in RS485 mode already");
        return;
    }
    match port.set_rs4xx_mode(Rs485Config::new()) {
        Ok(()) => log::info!("{name}: UART switched to RS485 mode (RTS drives the transceiver)"),
        Err(e) => log::warn!(
            "{name}: the UART driver refused RS485 mode ({e}); unless the hardware switches the \
             transceiver itself, use mode = \"de-gpio\" with the driver-enable line"
        ),
    }
}

struct PortChannel {
    port: BusPort,
    id: i32,
}

impl Channel for PortChannel {
    fn get_id(&self) -> i32 {
        self.id
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ChannelError> {
        match self.port.port.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                Err(ChannelError::WouldBlock)
            }
            Err(e) => {
                self.port.report(&e);
                Err(ChannelError::TransportError)
            }
        }
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize, ChannelError> {
        match self.port.write_frame(buf) {
            Ok(()) => {
                if self.port.failing.swap(false, Ordering::SeqCst) {
                    log::info!("{}: writing again", self.port.name);
                }
                Ok(buf.len())
            }
            Err(e) => {
                self.port.report(&e);
                Err(ChannelError::TransportError)
            }
        }
    }

    fn flush(&mut self) -> Result<(), ChannelError> {
        Ok(())
    }

    fn close(&mut self) -> Result<(), ChannelError> {
        Ok(())
    }
}

/// The `[[rs485]]` ports missing on this system: each one's number (1-based) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortsMissing {
    pub missing: Vec<(usize, String)>,
    /// The ports the board names.
    pub ports: usize,
}

impl std::fmt::Display for PortsMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of the board's {} RS485 ports are missing here:",
            self.missing.len(),
            self.ports
        )?;
        for (n, reason) in &self.missing {
            write!(f, "\n  rs485[{n}].port: {reason}")?;
        }
        Ok(())
    }
}

/// Checks that every `[[rs485]]` port of `board` is a character device on this system.
pub fn check_ports(board: &BoardConfig) -> Result<(), PortsMissing> {
    let missing: Vec<(usize, String)> = (1..)
        .zip(&board.rs485)
        .filter_map(|(n, bus)| check_port(&bus.port).err().map(|e| (n, e)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(PortsMissing {
        missing,
        ports: board.rs485.len(),
    })
}

/// Whether `port` is a character device on this system.
pub fn check_port(port: &Path) -> Result<(), String> {
    match std::fs::metadata(port) {
        Ok(m) if m.file_type().is_char_device() => Ok(()),
        Ok(_) => Err(format!("{} is not a character device", port.display())),
        Err(e) => Err(format!("{}: {e}", port.display())),
    }
}
