//! The capability list this controller registers with (C06/C07) [note §2.7–§2.9; seed 003 §4.4]:
//! counts from the board file, bitmaps from the codes and modes this build really produces and
//! accepts, and only the functions it implements. What the list leaves at 0 the server must not
//! rely on.

use crate::access::control::event;
use crate::config::{AgentConfig, BoardConfig};
use crate::controller::{RECORDS_NEARLY_FULL, ReaderEvent, WRONG_WIEGAND_FORMAT, aux};
use crate::door::DoorEvent;
use crate::protocol::security::bitmaps::{
    ExtendedEventClass, OutOfRange, event_types, fun_list, new_event_types, verify_styles,
};
use crate::protocol::security::capabilities::{Capabilities, CapabilityError};

/// App 2 codes the access decision reports ([`crate::access::control::decide`]).
const DECISION_EVENTS: [u16; 30] = [
    event::OPENED,
    event::VERIFIED_DURING_NORMAL_OPEN,
    event::FIRST_USER_OPENED,
    event::MULTI_USER_OPENED,
    event::EMERGENCY_PASSWORD_OPENED,
    event::INTERVAL_TOO_SHORT,
    event::OUTSIDE_TIME_ZONE,
    event::INVALID_TIME_PERIOD,
    event::NO_PRIVILEGE,
    event::ANTI_PASSBACK,
    event::INTERLOCK,
    event::MULTI_USER_WAITING,
    event::NOT_REGISTERED,
    event::EXPIRED,
    event::WRONG_PASSWORD,
    event::CARD_LOST,
    event::BLOCKLISTED,
    event::WRONG_VERIFY_MODE,
    event::MULTI_USER_FAILED,
    event::PASSWORD_OUTSIDE_TIME_ZONE,
    event::PASSWORD_INTERVAL_TOO_SHORT,
    event::MULTI_USER_WAITING_PASSWORD,
    event::MULTI_USER_FAILED_PASSWORD,
    event::PASSWORD_EXPIRED,
    event::DOOR_LOCKED,
    event::DURESS_PASSWORD_OPENED,
    event::OPENED_BY_PASSWORD,
    event::SUPER_USER_OPENED,
    event::FIRST_USER_OPENED_BY_PASSWORD,
    event::PASSWORD_DURING_NORMAL_OPEN,
];

/// Every event a door logs itself; the test `door_events_list_every_variant_once` keeps it complete.
const DOOR_EVENTS: [DoorEvent; 18] = [
    DoorEvent::AlarmCancelled,
    DoorEvent::RemoteOpen,
    DoorEvent::RemoteClose,
    DoorEvent::TodayNormalOpenDisabled,
    DoorEvent::TodayNormalOpenEnabled,
    DoorEvent::HeldOpen,
    DoorEvent::Tamper,
    DoorEvent::ForcedOpen,
    DoorEvent::Opened,
    DoorEvent::Closed,
    DoorEvent::ExitButton,
    DoorEvent::NormalOpenEnded,
    DoorEvent::RemoteNormalOpen,
    DoorEvent::ExitButtonLocked,
    DoorEvent::EmergencyDualOn,
    DoorEvent::EmergencyDualOff,
    DoorEvent::RemoteLock,
    DoorEvent::RemoteUnlock,
];

/// The events an OSDP reader's tamper switch and link produce.
const READER_EVENTS: [ReaderEvent; 4] = [
    ReaderEvent::TamperAlarm,
    ReaderEvent::TamperCleared,
    ReaderEvent::Offline,
    ReaderEvent::Online,
];

/// Event 206, device start, which [`super::Controller::started`] records [note §7.2].
const DEVICE_STARTED: u16 = 206;

/// App 3 door verify modes a credential of this board (card, PIN, password) can satisfy: 0 auto,
/// 2 user ID, 3 password, 4 card, 7 card or password. Modes 5 and 6 ("fingerprint or …") are
/// left out although their non-biometric half is honoured: the board has no fingerprint reader,
/// and advertising them would invite the server to rely on one.
const VERIFY_MODES: [u16; 5] = [0, 2, 3, 4, 7];

/// `AccSupportFunList` positions implemented [note §2.8]: 2 lockdown (CONTROL 06), 3 emergency
/// dual-open/close (CONTROL 07), 7 several cards per user (`mulcarduser`), 16 `SuperAuthorize`,
/// 17 `DoorProperty`, 21 `DoorParameters`, 48 a super user passes a locked-down door, 60 time
/// rule validity (`timezone` StartTime/EndTime), 62 privilege validity (`userauthorize`
/// StartTime/EndTime). Not 15: `AuthorizeDoorId` is a door bitmask here. Not 18/22/23: reader,
/// anti-passback and interlock *tables* are accepted but not applied (the App 8/9 device rules
/// are).
const FUNCTIONS: [usize; 9] = [2, 3, 7, 16, 17, 21, 48, 60, 62];

/// `MachineType` 101, "PULL SDK device (integrated terminal)" [note §9.4]: the agent runs on the
/// terminal that holds the readers. The other App 7 codes name specific C3/C4/InBio panels whose
/// door, reader and aux counts a server may assume from the code alone.
const MACHINE_TYPE: u32 = 101;

/// `MaxPackageSize`: the seed's value; querydata packages stay well under it.
const MAX_PACKAGE_SIZE: u32 = 2_048_000;

/// `~MaxUserCount`: the users the access decision is benchmarked with (benches/access_latency:
/// 1,000,000 users, p99 under a millisecond). The store has no hard limit.
const MAX_USERS: u32 = 1_000_000;

/// `MaxMCUCardBits`: card numbers are 64-bit.
const CARD_BITS: u32 = 64;

/// Why no capability list could be built: the agent cannot register, so it does not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("the security dialect needs at least one [[door]] in the board file")]
    NoDoors,
    #[error("{0}")]
    Bitmap(#[from] OutOfRange),
    #[error("capability list: {0}")]
    Encode(#[from] CapabilityError),
}

/// The capabilities this agent registers with on `board`, checked to encode.
pub fn registry_capabilities(
    cfg: &AgentConfig,
    board: &BoardConfig,
) -> Result<Capabilities, RegistryError> {
    if board.doors.is_empty() {
        return Err(RegistryError::NoDoors);
    }
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let aux_in_events = [aux::AUX_INPUT_OPENED, aux::AUX_INPUT_SHORTED];
    let aux_out_events = [aux::AUX_OUTPUT_ON, aux::AUX_OUTPUT_OFF];
    // Event 42 comes from the Wiegand decoder: only a board with a Wiegand reader logs it.
    let wiegand = board
        .doors
        .iter()
        .flat_map(|d| &d.readers)
        .any(|r| r.wiegand.is_some());
    let events = DECISION_EVENTS
        .into_iter()
        .chain(DOOR_EVENTS.map(DoorEvent::code))
        .chain([DEVICE_STARTED])
        .chain(
            aux_in_events
                .into_iter()
                .filter(|_| !board.aux_inputs.is_empty()),
        )
        .chain(
            aux_out_events
                .into_iter()
                .filter(|_| !board.aux_outputs.is_empty()),
        )
        .chain(wiegand.then_some(WRONG_WIEGAND_FORMAT))
        .chain(
            READER_EVENTS
                .map(ReaderEvent::code)
                .into_iter()
                // A bus has at least one reader (BoardConfig::validate).
                .filter(|_| !board.rs485.is_empty()),
        );
    let caps = Capabilities {
        device_type: "acc".to_owned(),
        device_name: format!("push-agent/{}", board.board.name),
        firmware_version: crate::engine::firmware_version(),
        push_version: format!("Ver {}", cfg.device.push_version()),
        mac: None,
        comm_type: "ethernet".to_owned(),
        max_package_size: MAX_PACKAGE_SIZE,
        lock_count: count(board.doors.len()),
        reader_count: count(board.reader_count()),
        aux_in_count: count(board.aux_inputs.len()),
        aux_out_count: count(board.aux_outputs.len()),
        machine_type: MACHINE_TYPE,
        only_rf_machine: true,
        max_user_count: MAX_USERS,
        // The access records kept before the oldest make room [C20].
        max_att_log_count: u32::try_from(cfg.storage.max_records.get()).unwrap_or(u32::MAX),
        max_user_finger_count: 0,
        m_threshold: 0,
        ip_address: cfg
            .device
            .ip
            .clone()
            .unwrap_or_else(|| "0.0.0.0".to_owned()),
        net_mask: "0.0.0.0".to_owned(),
        gateway: "0.0.0.0".to_owned(),
        zkfp_version: 0,
        iclock_svr_fun: Some(true),
        overall_anti_fun_on: Some(false),
        rex_input_fun_on: false,
        // The server's Wiegand formats decode what Wiegand and OSDP readers send [C33].
        card_format_fun_on: wiegand || !board.rs485.is_empty(),
        sup_authorize_fun_on: true,
        reader_cfg_fun_on: false,
        reader_linkage_fun_on: false,
        relay_state_fun_on: true,
        ext485_reader_fun_on: false,
        time_apb_fun_on: true,
        // CONTROL DEVICE 01 with door 00 drives every lock.
        ctl_all_relay_fun_on: true,
        loss_card_fun_on: true,
        // Specific codes (207, 49 …), not the merged groups [AMB-30].
        simple_event_type: false,
        verify_styles: verify_styles(VERIFY_MODES)?,
        event_types: event_types(events)?,
        disable_user_fun_on: true,
        delete_and_fun_on: true,
        log_id_fun_on: true,
        date_fmt_fun_on: true,
        del_all_loss_card_fun_on: false,
        auto_clear_day: 0,
        first_delay_day: 0,
        delay_day: 0,
        stop_all_verify: false,
        fv_fun_on: false,
        face_fun_on: false,
        finger_fun_on: false,
        camera_open: false,
        acc_support_fun_list: fun_list(FUNCTIONS, FUNCTIONS.iter().max().map_or(0, |p| p + 1))?,
        auto_server_fun_on: false,
        delay_open_door_fun_on: false,
        user_open_door_delay_fun_on: false,
        multi_card_inter_time_fun_on: true,
        out_relay_set_fun_on: false,
        machine_tz_fun_on: false,
        dst_fun_on: false,
        card_site_code_fun_on: false,
        mul_card_user_fun_on: true,
        user_name_fun_on: true,
        string_pin_fun_on: true,
        max_lock_count: count(board.doors.len()),
        max_zigbee_count: 0,
        max_mcu_card_bits: CARD_BITS,
        support_reader_type: 0,
        // `C:<id>:` envelopes [App 14, AMB-45].
        cmd_format: Some(0),
        // The communication key is not sent in the clear.
        auth_key: None,
        // App 19 codes are sent only when advertised (AMB-29): the 90 % capacity warning.
        extra: vec![(
            "NewWarningEventTypes".to_owned(),
            new_event_types(ExtendedEventClass::Warning, [RECORDS_NEARLY_FULL])?,
        )],
    };
    caps.encode()?;
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{DeviceClock, ManualClock};
    use crate::config;
    use crate::controller::Controller;
    use crate::hal::SimRelays;
    use crate::protocol::options::{StampTable, UtcOffset};
    use crate::protocol::security::rtlog::RtLog;
    use crate::protocol::session::{Mono, Now};
    use crate::store::Store;
    use std::path::Path;
    use std::sync::Arc;

    fn agent() -> AgentConfig {
        config::parse(
            "[server]\nurl = \"http://127.0.0.1:1\"\n[device]\nserial = \"S1\"\n\
             dialect = \"security\"\npush_version = \"3.1.2\"\n",
            Path::new("agent.toml"),
        )
        .unwrap()
    }

    fn sim_board() -> BoardConfig {
        config::load_board("sim").unwrap()
    }

    #[test]
    fn the_sim_board_registers_its_doors_readers_and_bitmaps() {
        let body = registry_capabilities(&agent(), &sim_board())
            .unwrap()
            .encode()
            .unwrap();
        let expected = [
            "DeviceType=acc,~DeviceName=push-agent/sim,",
            ",PushVersion=Ver 3.1.2,CommType=ethernet,MaxPackageSize=2048000,LockCount=2,\
             ReaderCount=4,AuxInCount=0,AuxOutCount=0,MachineType=101,~IsOnlyRFMachine=1,",
            ",VerifyStyles=B9000000,",
            // Bytes 0–7: 0–4, 7 | 8–11 | 20–23 | 24–30 | 38, 39 | 41 | 48–53 | 63; byte 12: 100–102;
            // bytes 25–29: 200–202, 204–207 | 208, 209, 215 | 216 | 227, 228 | 233, 234.
            ",EventTypes=9F0FF07FC0023F800000000070000000000000000000000000F7830118060000,",
            ",DateFmtFunOn=1,",
            ",AccSupportFunList=001100010000000011000100000000000000000000000000100000000000101,",
            ",MaxLockCount=2,MaxZigbeeCount=0,MaxMCUCardBits=64,SupportReaderType=0,CmdFormat=0",
            // `storage.max_records`, and event 6005 (offset 5 from 6000) advertised (AMB-29).
            ",~MaxAttLogCount=100000,",
        ];
        for part in expected {
            assert!(body.contains(part), "{part} not in {body}");
        }
        assert!(
            body.ends_with(",CmdFormat=0,NewWarningEventTypes=20"),
            "{body}"
        );
        assert!(!body.contains("authKey"), "{body}");
    }

    /// The registry body of `board/<name>`.
    fn board_file_body(name: &str) -> String {
        let path = format!("{}/board/{name}", env!("CARGO_MANIFEST_DIR"));
        let board = config::load_board(&path).unwrap();
        registry_capabilities(&agent(), &board)
            .unwrap()
            .encode()
            .unwrap()
    }

    #[test]
    fn a_board_with_a_wiegand_reader_also_logs_event_42() {
        let body = board_file_body("qemu-virt.toml");
        // Byte 5 (events 40–47): 41 as on the sim board, and 42. (Byte 1 has the aux output's
        // 12 and 13: the board has one.)
        assert!(body.contains(",EventTypes=9F3FF07FC0063F80"), "{body}");
    }

    #[test]
    fn a_board_with_osdp_readers_also_logs_their_tamper_and_link_events() {
        let body = board_file_body("ref-aarch64-4door.toml");
        let bitmap = body
            .split(',')
            .find_map(|kv| kv.strip_prefix("EventTypes="))
            .unwrap();
        let byte = |n: usize| &bitmap[2 * n..2 * n + 2];
        // Byte 13 (events 104–111): 109 and 110. Byte 29 (232–239): 233, 234 as on the sim
        // board, and 236, 237.
        assert_eq!((byte(13), byte(29)), ("60", "36"), "{body}");
    }

    #[test]
    fn reader_and_lock_counts_follow_the_board_file() {
        let board: BoardConfig = config::parse(
            "[board]\nname = \"one\"\ndriver = \"sim\"\nopkg_arch = \"all\"\n\
             [[door]]\nreaders = [\"in\"]\n",
            Path::new("one.toml"),
        )
        .unwrap();
        let caps = registry_capabilities(&agent(), &board).unwrap();
        let body = caps.encode().unwrap();
        assert!(body.contains(",LockCount=1,ReaderCount=1,"), "{body}");
        assert!(body.contains(",MaxLockCount=1,"), "{body}");
    }

    #[test]
    fn aux_lines_are_counted_and_their_events_advertised() {
        let board: BoardConfig = config::parse(
            "[board]\nname = \"aux\"\ndriver = \"gpio\"\nopkg_arch = \"all\"\n\
             [[door]]\nlock = \"LOCK1\"\nreaders = []\n\
             [[aux_in]]\nline = \"IN1\"\n[[aux_in]]\nline = \"IN2\"\n\
             [[aux_out]]\nline = \"OUT1\"\n",
            Path::new("aux.toml"),
        )
        .unwrap();
        let body = registry_capabilities(&agent(), &board)
            .unwrap()
            .encode()
            .unwrap();
        assert!(body.contains(",AuxInCount=2,AuxOutCount=1,"), "{body}");
        // Against the sim board's list: byte 1 gains 12, 13 (0F → 3F); byte 27 gains 220, 221
        // (01 → 31).
        assert!(
            body.contains(
                ",EventTypes=9F3FF07FC0023F800000000070000000000000000000000000F7833118060000,"
            ),
            "{body}"
        );
    }

    #[test]
    fn refuses_a_board_without_doors_or_a_name_that_breaks_the_list() {
        let mut board = sim_board();
        board.doors.clear();
        assert_eq!(
            registry_capabilities(&agent(), &board),
            Err(RegistryError::NoDoors)
        );
        let mut board = sim_board();
        board.board.name = "a,b".into();
        assert_eq!(
            registry_capabilities(&agent(), &board),
            Err(RegistryError::Encode(CapabilityError::BadValue(
                "~DeviceName".into()
            )))
        );
    }

    #[test]
    fn door_events_list_every_variant_once() {
        // The match is exhaustive: a new DoorEvent stops this compiling until it is considered
        // here and listed in DOOR_EVENTS.
        let listed = |e: DoorEvent| match e {
            DoorEvent::AlarmCancelled
            | DoorEvent::RemoteOpen
            | DoorEvent::RemoteClose
            | DoorEvent::TodayNormalOpenDisabled
            | DoorEvent::TodayNormalOpenEnabled
            | DoorEvent::HeldOpen
            | DoorEvent::Tamper
            | DoorEvent::ForcedOpen
            | DoorEvent::Opened
            | DoorEvent::Closed
            | DoorEvent::ExitButton
            | DoorEvent::NormalOpenEnded
            | DoorEvent::RemoteNormalOpen
            | DoorEvent::ExitButtonLocked
            | DoorEvent::EmergencyDualOn
            | DoorEvent::EmergencyDualOff
            | DoorEvent::RemoteLock
            | DoorEvent::RemoteUnlock => DOOR_EVENTS.contains(&e),
        };
        assert!(DOOR_EVENTS.into_iter().all(listed));
        let mut codes: Vec<u16> = DOOR_EVENTS.map(DoorEvent::code).to_vec();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), DOOR_EVENTS.len());
    }

    #[test]
    fn the_start_event_is_the_one_the_controller_records() {
        let clock = Arc::new(DeviceClock::new(
            Box::new(ManualClock::new(Now {
                mono: Mono(0),
                utc_ms: 1_795_420_800_000,
            })),
            0,
            UtcOffset(0),
        ));
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("agent.db");
        let mut controller = Controller::new(
            Store::open(&db).unwrap(),
            clock,
            Box::new(SimRelays::new(2)),
            2,
        )
        .unwrap();
        controller.started().unwrap();
        let lines = Store::open(&db)
            .unwrap()
            .read(|tx| tx.backlog(StampTable::RtLog, 10, usize::MAX))
            .unwrap();
        let events: Vec<u16> = lines
            .iter()
            .filter_map(|(_, line)| RtLog::parse(line))
            .map(|log| log.event)
            .collect();
        assert_eq!(events, [DEVICE_STARTED]);
    }
}
