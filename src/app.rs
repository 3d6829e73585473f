//! The agent process: the store, the board and the network loop wired together.
//!
//! Threads: the board's own (the sim control socket) writes records; the network loop (the caller
//! of [`Agent::run`]) uploads them. They share only the store file and the clock, and a channel
//! that wakes the network loop when a record is committed.

use crate::clock::{DeviceClock, TimeSource};
use crate::config::{AgentConfig, BoardConfig, BoardDriver};
use crate::engine::{Engine, EngineConfig, Tick};
use crate::sim::SimControl;
use crate::store::Store;
use crate::terminal::Terminal;
use crate::transport::HttpTransport;
use std::os::unix::fs::DirBuilderExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Exit code after REBOOT: the service manager restarts the agent (EX_TEMPFAIL).
pub const EXIT_RESTART: i32 = 75;
/// Exit code for a bad configuration: the service manager must not restart (EX_CONFIG).
pub const EXIT_CONFIG: i32 = 78;
/// Exit code when the agent cannot start (store or socket unusable).
pub const EXIT_FAILURE: i32 = 1;
/// Longest sleep of the network loop, so a stop request is never missed for long.
const MAX_IDLE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AppError(String);

/// Why [`Agent::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The server sent REBOOT.
    Restart,
    /// [`StopHandle::stop`] was called.
    Stopped,
}

/// Stops a running agent from another thread.
#[derive(Clone)]
pub struct StopHandle {
    flag: Arc<AtomicBool>,
    wake: Sender<()>,
}

impl StopHandle {
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let _ = self.wake.send(());
    }
}

pub struct Agent {
    engine: Engine,
    clock: Arc<DeviceClock>,
    wake: Receiver<()>,
    stop: StopHandle,
    // Held for its thread; dropped (and the socket removed) when the agent ends.
    _sim: Option<SimControl>,
}

impl Agent {
    /// Opens the store, starts the board and prepares the network loop.
    pub fn start(
        cfg: &AgentConfig,
        board: &BoardConfig,
        time: Box<dyn TimeSource>,
    ) -> Result<Agent, AppError> {
        let data_dir = &cfg.storage.data_dir;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(data_dir)
            .map_err(|e| {
                AppError(format!(
                    "cannot create data directory {}: {e}",
                    data_dir.display()
                ))
            })?;
        let db = cfg.storage.database();
        let open = || Store::open(&db).map_err(|e| AppError(e.to_string()));
        let clock = Arc::new(DeviceClock::new(time, 0, cfg.device.time_zone.0));
        let transport = HttpTransport::new(&cfg.server, cfg.log.decode)
            .map_err(|e| AppError(format!("server connection: {e}")))?;
        let engine = Engine::new(
            EngineConfig::from_agent(cfg),
            open()?,
            Box::new(transport),
            clock.clone(),
        )
        .map_err(|e| AppError(e.to_string()))?;

        let mut terminal = Terminal::new(open()?, clock.clone(), cfg.device.verify_codes);
        terminal.power_on().map_err(|e| AppError(e.to_string()))?;
        let (wake_tx, wake) = mpsc::channel();
        let sim = match board.board.driver {
            BoardDriver::Sim => {
                let socket = cfg.storage.sim_socket();
                let notify = wake_tx.clone();
                let control =
                    SimControl::start(&socket, Arc::new(Mutex::new(terminal)), move || {
                        let _ = notify.send(());
                    })
                    .map_err(|e| {
                        AppError(format!("sim control socket {}: {e}", socket.display()))
                    })?;
                log::info!("simulated board: control socket {}", socket.display());
                Some(control)
            }
        };
        log::info!(
            "push-agent {} started: SN {}, server {}, data in {}",
            env!("CARGO_PKG_VERSION"),
            cfg.device.serial.as_str(),
            cfg.server.url.base(),
            data_dir.display()
        );
        Ok(Agent {
            engine,
            clock,
            wake,
            stop: StopHandle {
                flag: Arc::new(AtomicBool::new(false)),
                wake: wake_tx,
            },
            _sim: sim,
        })
    }

    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Runs the network loop until REBOOT or a stop request.
    pub fn run(mut self) -> Stopped {
        loop {
            if self.stop.flag.load(Ordering::SeqCst) {
                return Stopped::Stopped;
            }
            match self.engine.tick() {
                Tick::Worked => {}
                Tick::Restart => return Stopped::Restart,
                Tick::Idle { until } => {
                    let now = self.clock.now().mono;
                    let wait = until.map_or(MAX_IDLE, |at| {
                        Duration::from_millis(at.0.saturating_sub(now.0)).min(MAX_IDLE)
                    });
                    match self.wake.recv_timeout(wait) {
                        // Several records may have arrived: one look at the store covers them.
                        Ok(()) => while self.wake.try_recv().is_ok() {},
                        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
                    }
                }
            }
        }
    }
}
