//! The agent process: the store, the board and the network loop wired together.
//!
//! Threads: the board's own (the sim control socket) writes records; the network loop (the caller
//! of [`Agent::run`]) uploads them. They share only the store file and the clock, and a channel
//! that wakes the network loop when a record is committed.
//!
//! In the security dialect the board is an access [`Controller`], shared under one lock by the
//! board's inputs (the sim socket, or on a GPIO board the input threads of [`crate::hal::gpio`]),
//! a door-timer thread that ticks it at its deadlines, and the network loop, which reads the door
//! state for `rtstate` and applies remote commands after their batch is committed (never inside
//! a store transaction). A GPIO board runs the security dialect only ([`check_dialect`]); its
//! control socket answers only `relays`, for `push-agent status`. Its `[[rs485]]` buses of OSDP
//! readers each have a thread of [`crate::hal::osdp`] feeding the same controller.

use crate::access::model::DoorId;
use crate::clock::{DeviceClock, TimeSource};
use crate::config::{AgentConfig, BoardConfig, BoardDriver};
use crate::controller::capabilities::registry_capabilities;
use crate::controller::{Controller, ControllerInput, RecordCapacity, RemoteCommand, SharedStatus};
use crate::engine::{DoorLink, Engine, EngineConfig, Tick};
use crate::hal::gpio::{self, GpioInputs, InputWiring, ReaderDecoder};
use crate::hal::osdp::{self, OsdpBuses};
use crate::hal::{FeedbackFanOut, Relays, SimRelays};
use crate::protocol::dialect::Dialect;
use crate::protocol::security::rtstate::DoorState;
use crate::sim::{SimBoard, SimControl, SimController};
use crate::store::Store;
use crate::terminal::Terminal;
use crate::transport::HttpTransport;
use std::os::unix::fs::DirBuilderExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Exit code after REBOOT: the service manager restarts the agent (EX_TEMPFAIL).
pub const EXIT_RESTART: i32 = 75;
/// Exit code for a bad configuration: the service manager must not restart (EX_CONFIG).
pub const EXIT_CONFIG: i32 = 78;
/// Exit code when the agent cannot start (store or socket unusable).
pub const EXIT_FAILURE: i32 = 1;
/// Longest sleep of the network loop, so a stop request is never missed for long.
const MAX_IDLE: Duration = Duration::from_secs(60);
/// Longest sleep of the door-timer thread without a deadline: it still follows the clock.
const MAX_TIMER_SLEEP: Duration = Duration::from_secs(60);

/// Why the agent could not start, and the exit code that says so.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    message: String,
    exit_code: i32,
}

impl AppError {
    fn failure(message: impl Into<String>) -> AppError {
        AppError {
            message: message.into(),
            exit_code: EXIT_FAILURE,
        }
    }

    fn config(message: impl Into<String>) -> AppError {
        AppError {
            message: message.into(),
            exit_code: EXIT_CONFIG,
        }
    }

    /// [`EXIT_CONFIG`] for a configuration the agent cannot run with, else [`EXIT_FAILURE`].
    pub fn exit_code(&self) -> i32 {
        self.exit_code
    }
}

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
    // Security dialect: held for its thread, stopped when the agent ends.
    _door_timer: Option<DoorTimer>,
    // GPIO board: held for its input threads, stopped when the agent ends.
    _gpio: Option<GpioInputs>,
    // GPIO board: held for its RS485 bus threads, stopped when the agent ends.
    _osdp: Option<OsdpBuses>,
}

impl Agent {
    /// Opens the store, starts the board and prepares the network loop.
    pub fn start(
        cfg: &AgentConfig,
        board: &BoardConfig,
        time: Box<dyn TimeSource>,
    ) -> Result<Agent, AppError> {
        let dialect = cfg.device.dialect;
        let board_error = |e: &dyn std::fmt::Display| {
            AppError::config(format!("board {}: {e}", board.board.name))
        };
        check_dialect(dialect, board).map_err(|e| board_error(&e))?;
        let mut engine_cfg = EngineConfig::from_agent(cfg);
        if dialect == Dialect::Security {
            let caps = registry_capabilities(cfg, board).map_err(|e| board_error(&e))?;
            engine_cfg.capabilities = Some(caps);
            engine_cfg.door_count = board.doors.len();
        }
        let data_dir = &cfg.storage.data_dir;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(data_dir)
            .map_err(|e| {
                AppError::failure(format!(
                    "cannot create data directory {}: {e}",
                    data_dir.display()
                ))
            })?;
        let db = cfg.storage.database();
        let open = || Store::open(&db).map_err(|e| AppError::failure(e.to_string()));
        let clock = Arc::new(DeviceClock::new(time, 0, cfg.device.time_zone.0));
        let transport = HttpTransport::new(&cfg.server, cfg.log.decode)
            .map_err(|e| AppError::failure(format!("server connection: {e}")))?;
        let mut engine = Engine::new(engine_cfg, open()?, Box::new(transport), clock.clone())
            .map_err(|e| AppError::failure(e.to_string()))?;

        let (wake_tx, wake) = mpsc::channel();
        let notify = wake_tx.clone();
        let wake_network = move || {
            let _ = notify.send(());
        };
        let (sim, door_timer, gpio, osdp) = match board.board.driver {
            BoardDriver::Sim => {
                if !board.rs485.is_empty() {
                    log::warn!(
                        "board {}: [[rs485]] ignored: the simulated board has no serial ports",
                        board.board.name
                    );
                }
                let (sim_board, door_timer, on_change) = match dialect {
                    Dialect::Attendance => {
                        let mut terminal =
                            Terminal::new(open()?, clock.clone(), cfg.device.verify_codes);
                        terminal
                            .power_on()
                            .map_err(|e| AppError::failure(e.to_string()))?;
                        let board = SimBoard::Terminal(Arc::new(Mutex::new(terminal)));
                        let on_change: OnChange = Box::new(wake_network);
                        (board, None, on_change)
                    }
                    Dialect::Security => {
                        let relays = SimRelays::new(board.doors.len());
                        let view = relays.view();
                        let (controller, timer, on_change) = start_controller(
                            open()?,
                            &clock,
                            Box::new(relays),
                            board,
                            cfg.storage.max_records.get(),
                            &mut engine,
                            wake_network,
                        )?;
                        let sim = SimController::new(controller, view, board);
                        (SimBoard::Controller(sim), Some(timer), on_change)
                    }
                };
                let socket = cfg.storage.sim_socket();
                let control = SimControl::start(&socket, sim_board, on_change).map_err(|e| {
                    AppError::failure(format!("sim control socket {}: {e}", socket.display()))
                })?;
                log::info!("simulated board: control socket {}", socket.display());
                (Some(control), door_timer, None, None)
            }
            // check_dialect let only the security dialect through.
            BoardDriver::Gpio => {
                let (timer, inputs, status, osdp) = gpio_board(
                    open()?,
                    &clock,
                    board,
                    cfg.storage.max_records.get(),
                    &mut engine,
                    wake_network,
                )?;
                let socket = cfg.storage.sim_socket();
                let sim_board = SimBoard::Gpio {
                    doors: status,
                    readers: osdp.status().clone(),
                };
                let control = SimControl::start(&socket, sim_board, || {}).map_err(|e| {
                    AppError::failure(format!("status socket {}: {e}", socket.display()))
                })?;
                log::info!("GPIO board: status socket {}", socket.display());
                (Some(control), Some(timer), Some(inputs), Some(osdp))
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
            _door_timer: door_timer,
            _gpio: gpio,
            _osdp: osdp,
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

/// Called by the board after an input that committed records or changed a door's state.
type OnChange = Box<dyn Fn() + Send + Sync>;

/// The board drivers each dialect runs on: the attendance terminal is the simulated board's only
/// (its keypad, display and single reader have no GPIO description yet).
pub fn check_dialect(dialect: Dialect, board: &BoardConfig) -> Result<(), String> {
    match (board.board.driver, dialect) {
        (BoardDriver::Gpio, Dialect::Attendance) => Err(
            "the attendance dialect runs on the simulated board only (driver = \"sim\"); a gpio \
             board needs dialect = \"security\""
                .to_owned(),
        ),
        (BoardDriver::Sim, _) | (BoardDriver::Gpio, Dialect::Security) => Ok(()),
    }
}

/// The security dialect's controller on `relays` (event 206 recorded), its door timer, the
/// engine's link to both, and what an input that changed something calls.
fn start_controller(
    store: Store,
    clock: &Arc<DeviceClock>,
    relays: Box<dyn Relays>,
    board: &BoardConfig,
    max_records: u64,
    engine: &mut Engine,
    wake_network: impl Fn() + Clone + Send + Sync + 'static,
) -> Result<(Arc<Mutex<Controller>>, DoorTimer, OnChange), AppError> {
    let mut controller = Controller::new(store, clock.clone(), relays, board.doors.len())
        .map_err(|e| AppError::failure(e.to_string()))?
        .with_aux_outputs(board.aux_outputs.len());
    controller.set_record_capacity(RecordCapacity::new(max_records));
    controller
        .started()
        .map_err(|e| AppError::failure(e.to_string()))?;
    let status = controller.status();
    let controller = Arc::new(Mutex::new(controller));
    let timer = DoorTimer::start(controller.clone(), clock.clone(), wake_network.clone())
        .map_err(|e| AppError::failure(format!("door timer thread: {e}")))?;
    engine.set_doors(Box::new(ControllerLink {
        controller: controller.clone(),
        status,
        timer: timer.waker(),
    }));
    let wake_timer = timer.waker();
    let on_change: OnChange = Box::new(move || {
        wake_network();
        let _ = wake_timer.send(());
    });
    Ok((controller, timer, on_change))
}

/// The GPIO board: its lines found and requested, the controller on its lock relays and reader
/// LEDs and buzzers, the input threads and RS485 bus threads feeding it, and its doors' state. A
/// line or serial port missing on this system is a configuration error; one that exists but
/// cannot be opened (busy, no permission) is a start failure.
fn gpio_board(
    store: Store,
    clock: &Arc<DeviceClock>,
    board: &BoardConfig,
    max_records: u64,
    engine: &mut Engine,
    wake_network: impl Fn() + Clone + Send + Sync + 'static,
) -> Result<(DoorTimer, GpioInputs, SharedStatus, OsdpBuses), AppError> {
    let name = &board.board.name;
    let lines = gpio::resolve_lines(board, &gpio::LinuxGpio)
        .map_err(|e| AppError::config(format!("board {name}: {e}")))?;
    osdp::check_ports(board).map_err(|e| AppError::config(format!("board {name}: {e}")))?;
    let started = |e: gpio::GpioError| AppError::failure(format!("board {name}: {e}"));
    let (outputs, indicators, inputs) = gpio::open(board, &lines).map_err(started)?;
    let gpio_feedback = indicators.start(clock.clone()).map_err(started)?;
    let (controller, timer, on_change) = start_controller(
        store,
        clock,
        Box::new(outputs),
        board,
        max_records,
        engine,
        wake_network,
    )?;
    let (doors, reader_tables) = {
        let c = lock(&controller);
        (c.status(), c.reader_tables())
    };
    let reader_feedback = controller.clone();
    // The door parameters as the controller holds them (it reloads them when the server
    // changes them), so a SensorType the server sets applies at once.
    let settings = controller.clone();
    let sensor_type = move |door: DoorId| lock(&settings).sensor_type(door);
    let on_input: Arc<dyn Fn(ControllerInput) + Send + Sync> =
        Arc::new(move |input: ControllerInput| {
            if handle_input(&controller, &input) {
                on_change();
            }
        });
    // The buses before the GPIO inputs, so the controller has every reader's feedback first.
    let osdp = OsdpBuses::open(
        board,
        &lines,
        on_input.clone(),
        clock.clone(),
        reader_tables.clone(),
    )
    .map_err(|e| AppError::failure(format!("board {name}: {e}")))?;
    lock(&reader_feedback).set_reader_feedback(Box::new(FeedbackFanOut(vec![
        Box::new(gpio_feedback),
        Box::new(osdp.feedback()),
    ])));
    let wiring = InputWiring {
        on_input: on_input.clone(),
        sensor_type: Arc::new(sensor_type),
        decoder: Arc::new(move |reader| {
            Box::new(ReaderDecoder::new(reader, reader_tables.clone()))
        }),
    };
    let inputs = inputs.start(&wiring).map_err(started)?;
    log::info!(
        "GPIO board {name}: {} lines found and requested",
        lines.len()
    );
    if !board.rs485.is_empty() {
        log::info!(
            "GPIO board {name}: {} RS485 bus(es) of OSDP readers started",
            board.rs485.len()
        );
    }
    Ok((timer, inputs, doors, osdp))
}

/// Hands one input to the controller; true when the uploader has news
/// ([`Controller::noting_change`]).
fn handle_input(controller: &Mutex<Controller>, input: &ControllerInput) -> bool {
    let (handled, changed) = lock(controller).noting_change(|c| c.handle(input));
    match handled {
        Ok(h) if h.indexes.is_empty() => log::debug!("{}", h.summary),
        Ok(h) => log::info!("{}", h.summary),
        Err(e) => log::error!("input not recorded: {e}"),
    }
    changed
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The security dialect's door timers: a thread that sleeps until the controller's next deadline
/// (at most [`MAX_TIMER_SLEEP`]), or until an input or a command may have moved it, and ticks
/// the controller. Dropping it stops the thread.
struct DoorTimer {
    wake: Sender<()>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DoorTimer {
    /// `on_change` is called after a tick that committed records or changed a door's state.
    fn start(
        controller: Arc<Mutex<Controller>>,
        clock: Arc<DeviceClock>,
        on_change: impl Fn() + Send + 'static,
    ) -> std::io::Result<DoorTimer> {
        let (wake, woken) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("door-timer".into())
                .spawn(move || run_door_timer(&controller, &clock, &woken, &stop, &on_change))?
        };
        Ok(DoorTimer {
            wake,
            stop,
            thread: Some(thread),
        })
    }

    /// Wakes the thread to look at the deadline again.
    fn waker(&self) -> Sender<()> {
        self.wake.clone()
    }
}

impl Drop for DoorTimer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.wake.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run_door_timer(
    controller: &Mutex<Controller>,
    clock: &DeviceClock,
    woken: &Receiver<()>,
    stop: &AtomicBool,
    on_change: &dyn Fn(),
) {
    loop {
        let wait = controller
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_deadline()
            .map_or(MAX_TIMER_SLEEP, |at| {
                Duration::from_millis(at.0.saturating_sub(clock.now().mono.0))
            })
            .min(MAX_TIMER_SLEEP);
        match woken.recv_timeout(wait) {
            // An input or a command: the deadline may have moved; the input itself fired any
            // timer already due.
            Ok(()) => {
                while woken.try_recv().is_ok() {}
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                continue;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let (ticked, changed) = lock(controller).noting_change(Controller::tick);
        if let Err(e) = ticked {
            log::error!("door timers: {e}");
        }
        if changed {
            on_change();
        }
    }
}

/// The engine's view of the controller: the door state it reports and the commands it applies.
struct ControllerLink {
    controller: Arc<Mutex<Controller>>,
    status: SharedStatus,
    timer: Sender<()>,
}

impl DoorLink for ControllerLink {
    fn door_states(&self) -> (u64, Vec<DoorState>) {
        self.status.door_states()
    }

    fn apply(&self, commands: &[RemoteCommand], reload: bool) {
        let mut c = self
            .controller
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for &command in commands {
            match c.command(command) {
                Ok(handled) => log::info!("{}", handled.summary),
                Err(e) => log::error!("remote command {command:?}: {e}"),
            }
        }
        if reload && let Err(e) = c.reload() {
            log::error!("door parameters not reloaded: {e}");
        }
        drop(c);
        let _ = self.timer.send(());
    }
}
