//! The security executor fed real command text: parsed by `parse_batch_as(Dialect::Security, …)`
//! and run by `execute_batch` on an in-memory store, for a two-door controller. The commands are
//! the seed's examples (seed 003 §9.1–§9.5) where it has them, copied as printed: its PDF line
//! breaks are joined back (a space where a break fell between fields, nothing where it split a
//! word), and its spaces stand for the tabs, as the parser allows [AMB-25].

use super::*;
use crate::access::model::{
    Authorization, Card, DeviceRules, Direction, FirstCard, FirstCardMode, Holiday, MultiCardGroup,
    Period, SensorType,
};
use crate::commands::{answer_query, execute_batch};
use crate::door::Emergency as DoorEmergency;
use crate::hal::wiegand::Reversal;
use crate::protocol::command::parse_batch_as;
use crate::protocol::dialect::Dialect;
use crate::protocol::options::{ServerOptions, UtcOffset};
use crate::protocol::security::capabilities::Capabilities;
use crate::protocol::security::capabilities::tests::seed_example;
use crate::protocol::security::rtlog::{InOutStatus, RtLog, VerifyType};
use crate::protocol::security::tables::{
    FormatList, ReaderFormatRow, ReaderRow, ReaderTables, WiegandFormatRow,
};
use crate::store::{Store, StoreError};
use std::num::NonZeroU8;

const SN: &str = "3383154200002";
const FIRMWARE: &str = "Ver 0.1.0";
const IP: &str = "192.168.213.222";
/// 2026-11-23 08:00:00 UTC: 16:00:00 on the device, at UTC+8.
const NOW_MS: i64 = 1_795_420_800_000;
const ZONE: UtcOffset = UtcOffset(480);
const DOORS: usize = 2;
/// The seed's `mulcarduser` card, `CC9932DD`.
const SEED_CARD: u64 = 0xCC99_32DD;

/// The seed's registry example (F20/M) with this controller's two doors.
fn capabilities() -> Capabilities {
    Capabilities {
        lock_count: 2,
        ..seed_example()
    }
}

struct Rig {
    store: Store,
    capabilities: Capabilities,
    options: ServerOptions,
}

impl Rig {
    fn new() -> Rig {
        Rig {
            store: Store::open_in_memory().unwrap(),
            capabilities: capabilities(),
            options: ServerOptions::default(),
        }
    }

    /// Runs a getrequest body as the engine does.
    fn run(&mut self, body: &str) -> Effects {
        let Rig {
            store,
            capabilities,
            options,
        } = self;
        let ctx = CommandContext {
            serial: SN,
            firmware: FIRMWARE,
            ip: IP,
            options,
            zone: ZONE,
            now_utc_ms: NOW_MS,
            dialect: Dialect::Security,
            door_count: DOORS,
            capabilities: Some(capabilities),
        };
        let batch = parse_batch_as(Dialect::Security, body, 200);
        store.write(|tx| execute_batch(tx, &ctx, &batch)).unwrap()
    }

    /// The replies queued since the last call, taken off the queue as if the server had them.
    fn replies(&mut self) -> Vec<String> {
        self.store
            .write(|tx| {
                let pending = tx.pending_replies(100)?;
                let seqs: Vec<i64> = pending.iter().map(|r| r.seq).collect();
                tx.delete_replies(&seqs)?;
                Ok(pending.into_iter().map(|r| r.body).collect())
            })
            .unwrap()
    }

    /// Runs one command and returns its reply line.
    fn reply(&mut self, body: &str) -> String {
        self.run(body);
        let replies = self.replies();
        assert_eq!(replies.len(), 1, "{body}: {replies:?}");
        replies[0].clone()
    }

    fn read<T>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>) -> T {
        self.store.read(f).unwrap()
    }

    /// Appends an access event at local time `time`; returns its record id.
    fn event(&mut self, time: &str) -> i64 {
        let log = RtLog {
            time: LocalDateTime::parse(time).unwrap(),
            pin: "1".into(),
            cardno: "123456789".into(),
            sitecode: 0,
            linkid: 0,
            eventaddr: 1,
            event: 0,
            inoutstatus: InOutStatus::In,
            verifytype: VerifyType::Code(4),
            index: 0,
        };
        self.store.write(|tx| tx.append_rtlog(&log)).unwrap()
    }

    fn door(&mut self, door: usize) -> DoorSettings {
        self.read(|tx| tx.door_settings())[door - 1].clone()
    }

    /// The query job a COUNT, QUERY or GET OPTIONS left.
    fn job(&mut self) -> QueryJob {
        self.read(|tx| tx.next_query_job()).expect("a query job")
    }
}

// --- DATA UPDATE ---

/// The seed's §9.1.1 examples, one batch each: (command, reply, whether the doors must re-read
/// their parameters).
const SEED_UPDATES: [(&str, &str, bool); 17] = [
    (
        concat!(
            "C:295:DATA UPDATE user CardNo= Pin=1                          Password=234             Group=0",
            " StartTime=0 EndTime=0               Name=        Privilege=0"
        ),
        "ID=295&Return=0&CMD=DATA UPDATE",
        false,
    ),
    (
        "C:501:DATA UPDATE mulcarduser Pin=1 CardNo=CC9932DD LossCardFlag=0 CardType=0",
        "ID=501&Return=0&CMD=DATA UPDATE",
        false,
    ),
    (
        concat!(
            "C:296:DATA UPDATE userauthorize Pin=1                    AuthorizeTimezoneId=1",
            " AuthorizeDoorId=1         DevID=1"
        ),
        "ID=296&Return=0&CMD=DATA UPDATE",
        false,
    ),
    (
        "C:503:DATA UPDATE holiday Holiday=20100101 HolidayType=1                                 Loop=1",
        "ID=503&Return=0&CMD=DATA UPDATE",
        false,
    ),
    (
        concat!(
            "C:307:DATA UPDATE timezone TimezoneId=2 SunTime1=0 SunTime2=0 SunTime3=0",
            " MonTime1=65539           MonTime2=65537100            MonTime3=0          TueTime1=0            TueTime2=0",
            " TueTime3=0        WedTime1=0         WedTime2=0         WedTime3=0         ThuTime1=0           ThuTime2=0",
            " ThuTime3=0        FriTime1=0         FriTime2=0         FriTime3=0         SatTime1=0           SatTime2=0",
            " SatTime3=0 Hol1Time1=0 Hol1Time2=0 Hol1Time3=0 Hol2Time1=0 Hol2Time2=0",
            " Hol2Time3=0 Hol3Time1=0 Hol3Time2=0 Hol3Time3=0"
        ),
        "ID=307&Return=0&CMD=DATA UPDATE",
        false,
    ),
    (
        "C:504:DATA UPDATE firstcard DoorID=1                          TimezoneID=1          Pin=1        DevID=1",
        "ID=504&Return=0&CMD=DATA UPDATE",
        false,
    ),
    (
        concat!(
            "C:505:DATA UPDATE multimcard Index=1                         DoorId=1           Group1=1            Group2=3",
            " Group3= Group4= Group5= DevID=1"
        ),
        "ID=505&Return=0&CMD=DATA UPDATE",
        false,
    ),
    // The seed's super user is on door 4; this controller has two doors.
    (
        "C:524:DATA UPDATE SuperAuthorize Pin=1 DoorID=4                             DevID=14",
        "ID=524&Return=-11&CMD=DATA UPDATE",
        false,
    ),
    (
        "C:511:DATA UPDATE DoorProperty ID=1 DevID=14                         Address=1           Disable=0",
        "ID=511&Return=0&CMD=DATA UPDATE",
        true,
    ),
    (
        "C:512:DATA UPDATE DoorParameters ID=1                     Name=MaskFlag           Value=0 DevID=14",
        "ID=512&Return=0&CMD=DATA UPDATE",
        true,
    ),
    // A name App 12 has but this controller does not act on.
    (
        concat!(
            "C:510:DATA UPDATE DevParameters ID=14                  Name=IsSupportReaderEncrypt",
            " Value=0"
        ),
        "ID=510&Return=0&CMD=DATA UPDATE",
        false,
    ),
    // The server's reader ids, for ReaderWGFormat; then the Wiegand formats.
    (
        concat!(
            "C:513:DATA UPDATE ReaderProperty ID=1                   DoorID=1        Type=2 Address=1",
            " IPAddress= Port=4376            MAC=        InOut=0 Disable=0          VerifyType=0",
            " Multicast= DevID=14             OfflineRefuse=0"
        ),
        "ID=513&Return=0&CMD=DATA UPDATE",
        true,
    ),
    (
        concat!(
            "C:517:DATA UPDATE DefaultWGFormat ID=2 CardBit=26 SiteCode=0 FormatName=Wiegand 26 ",
            "CardFormat=pccccccccccccccccccccccccp:eeeeeeeeeeeeeooooooooooooo"
        ),
        "ID=517&Return=0&CMD=DATA UPDATE",
        true,
    ),
    (
        concat!(
            "C:518:DATA UPDATE WGFormat ID=2 CardBit=26 SiteCode=0 FormatName=Wiegand",
            " 26 CardFormat=pccccccccccccccccccccccccp:eeeeeeeeeeeeeooooooooooooo"
        ),
        "ID=518&Return=0&CMD=DATA UPDATE",
        true,
    ),
    // V2.0, with the seed's 35-letter ExtParityFormat masks for a 26-bit format: the masks are
    // left out, the format is kept.
    (
        concat!(
            "C:520:DATA UPDATE WGFormat ID=3 CardBit=26                            SiteCode=0",
            "            FormatName= Wiegand26 ",
            "CardFormat=pccccccccccccccccccccccccp:eeeeeeeeeeeeeooooooooooooo ExtSiteCode=1000;2000 ",
            "ExtParityFormat=xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeex;xoooooooooooooooooooooooooooooooooxo",
            " IsDefault=0"
        ),
        "ID=520&Return=0&CMD=DATA UPDATE",
        true,
    ),
    (
        concat!(
            "C:519:DATA UPDATE ReaderWGFormat ReaderID=1 DevID=14                                  WGFormatID=2",
            " ParityVerifyDisable=0             ReversalType=0"
        ),
        "ID=519&Return=0&CMD=DATA UPDATE",
        true,
    ),
    (
        concat!(
            "C:509:DATA UPDATE DevProperty ID=14 Type=0                          BusType=0            MachineType=28",
            " Address=0           Mac=         IPAddress=192.168.223.222                 SN=DDG7050067042500078",
            " IsMaster=0"
        ),
        "ID=509&Return=0&CMD=DATA UPDATE",
        false,
    ),
];

#[test]
fn seed_table_updates_are_answered_and_stored() {
    let mut rig = Rig::new();
    for (command, reply, access_changed) in SEED_UPDATES {
        let effects = rig.run(command);
        assert_eq!(rig.replies(), [reply], "{command}");
        assert_eq!(effects.access_changed, access_changed, "{command}");
        assert!(effects.remote_commands.is_empty() && !effects.reboot);
    }

    let readers = rig.read(|tx| tx.reader_tables());
    let seed_format = "pccccccccccccccccccccccccp:eeeeeeeeeeeeeooooooooooooo";
    let format = |list, id, auto_match| WiegandFormatRow {
        list,
        id,
        card_bit: 26,
        card_format: seed_format.into(),
        ext_parity_format: String::new(),
        auto_match,
    };
    assert_eq!(
        readers,
        ReaderTables {
            readers: vec![ReaderRow {
                reader: 1,
                door: 1,
                direction: Direction::In,
                disabled: false,
            }],
            formats: vec![
                format(FormatList::Default, 2, true),
                format(FormatList::Custom, 2, false),
                format(FormatList::Custom, 3, false),
            ],
            reader_formats: vec![ReaderFormatRow {
                reader: 1,
                dev_id: 14,
                format_id: 2,
                verify_parity: true,
                reversal: Reversal::None,
            }],
        }
    );

    let user = rig.read(|tx| tx.user("1")).unwrap();
    assert_eq!(
        (
            user.card,
            user.password.as_str(),
            user.group,
            user.valid_from,
            user.valid_until,
            user.name.as_str(),
            user.privilege,
            user.disabled,
        ),
        (None, "234", 0, None, None, "", 0, false)
    );
    assert_eq!(
        rig.read(|tx| tx.card(SEED_CARD)),
        Some(Card {
            number: SEED_CARD,
            pin: "1".into(),
            lost: false
        })
    );
    assert_eq!(
        rig.read(|tx| tx.authorizations_of("1")),
        [Authorization {
            pin: "1".into(),
            timezone_id: 1,
            doors: 1,
            valid_from: None,
            valid_until: None,
        }]
    );
    assert_eq!(
        rig.read(|tx| tx.holidays()),
        [Holiday {
            year: 2010,
            month: 1,
            day: 1,
            kind: 1,
            yearly: true
        }]
    );
    // Monday 00:01–00:03 and 10:00–11:00, nothing else.
    let zone = rig.read(|tx| tx.timezone(2)).unwrap();
    let mut days = [[Period::NONE; 3]; 7];
    days[1] = [
        Period { start: 1, end: 3 },
        Period {
            start: 600,
            end: 660,
        },
        Period::NONE,
    ];
    assert_eq!(
        (zone.days, zone.holidays, zone.valid_from, zone.valid_until),
        (days, [[Period::NONE; 3]; 3], None, None)
    );
    assert_eq!(
        rig.read(|tx| tx.first_cards(1)),
        [FirstCard {
            door: 1,
            timezone_id: 1,
            pin: "1".into()
        }]
    );
    assert_eq!(
        rig.read(|tx| tx.multi_card_groups(1)),
        [MultiCardGroup {
            index: 1,
            door: 1,
            groups: [1, 3, 0, 0, 0]
        }]
    );
    assert!(!rig.read(|tx| tx.is_super_user("1", 4)));
    // DoorProperty and DoorParameters wrote door 1's defaults back; DevParameters' name is not
    // a rule.
    assert_eq!(rig.door(1), DoorSettings::default());
    assert_eq!(rig.read(|tx| tx.device_rules()), DeviceRules::default());
}

#[test]
fn a_user_update_keeps_the_fields_it_leaves_out() {
    let mut rig = Rig::new();
    rig.run(concat!(
        "C:295:DATA UPDATE user CardNo= Pin=1                          Password=234             Group=0",
        " StartTime=0 EndTime=0               Name=        Privilege=0"
    ));
    rig.replies();
    let cases = [
        (
            "C:1:DATA UPDATE user Pin=1\tName=Zhang San",
            (None, "234", 0, "Zhang San", 0, false),
        ),
        (
            "C:2:DATA UPDATE user Pin=1\tCardNo=[15CD5B07]\tDisable=1",
            (Some(123_456_789), "234", 0, "Zhang San", 0, true),
        ),
        (
            "C:3:DATA UPDATE user Pin=1\tPassword=\tPrivilege=14\tGroup=",
            (Some(123_456_789), "", 1, "Zhang San", 14, true),
        ),
    ];
    for (command, (card, password, group, name, privilege, disabled)) in cases {
        assert!(rig.reply(command).ends_with("&Return=0&CMD=DATA UPDATE"));
        let user = rig.read(|tx| tx.user("1")).unwrap();
        assert_eq!(
            (
                user.card,
                user.password.as_str(),
                user.group,
                user.name.as_str(),
                user.privilege,
                user.disabled
            ),
            (card, password, group, name, privilege, disabled),
            "{command}"
        );
    }
    // StartTime/EndTime: YYYYMMDD, the end taken to the day's last second.
    rig.run("C:4:DATA UPDATE user Pin=1\tStartTime=20260101\tEndTime=20261231");
    let user = rig.read(|tx| tx.user("1")).unwrap();
    assert_eq!(
        (user.valid_from, user.valid_until, user.card),
        (
            Some(LocalDateTime::new(2026, 1, 1, 0, 0, 0).unwrap()),
            Some(LocalDateTime::new(2026, 12, 31, 23, 59, 59).unwrap()),
            Some(123_456_789)
        )
    );
}

#[test]
fn rows_of_the_other_tables_are_stored_as_sent() {
    let mut rig = Rig::new();
    rig.run("C:1:DATA UPDATE user Pin=1\nC:2:DATA UPDATE user Pin=2");
    rig.replies();
    let cases = [
        // A lost card: its flag is kept with the card.
        "C:501:DATA UPDATE mulcarduser Pin=1 CardNo=CC9932DD LossCardFlag=1 CardType=0",
        // An update of (pin, time zone) replaces its doors [AMB-46].
        "C:10:DATA UPDATE userauthorize Pin=1\tAuthorizeTimezoneId=1\tAuthorizeDoorId=3",
        "C:11:DATA UPDATE userauthorize Pin=1\tAuthorizeTimezoneId=1\tAuthorizeDoorId=2",
        "C:12:DATA UPDATE SuperAuthorize Pin=2\tDoorID=2",
        // Several records of one command: the lines after the first.
        "C:13:DATA UPDATE holiday Holiday=20261225\tHolidayType=2\tLoop=2\nHoliday=20260101\tHolidayType=3\tLoop=1",
    ];
    for command in cases {
        assert!(rig.reply(command).ends_with("&Return=0&CMD=DATA UPDATE"));
    }
    assert_eq!(
        rig.read(|tx| tx.card(SEED_CARD)),
        Some(Card {
            number: SEED_CARD,
            pin: "1".into(),
            lost: true
        })
    );
    let doors: Vec<u64> = rig
        .read(|tx| tx.authorizations_of("1"))
        .iter()
        .map(|a| a.doors)
        .collect();
    assert_eq!(doors, [2]);
    assert!(rig.read(|tx| tx.is_super_user("2", 2)));
    let holidays: Vec<(i32, u8, u8, u8, bool)> = rig
        .read(|tx| tx.holidays())
        .iter()
        .map(|h| (h.year, h.month, h.day, h.kind, h.yearly))
        .collect();
    assert_eq!(holidays, [(2026, 1, 1, 3, true), (2026, 12, 25, 2, false)]);
}

/// A look at the store after a command.
type Check = fn(&mut Rig) -> bool;

#[test]
fn door_parameters_and_device_rules_are_persisted() {
    let mut rig = Rig::new();
    // (command, whether the store holds what it set)
    let cases: [(&str, Check); 5] = [
        (
            "C:20:DATA UPDATE DoorParameters ID=2\tName=DoorDrivertime\tValue=9",
            |rig| rig.door(2).drive_secs == 9 && rig.door(1).drive_secs == 5,
        ),
        (
            "C:21:DATA UPDATE DoorParameters ID=1\tName=MaskFlag\tValue=1",
            |rig| rig.door(1).locked,
        ),
        ("C:22:DATA UPDATE DoorProperty ID=2\tDisable=1", |rig| {
            rig.door(2).disabled && rig.door(2).drive_secs == 9
        }),
        // App 8's 196 is read as 192 [AMB-32].
        (
            "C:23:DATA UPDATE DevParameters ID=14\tName=AntiPassback\tValue=196",
            |rig| rig.read(|tx| tx.device_rules()).anti_passback == 192,
        ),
        (
            "C:24:DATA UPDATE DevParameters ID=14\tName=InterLock\tValue=2",
            |rig| {
                rig.read(|tx| tx.device_rules())
                    == DeviceRules {
                        anti_passback: 192,
                        interlock: 2,
                    }
            },
        ),
    ];
    for (command, stored) in cases {
        let effects = rig.run(command);
        assert!(rig.replies()[0].ends_with("&Return=0&CMD=DATA UPDATE"));
        assert!(effects.access_changed, "{command}");
        assert!(stored(&mut rig), "{command}");
    }
}

// --- refusals ---

/// Commands refused with their App 1 code [note §9.1]: (command, reply). Each runs alone on the
/// same store, which holds user 1.
const REFUSED: [(&str, &str); 29] = [
    // -11: a field that does not read, or a door this controller does not have.
    // Wiegand formats the decoder could not use are refused, not kept to fail at every card.
    (
        "C:630:DATA UPDATE WGFormat ID=1\tCardBit=26\tCardFormat=pcccccccccccccccccccccccczp",
        "ID=630&Return=-11&CMD=DATA UPDATE",
    ),
    (
        "C:631:DATA UPDATE DefaultWGFormat ID=1\tCardBit=34\tCardFormat=pccccccccccccccccccccccccp",
        "ID=631&Return=-11&CMD=DATA UPDATE",
    ),
    (
        "C:632:DATA UPDATE WGFormat ID=1\tCardFormat=pccp:eeoo\tExtParityFormat=eezo",
        "ID=632&Return=-11&CMD=DATA UPDATE",
    ),
    (
        "C:633:DATA UPDATE ReaderWGFormat ReaderID=1\tWGFormatID=1\tReversalType=5",
        "ID=633&Return=-11&CMD=DATA UPDATE",
    ),
    (
        "C:601:DATA UPDATE user Pin=1\tPrivilege=boss",
        "ID=601&Return=-11&CMD=DATA UPDATE",
    ),
    (
        "C:602:DATA UPDATE userauthorize Pin=1\tAuthorizeTimezoneId=1",
        "ID=602&Return=-11&CMD=DATA UPDATE",
    ),
    (
        "C:603:DATA UPDATE mulcarduser Pin=99\tCardNo=CC9932DD",
        "ID=603&Return=-11&CMD=DATA UPDATE",
    ),
    (
        "C:604:DATA UPDATE firstcard DoorID=3\tTimezoneID=1\tPin=1",
        "ID=604&Return=-11&CMD=DATA UPDATE",
    ),
    (
        "C:605:DATA UPDATE DoorParameters ID=3\tName=DoorDrivertime\tValue=9",
        "ID=605&Return=-11&CMD=DATA UPDATE",
    ),
    (
        "C:606:CONTROL DEVICE 01030105",
        "ID=606&Return=-11&CMD=CONTROL DEVICE",
    ),
    (
        "C:607:CONTROL DEVICE 01ZZ0105",
        "ID=607&Return=-11&CMD=CONTROL DEVICE",
    ),
    // CC of operation 01 is 01 (lock) or 02 (aux output); 00 is not defined [seed 003 §9.4].
    (
        "C:623:CONTROL DEVICE 01000000",
        "ID=623&Return=-11&CMD=CONTROL DEVICE",
    ),
    (
        "C:608:SET OPTIONS Door1Drivertime=soon",
        "ID=608&Return=-11&CMD=SET OPTIONS",
    ),
    (
        "C:609:SET OPTIONS Door3Drivertime=5",
        "ID=609&Return=-11&CMD=SET OPTIONS",
    ),
    // -629: a table that does not exist, or does not take the operation.
    (
        "C:610:DATA UPDATE footable A=1",
        "ID=610&Return=-629&CMD=DATA UPDATE",
    ),
    (
        "C:611:DATA UPDATE transaction pin=1",
        "ID=611&Return=-629&CMD=DATA UPDATE",
    ),
    (
        "C:612:DATA COUNT footable",
        "ID=612&Return=-629&CMD=DATA COUNT",
    ),
    (
        "C:613:DATA QUERY tablename=footable,fielddesc=*,filter=*",
        "ID=613&Return=-629&CMD=DATA QUERY",
    ),
    // -621: a condition the table is not deleted, counted or queried by.
    (
        "C:614:DATA DELETE user Name=Zhang San",
        "ID=614&Return=-621&CMD=DATA DELETE",
    ),
    (
        "C:615:DATA DELETE transaction pin=1",
        "ID=615&Return=-621&CMD=DATA DELETE",
    ),
    (
        "C:616:DATA COUNT user Pin=1",
        "ID=616&Return=-621&CMD=DATA COUNT",
    ),
    (
        "C:617:DATA QUERY tablename=transaction,fielddesc=*,filter=pin=1",
        "ID=617&Return=-621&CMD=DATA QUERY",
    ),
    (
        "C:618:DATA QUERY tablename=user,fielddesc=*,filter=Pin=1",
        "ID=618&Return=-621&CMD=DATA QUERY",
    ),
    // -13: not a command of this dialect.
    ("C:619:FOO BAR", "ID=619&Return=-13&CMD=FOO"),
    ("C:620:INFO", "ID=620&Return=-13&CMD=INFO"),
    // -708: a command of the dialect this controller does not carry out.
    (
        "C:621:ACCOUNT transaction MaxIndex=0",
        "ID=621&Return=-708&CMD=ACCOUNT",
    ),
    (
        "C:622:CONTROL DEVICE 01010205",
        "ID=622&Return=-708&CMD=CONTROL DEVICE",
    ),
    // Seed §9.4 example 4, the Wiegand test.
    (
        "C:224:CONTROL DEVICE 0900000000",
        "ID=224&Return=-708&CMD=CONTROL DEVICE",
    ),
    // -108: no option this controller knows (seed §9.5.1 example) [AMB-36].
    (
        "C:399:SET OPTIONS WebServerIP=192.168.213.221,WebServerPort=8088",
        "ID=399&Return=-108&CMD=SET OPTIONS",
    ),
];

#[test]
fn refused_commands_get_their_app1_code_and_change_nothing() {
    let mut rig = Rig::new();
    rig.run("C:1:DATA UPDATE user Pin=1\tName=Zhang San");
    rig.replies();
    for (command, reply) in REFUSED {
        let effects = rig.run(command);
        assert_eq!(rig.replies(), [reply], "{command}");
        assert_eq!(effects, Effects::default(), "{command}");
    }
    assert_eq!(rig.read(|tx| tx.count_users()), 1);
    assert_eq!(rig.read(|tx| tx.user("1")).unwrap().privilege, 0);
    assert!(rig.read(|tx| tx.authorizations_of("1")).is_empty());
    assert_eq!(rig.read(|tx| tx.card(SEED_CARD)), None);
    assert_eq!(
        rig.read(|tx| tx.door_settings())[..DOORS],
        [DoorSettings::default(), DoorSettings::default()]
    );
    assert!(!rig.read(|tx| tx.has_query_job()));
}

#[test]
fn a_refused_record_undoes_the_records_before_it() {
    let mut rig = Rig::new();
    let reply =
        rig.reply("C:1:DATA UPDATE user Pin=1\tName=Ann\nPin=2\tName=Bo\nPin=3\tPrivilege=boss");
    assert_eq!(reply, "ID=1&Return=-11&CMD=DATA UPDATE");
    assert_eq!(rig.read(|tx| tx.count_users()), 0);
}

// --- DATA DELETE ---

/// What the access tables hold, as counts over the two users and two doors the deletes work on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rows {
    users: i64,
    authorizations: usize,
    timezones: usize,
    holidays: usize,
    first_cards: usize,
    multi_card_groups: usize,
    super_users: usize,
    extra_cards: usize,
    lost_cards: usize,
    transactions: i64,
    door1_disabled: bool,
    door2_drive_secs: u8,
    anti_passback: u16,
    readers: usize,
    /// `DefaultWGFormat` rows, `WGFormat` rows.
    formats: (usize, usize),
    reader_formats: usize,
}

/// [`Rows`] after [`fill_tables`].
const FULL: Rows = Rows {
    users: 2,
    authorizations: 3,
    timezones: 2,
    holidays: 2,
    first_cards: 2,
    multi_card_groups: 2,
    super_users: 2,
    extra_cards: 2,
    lost_cards: 1,
    transactions: 3,
    door1_disabled: true,
    door2_drive_secs: 9,
    anti_passback: 1,
    readers: 2,
    formats: (2, 2),
    reader_formats: 2,
};

/// The second user's extra card.
const OTHER_CARD: u64 = 0xDD99_32CC;

fn fill_tables(rig: &mut Rig) {
    rig.run(concat!(
        "C:1:DATA UPDATE user Pin=1\nPin=2\n",
        "C:2:DATA UPDATE mulcarduser Pin=1\tCardNo=CC9932DD\tLossCardFlag=1\nPin=2\tCardNo=DD9932CC\n",
        "C:3:DATA UPDATE userauthorize Pin=1\tAuthorizeTimezoneId=1\tAuthorizeDoorId=1\n",
        "Pin=1\tAuthorizeTimezoneId=2\tAuthorizeDoorId=2\nPin=2\tAuthorizeTimezoneId=1\tAuthorizeDoorId=3\n",
        "C:4:DATA UPDATE timezone TimezoneId=1\tMonTime1=54396080\nTimezoneId=2\tTueTime1=54396080\n",
        "C:5:DATA UPDATE holiday Holiday=20100101\tHolidayType=1\tLoop=1\nHoliday=20261225\tHolidayType=2\tLoop=2\n",
        "C:6:DATA UPDATE firstcard DoorID=1\tTimezoneID=1\tPin=1\nDoorID=2\tTimezoneID=1\tPin=2\n",
        "C:7:DATA UPDATE multimcard Index=1\tDoorId=1\tGroup1=1\nIndex=2\tDoorId=2\tGroup1=2\n",
        "C:8:DATA UPDATE SuperAuthorize Pin=1\tDoorID=2\nPin=2\tDoorID=1\n",
        "C:9:DATA UPDATE DoorProperty ID=1\tDisable=1\n",
        "C:10:DATA UPDATE DoorParameters ID=2\tName=DoorDrivertime\tValue=9\n",
        "C:11:DATA UPDATE DevParameters ID=14\tName=AntiPassback\tValue=1\n",
        "C:12:DATA UPDATE ReaderProperty ReaderID=1\tDoorID=1\tInOut=0\n",
        "ReaderID=2\tDoorID=1\tInOut=1\n",
        "C:13:DATA UPDATE DefaultWGFormat ID=1\tCardBit=26\tCardFormat=",
        "pccccccccccccccccccccccccp:eeeeeeeeeeeeeooooooooooooo\n",
        "ID=2\tCardBit=34\tCardFormat=",
        "pccccccccccccccccccccccccccccccccp:eeeeeeeeeeeeeeeeeooooooooooooooooo\n",
        "C:14:DATA UPDATE WGFormat ID=1\tCardFormat=pssssssssccccccccccccccccp\n",
        "ID=2\tCardFormat=pccccccccccccccccccccccccp\tIsDefault=1\n",
        "C:15:DATA UPDATE ReaderWGFormat ReaderID=1\tDevID=14\tWGFormatID=1\n",
        "ReaderID=2\tDevID=24\tWGFormatID=2\tReversalType=1\n",
    ));
    for time in [
        "2026-11-23 08:00:00",
        "2026-11-23 09:00:00",
        "2026-11-23 10:00:00",
    ] {
        rig.event(time);
    }
    assert!(rig.replies().iter().all(|r| r.contains("&Return=0&")));
    assert_eq!(rows(rig), FULL);
}

fn rows(rig: &mut Rig) -> Rows {
    let (door1, door2) = (rig.door(1), rig.door(2));
    rig.read(|tx| {
        let pins = ["1", "2"];
        let mut authorizations = 0;
        let mut super_users = 0;
        for pin in pins {
            authorizations += tx.authorizations_of(pin)?.len();
            for door in 1..=2 {
                super_users += usize::from(tx.is_super_user(pin, door)?);
            }
        }
        let reader_tables = tx.reader_tables()?;
        let cards: Vec<Card> = [SEED_CARD, OTHER_CARD]
            .into_iter()
            .filter_map(|n| tx.card(n).transpose())
            .collect::<Result<_, _>>()?;
        Ok(Rows {
            users: tx.count_users()?,
            authorizations,
            timezones: tx.timezone(1)?.iter().chain(&tx.timezone(2)?).count(),
            holidays: tx.holidays()?.len(),
            first_cards: tx.first_cards(1)?.len() + tx.first_cards(2)?.len(),
            multi_card_groups: tx.multi_card_groups(1)?.len() + tx.multi_card_groups(2)?.len(),
            super_users,
            extra_cards: cards.len(),
            lost_cards: cards.iter().filter(|c| c.lost).count(),
            transactions: tx.count_records(RecordKind::RtLog)?,
            door1_disabled: door1.disabled,
            door2_drive_secs: door2.drive_secs,
            anti_passback: tx.device_rules()?.anti_passback,
            readers: reader_tables.readers.len(),
            formats: (
                reader_tables
                    .formats
                    .iter()
                    .filter(|f| f.list == FormatList::Default)
                    .count(),
                reader_tables
                    .formats
                    .iter()
                    .filter(|f| f.list == FormatList::Custom)
                    .count(),
            ),
            reader_formats: reader_tables.reader_formats.len(),
        })
    })
}

#[test]
fn deletes_remove_exactly_the_rows_named() {
    // (command, reply, rows after), each on freshly filled tables. The seed's examples reuse ids
    // (342 …), which is why each runs on its own store.
    let cases = [
        (
            "C:335:DATA DELETE userauthorize Pin=1",
            "ID=335&Return=0&CMD=DATA DELETE",
            Rows {
                authorizations: 1,
                ..FULL
            },
        ),
        (
            "C:336:DATA DELETE templatev10 Pin=1",
            "ID=336&Return=0&CMD=DATA DELETE",
            FULL,
        ),
        // The user goes with their cards and rights [note §5.1].
        (
            "C:337:DATA DELETE user Pin=1",
            "ID=337&Return=0&CMD=DATA DELETE",
            Rows {
                users: 1,
                authorizations: 1,
                first_cards: 1,
                super_users: 1,
                extra_cards: 1,
                lost_cards: 0,
                ..FULL
            },
        ),
        (
            "C:337:DATA DELETE extuser Pin=1",
            "ID=337&Return=0&CMD=DATA DELETE",
            FULL,
        ),
        (
            "C:337:DATA DELETE mulcarduser Pin=1",
            "ID=337&Return=0&CMD=DATA DELETE",
            Rows {
                extra_cards: 1,
                lost_cards: 0,
                ..FULL
            },
        ),
        (
            "C:123:DATA DELETE transaction *",
            "ID=123&Return=0&CMD=DATA DELETE",
            Rows {
                transactions: 0,
                ..FULL
            },
        ),
        (
            "C:123: DATA DELETE holiday *",
            "ID=123&Return=0&CMD=DATA DELETE",
            Rows {
                holidays: 0,
                ..FULL
            },
        ),
        (
            "C:342:DATA DELETE timezone TimezoneId=1",
            "ID=342&Return=0&CMD=DATA DELETE",
            Rows {
                timezones: 1,
                ..FULL
            },
        ),
        (
            "C:342:DATA DELETE firstcard DoorID=1",
            "ID=342&Return=0&CMD=DATA DELETE",
            Rows {
                first_cards: 1,
                ..FULL
            },
        ),
        (
            "C:343: DATA DELETE firstcard Pin=1",
            "ID=343&Return=0&CMD=DATA DELETE",
            Rows {
                first_cards: 1,
                ..FULL
            },
        ),
        (
            "C:342:DATA DELETE multimcard Index=1",
            "ID=342&Return=0&CMD=DATA DELETE",
            Rows {
                multi_card_groups: 1,
                ..FULL
            },
        ),
        (
            "C:342: DATA DELETE DevParameters *",
            "ID=342&Return=0&CMD=DATA DELETE",
            Rows {
                anti_passback: 0,
                ..FULL
            },
        ),
        (
            "C:342:DATA DELETE DoorProperty *",
            "ID=342&Return=0&CMD=DATA DELETE",
            Rows {
                door1_disabled: false,
                ..FULL
            },
        ),
        (
            "C:342:DATA DELETE DoorParameters *",
            "ID=342&Return=0&CMD=DATA DELETE",
            Rows {
                door2_drive_secs: 5,
                ..FULL
            },
        ),
        (
            "C:342:DATA DELETE ReaderProperty*",
            "ID=342&Return=0&CMD=DATA DELETE",
            Rows { readers: 0, ..FULL },
        ),
        (
            "C:342:DATA DELETE ReaderProperty ReaderID=2",
            "ID=342&Return=0&CMD=DATA DELETE",
            Rows { readers: 1, ..FULL },
        ),
        (
            "C:342:DATA DELETE DefaultWGFormat ID=1",
            "ID=342&Return=0&CMD=DATA DELETE",
            Rows {
                formats: (1, 2),
                ..FULL
            },
        ),
        (
            "C:343:DATA DELETE DefaultWGFormat CardBit=34",
            "ID=343&Return=0&CMD=DATA DELETE",
            Rows {
                formats: (1, 2),
                ..FULL
            },
        ),
        // `*` deletes the formats of the list named, not the other list nor the readers'.
        (
            "C:342:DATA DELETE WGFormat *",
            "ID=342&Return=0&CMD=DATA DELETE",
            Rows {
                formats: (2, 0),
                ..FULL
            },
        ),
        // The seed deletes reader formats under the name WGFormat [AMB-15].
        (
            "C:342:DATA DELETE WGFormat ReaderID=1",
            "ID=342&Return=0&CMD=DATA DELETE",
            Rows {
                reader_formats: 1,
                ..FULL
            },
        ),
        (
            "C:343:DATA DELETE WGFormat DevID=24",
            "ID=343&Return=0&CMD=DATA DELETE",
            Rows {
                reader_formats: 1,
                ..FULL
            },
        ),
        (
            "C:344:DATA DELETE ReaderWGFormat *",
            "ID=344&Return=0&CMD=DATA DELETE",
            Rows {
                reader_formats: 0,
                ..FULL
            },
        ),
        (
            "C:345:DATA DELETE WGFormat FormatName=Wiegand 26",
            "ID=345&Return=-621&CMD=DATA DELETE",
            FULL,
        ),
        (
            "C:342:DATA DELETE SuperAuthorize Pin=1",
            "ID=342&Return=0&CMD=DATA DELETE",
            Rows {
                super_users: 1,
                ..FULL
            },
        ),
        (
            "C:344:DATA DELETE userauthorize *",
            "ID=344&Return=0&CMD=DATA DELETE",
            Rows {
                authorizations: 0,
                ..FULL
            },
        ),
        (
            "C:345:DATA DELETE timezone TimezoneId=1\nTimezoneId=2",
            "ID=345&Return=0&CMD=DATA DELETE",
            Rows {
                timezones: 0,
                ..FULL
            },
        ),
        // Deleting what is not there succeeds [note §5.1].
        (
            "C:346:DATA DELETE user Pin=99",
            "ID=346&Return=0&CMD=DATA DELETE",
            FULL,
        ),
        // Conditions the store cannot delete by are refused, not widened to every row.
        (
            "C:347:DATA DELETE userauthorize AuthorizeTimezoneId=1",
            "ID=347&Return=-621&CMD=DATA DELETE",
            FULL,
        ),
        (
            "C:348:DATA DELETE userauthorize Pin=1\tAuthorizeTimezoneId=1",
            "ID=348&Return=-621&CMD=DATA DELETE",
            FULL,
        ),
        (
            "C:349:DATA DELETE SuperAuthorize DoorID=1",
            "ID=349&Return=-621&CMD=DATA DELETE",
            FULL,
        ),
        (
            "C:350:DATA DELETE mulcarduser CardNo=CC9932DD",
            "ID=350&Return=-621&CMD=DATA DELETE",
            FULL,
        ),
        (
            "C:351:DATA DELETE firstcard TimezoneID=1",
            "ID=351&Return=-621&CMD=DATA DELETE",
            FULL,
        ),
        (
            "C:352:DATA DELETE firstcard DoorID=1\tPin=1",
            "ID=352&Return=-621&CMD=DATA DELETE",
            FULL,
        ),
        // A refused condition undoes the ones before it in the same command.
        (
            "C:353:DATA DELETE timezone TimezoneId=1\nTimezoneId=x",
            "ID=353&Return=-11&CMD=DATA DELETE",
            FULL,
        ),
    ];
    for (command, reply, after) in cases {
        let mut rig = Rig::new();
        fill_tables(&mut rig);
        let effects = rig.run(command);
        assert_eq!(rig.replies(), [reply], "{command}");
        assert_eq!(rows(&mut rig), after, "{command}");
        let door_tables = after.door1_disabled != FULL.door1_disabled
            || after.door2_drive_secs != FULL.door2_drive_secs
            || after.anti_passback != FULL.anti_passback
            || (after.readers, after.formats, after.reader_formats)
                != (FULL.readers, FULL.formats, FULL.reader_formats);
        assert_eq!(effects.access_changed, door_tables, "{command}");
    }
}

// --- duplicates ---

#[test]
fn a_command_id_seen_again_is_answered_minus_7_and_not_run_again() {
    let mut rig = Rig::new();
    rig.run("C:A1:DATA UPDATE user Pin=5\tName=Bo");
    rig.run("C:A2:DATA DELETE user Pin=5");
    assert_eq!(
        rig.replies(),
        [
            "ID=A1&Return=0&CMD=DATA UPDATE",
            "ID=A2&Return=0&CMD=DATA DELETE"
        ]
    );
    // The server sends A1 again after taking its reply: a repeated command (-7, C15), and the
    // user stays deleted.
    rig.run("C:A1:DATA UPDATE user Pin=5\tName=Bo");
    assert_eq!(rig.replies(), ["ID=A1&Return=-7&CMD=DATA UPDATE"]);
    assert_eq!(rig.read(|tx| tx.count_users()), 0);
    // Sent again before its first reply went out: the first reply stays queued, alone.
    rig.run("C:A3:DATA UPDATE user Pin=6");
    rig.run("C:A3:DATA UPDATE user Pin=6");
    assert_eq!(rig.replies(), ["ID=A3&Return=0&CMD=DATA UPDATE"]);
    // A door is not opened twice, and a refusal is not run twice either.
    for (command, reply, repeated) in [
        (
            "C:221:CONTROL DEVICE 01010105",
            "ID=221&Return=0&CMD=CONTROL DEVICE",
            "ID=221&Return=-7&CMD=CONTROL DEVICE",
        ),
        (
            "C:606:CONTROL DEVICE 01030105",
            "ID=606&Return=-11&CMD=CONTROL DEVICE",
            "ID=606&Return=-7&CMD=CONTROL DEVICE",
        ),
    ] {
        let first = rig.run(command);
        assert_eq!(rig.replies(), [reply]);
        let again = rig.run(command);
        assert_eq!(rig.replies(), [repeated]);
        assert_eq!(again, Effects::default(), "{command}");
        assert_eq!(
            first.remote_commands.len(),
            usize::from(reply.contains("=0&"))
        );
    }
}

// --- DATA COUNT, DATA QUERY: answered through querydata ---

/// The seed's user-query example has three users (§9.1.4).
fn three_users(rig: &mut Rig) {
    rig.run("C:1:DATA UPDATE user Pin=1\nPin=2\tPassword=1\nPin=3");
    rig.replies();
}

/// Finishes `job` as the engine does once its last package is acknowledged; it was the only one.
fn finish(rig: &mut Rig, job: &QueryJob) {
    rig.store
        .write(|tx| {
            tx.finish_query_job(&job.cmd_id)?;
            answer_query(tx, &job.cmd_id, job.reply.as_deref(), NOW_MS / 1000)
        })
        .unwrap();
    assert!(!rig.read(|tx| tx.has_query_job()));
}

#[test]
fn count_uploads_the_number_then_answers_zero() {
    let mut rig = Rig::new();
    three_users(&mut rig);
    rig.event("2026-11-23 07:59:59");
    rig.event("2026-11-23 08:00:00");
    rig.event("2026-11-23 08:59:59");
    // (command, querydata body, reply once uploaded) [seed 003 §9.1.3, AMB-22].
    let cases = [
        (
            "C:288:DATA COUNT user",
            "user=3",
            "ID=288&Return=0&CMD=DATA COUNT",
        ),
        (
            "C:289:DATA COUNT transaction",
            "transaction=3",
            "ID=289&Return=0&CMD=DATA COUNT",
        ),
        (
            "C:290:DATA COUNT transaction starttime=2026-11-23 08:00:00\tendtime=2026-11-23 08:59:59",
            "transaction=2",
            "ID=290&Return=0&CMD=DATA COUNT",
        ),
        (
            "C:80:DATA COUNT biophoto Type=9",
            "biophoto=0",
            "ID=80&Return=0&CMD=DATA COUNT",
        ),
    ];
    for (command, body, reply) in cases {
        rig.run(command);
        assert!(
            rig.replies().is_empty(),
            "{command}: no reply before the upload"
        );
        let job = rig.job();
        assert_eq!(
            (job.target, job.payload.as_deref(), job.reply.as_deref()),
            (QueryTarget::Count, Some(body), Some(reply)),
            "{command}"
        );
        // The server sends the command again while the count is uploading: it is not run again.
        rig.run(command);
        assert!(rig.replies().is_empty(), "{command}");
        finish(&mut rig, &job);
        assert_eq!(rig.replies(), [reply], "{command}");
    }
}

#[test]
fn query_jobs_cover_the_rows_the_command_asked_for() {
    let mut rig = Rig::new();
    three_users(&mut rig);
    let first = rig.event("2026-11-23 07:00:00");
    rig.event("2026-11-23 08:00:00");
    rig.event("2026-11-23 08:30:00");
    let last = rig.event("2026-11-23 09:30:00");
    // The server has the first event already.
    rig.store
        .write(|tx| tx.ack_upload(StampTable::RtLog, first, 1, false, 0))
        .unwrap();
    let window = |h: u8, m: u8| Some(LocalDateTime::new(2026, 11, 23, h, m, 0).unwrap());
    // (command, target, rows announced, time window, last record covered, reply once uploaded)
    let cases = [
        (
            "C:415:DATA QUERY tablename=user,fielddesc=*,filter=*",
            QueryTarget::Users,
            3,
            (None, None),
            None,
            "ID=415&Return=3&CMD=DATA QUERY",
        ),
        (
            "C:416:DATA QUERY tablename=transaction,fielddesc=*,filter=NewRecord",
            QueryTarget::NewTransactions,
            3,
            (None, None),
            Some(last),
            "ID=416&Return=3&CMD=DATA QUERY",
        ),
        (
            "C:417:DATA QUERY tablename=transaction,fielddesc=*,filter=*",
            QueryTarget::Transactions,
            4,
            (None, None),
            Some(last),
            "ID=417&Return=4&CMD=DATA QUERY",
        ),
        (
            "C:418:DATA QUERY tablename=transaction,fielddesc=*,filter=starttime=2026-11-23 08:00:00\\tendtime=2026-11-23 09:00:00",
            QueryTarget::Transactions,
            2,
            (window(8, 0), window(9, 0)),
            Some(last),
            "ID=418&Return=2&CMD=DATA QUERY",
        ),
    ];
    for (command, target, total, (from, to), upto, reply) in cases {
        rig.run(command);
        assert!(
            rig.replies().is_empty(),
            "{command}: no reply before the upload"
        );
        let job = rig.job();
        assert_eq!(
            (
                job.target,
                job.total,
                job.time_from,
                job.time_to,
                job.upto_id,
                job.reply.as_deref(),
                job.uploaded,
                job.payload.as_deref(),
            ),
            (target, total, from, to, upto, Some(reply), 0, None),
            "{command}"
        );
        finish(&mut rig, &job);
        assert_eq!(rig.replies(), [reply], "{command}");
    }
}

#[test]
fn a_query_with_no_rows_answers_zero_at_once() {
    let mut rig = Rig::new();
    let first = rig.event("2026-11-23 07:00:00");
    rig.store
        .write(|tx| tx.ack_upload(StampTable::RtLog, first, 1, false, 0))
        .unwrap();
    let cases = [
        (
            "C:415:DATA QUERY tablename=user,fielddesc=*,filter=*",
            "ID=415&Return=0&CMD=DATA QUERY",
        ),
        (
            "C:416:DATA QUERY tablename=transaction,fielddesc=*,filter=NewRecord",
            "ID=416&Return=0&CMD=DATA QUERY",
        ),
        (
            "C:417:DATA QUERY tablename=transaction,fielddesc=*,filter=starttime=2026-11-24 00:00:00\tendtime=2026-11-24 23:59:59",
            "ID=417&Return=0&CMD=DATA QUERY",
        ),
        (
            "C:99:DATA QUERY tablename=biophoto,fielddesc=*,filter=*",
            "ID=99&Return=0&CMD=DATA QUERY",
        ),
        (
            "C:419:DATA QUERY tablename=[APList],fielddesc=*,filter=*",
            "ID=419&Return=0&CMD=DATA QUERY",
        ),
    ];
    for (command, reply) in cases {
        rig.run(command);
        assert_eq!(rig.replies(), [reply], "{command}");
        assert!(!rig.read(|tx| tx.has_query_job()), "{command}");
    }
}

// --- SET OPTIONS, GET OPTIONS ---

#[test]
fn set_options_writes_door_parameters_and_device_rules() {
    let mut rig = Rig::new();
    // Seed §9.5.1, "Set access control parameters"; Reader1IOState, WiegandIDIn and WiegandID
    // name no door parameter and are passed over.
    let effects = rig.run(concat!(
        "C:405:SET OPTIONS",
        " Door1Drivertime=5,Door1KeepOpenTimeZone=0,Door1ValidTZ=1,Door1SupperPas",
        "sWord=,Door1Intertime=0,Door1VerifyType=0,Door1SensorType=1,Door1Detect",
        "ortime=15,Door1CloseAndLock=0,Door1ForcePassWord=,Reader1IOState=0,Wieg",
        "andIDIn=1,WiegandID=1"
    ));
    assert_eq!(rig.replies(), ["ID=405&Return=0&CMD=SET OPTIONS"]);
    assert!(effects.access_changed);
    assert_eq!(
        rig.door(1),
        DoorSettings {
            drive_secs: 5,
            keep_open_tz: 0,
            valid_tz: 1,
            super_password: String::new(),
            inter_secs: 0,
            verify_mode: 0,
            sensor: SensorType::NormallyOpen,
            detector_secs: 15,
            close_and_lock: false,
            duress_password: String::new(),
            ..DoorSettings::default()
        }
    );
    let effects = rig.run(
        "C:406:SET OPTIONS Door1Drivertime=7,Door2FirstCardOpenDoor=2,AntiPassback=1,NoSuchOption=3",
    );
    assert_eq!(rig.replies(), ["ID=406&Return=0&CMD=SET OPTIONS"]);
    assert!(effects.access_changed);
    assert_eq!(
        (rig.door(1).drive_secs, rig.door(2).first_card),
        (7, FirstCardMode::Activation)
    );
    assert_eq!(rig.read(|tx| tx.device_rules()).anti_passback, 1);
}

#[test]
fn set_options_date_time_moves_the_clock_and_fetches_the_server_time() {
    let mut rig = Rig::new();
    // Seed §9.5.1: 583080894 is 2018-02-22 14:54:54, the server's local time (AMB-41); at UTC+8
    // that is 2018-02-22 06:54:54 UTC, Unix 1519282494.
    let effects = rig.run("C:401:SET OPTIONS DateTime=583080894");
    assert_eq!(rig.replies(), ["ID=401&Return=0&CMD=SET OPTIONS"]);
    assert_eq!(
        (effects.clock_adjust_ms, effects.fetch_time),
        (Some(1_519_282_494_000 - NOW_MS), true)
    );
    // 16:00:10 on the device is ten seconds ahead.
    let effects = rig.run("C:402:SET OPTIONS DateTime=864403210");
    assert_eq!(rig.replies(), ["ID=402&Return=0&CMD=SET OPTIONS"]);
    assert_eq!(effects.clock_adjust_ms, Some(10_000));
    // Not an App 5 time (a 31st of February does not exist).
    let bad = (18 * 12 * 31 + 31 + 30) * 86_400;
    let effects = rig.run(&format!("C:403:SET OPTIONS DateTime={bad}"));
    assert_eq!(rig.replies(), ["ID=403&Return=-11&CMD=SET OPTIONS"]);
    assert_eq!(effects, Effects::default());
}

#[test]
fn get_options_uploads_the_known_values_and_leaves_out_the_rest() {
    let mut rig = Rig::new();
    rig.run(concat!(
        "C:1:SET OPTIONS Door1Drivertime=7,Door1SupperPassWord=1234,Door1ForcePassWord=4321,",
        "AntiPassback=1,InterLock=2"
    ));
    rig.replies();
    let cases = [
        // Seed §9.5.2: ~MaxFingerCount is not a capability of this controller, and the
        // communication password is never sent.
        (
            concat!(
                "C:408:GET OPTIONS",
                " ~SerialNumber,FirmVer,~DeviceName,LockCount,ReaderCount,AuxInCount,AuxOut",
                "Count,MachineType,~IsOnlyRFMachine,~MaxUserCount,~MaxAttLogCount,~MaxFing",
                "erCount,~MaxUserFingerCount,MThreshold,NetMask,GATEIPAddress,~ZKFPVersion",
                ",SimpleEventType,VerifyStyles,EventTypes,ComPwd"
            ),
            concat!(
                "~SerialNumber=3383154200002,FirmVer=Ver 0.1.0,~DeviceName=F20/M,LockCount=2,",
                "ReaderCount=2,AuxInCount=0,AuxOutCount=0,MachineType=101,~IsOnlyRFMachine=0,",
                "~MaxUserCount=50,~MaxAttLogCount=10,~MaxUserFingerCount=10,MThreshold=60,",
                "NetMask=255.255.255.0,GATEIPAddress=192.168.213.1,~ZKFPVersion=10,",
                "SimpleEventType=1,VerifyStyles=ff7f0000,",
                "EventTypes=BF0FE03D30000100000000007000000000000000000000000077002001000000"
            ),
            "ID=408&Return=0&CMD=GET OPTIONS",
        ),
        // What SET OPTIONS set is read back; a door this controller does not have, the
        // passwords and the registry's comm key are not.
        (
            concat!(
                "C:409:GET OPTIONS Door1Drivertime,Door2Drivertime,Door3Drivertime,",
                "Door1SupperPassWord,Door1ForcePassWord,authKey,AntiPassback,InterLock,",
                "IPAddress,DoorNoSuchThing,NoSuchOption"
            ),
            "Door1Drivertime=7,Door2Drivertime=5,AntiPassback=1,InterLock=2,IPAddress=192.168.213.222",
            "ID=409&Return=0&CMD=GET OPTIONS",
        ),
    ];
    for (command, body, reply) in cases {
        let effects = rig.run(command);
        assert_eq!(effects, Effects::default());
        assert!(
            rig.replies().is_empty(),
            "{command}: no reply before the upload"
        );
        let job = rig.job();
        assert_eq!(
            (job.target, job.payload.as_deref(), job.reply.as_deref()),
            (QueryTarget::Options, Some(body), Some(reply)),
            "{command}"
        );
        for secret in ["1234", "4321", "dassas"] {
            assert!(!body.contains(secret));
        }
        finish(&mut rig, &job);
        assert_eq!(rig.replies(), [reply]);
    }
}

// --- CONTROL DEVICE ---

fn secs(n: u8) -> NonZeroU8 {
    NonZeroU8::new(n).unwrap()
}

#[test]
fn control_device_becomes_door_commands() {
    let door = |door: Option<u8>, remote| RemoteCommand::Door(DoorCommand { door, remote });
    // (command, door command) [seed 003 §9.4 examples 1 and 2, note §6.3].
    let cases = [
        (
            "C:221:CONTROL DEVICE 01010105",
            door(Some(1), Remote::OpenFor(secs(5))),
        ),
        ("C:231:CONTROL DEVICE 01000100", door(None, Remote::Close)),
        (
            "C:232:CONTROL DEVICE 010201FF",
            door(Some(2), Remote::NormalOpen),
        ),
        (
            "C:222:CONTROL DEVICE 02010000",
            door(Some(1), Remote::CancelAlarm),
        ),
        (
            "C:233:CONTROL DEVICE 02000000",
            door(None, Remote::CancelAlarm),
        ),
        (
            "C:234:CONTROL DEVICE 04010100",
            door(Some(1), Remote::TodayNormalOpen(true)),
        ),
        (
            "C:235:CONTROL DEVICE 04020000",
            door(Some(2), Remote::TodayNormalOpen(false)),
        ),
        (
            "C:236:CONTROL DEVICE 06010100",
            door(Some(1), Remote::Lockdown(true)),
        ),
        (
            "C:237:CONTROL DEVICE 06000000",
            door(None, Remote::Lockdown(false)),
        ),
        (
            "C:238:CONTROL DEVICE 07010000",
            door(None, Remote::Emergency(DoorEmergency::DualOn)),
        ),
        (
            "C:239:CONTROL DEVICE 0702000000",
            door(None, Remote::Emergency(DoorEmergency::DualOff)),
        ),
    ];
    let mut rig = Rig::new();
    for (command, expected) in cases {
        let effects = rig.run(command);
        let id = command.split(':').nth(1).unwrap();
        assert_eq!(
            rig.replies(),
            [format!("ID={id}&Return=0&CMD=CONTROL DEVICE")],
            "{command}"
        );
        assert_eq!(
            effects,
            Effects {
                remote_commands: vec![expected],
                ..Effects::default()
            },
            "{command}"
        );
    }
}

#[test]
fn control_device_drives_the_aux_outputs_the_controller_registered() {
    let mut rig = Rig::new();
    rig.capabilities.aux_out_count = 2;
    let aux = |aux: Option<u8>, action| RemoteCommand::Aux(AuxCommand { aux, action });
    // (command, reply code, aux command) [seed 003 §9.4: BB the aux output, CC 02, DD the time].
    let cases = [
        (
            "C:1:CONTROL DEVICE 01020205",
            0,
            Some(aux(Some(2), OutputAction::OpenFor(secs(5)))),
        ),
        (
            "C:2:CONTROL DEVICE 010102FF",
            0,
            Some(aux(Some(1), OutputAction::NormallyOpen)),
        ),
        (
            "C:3:CONTROL DEVICE 01000200",
            0,
            Some(aux(None, OutputAction::Close)),
        ),
        ("C:4:CONTROL DEVICE 01030205", -11, None),
    ];
    for (command, code, expected) in cases {
        let effects = rig.run(command);
        let id = command.split(':').nth(1).unwrap();
        assert_eq!(
            rig.replies(),
            [format!("ID={id}&Return={code}&CMD=CONTROL DEVICE")],
            "{command}"
        );
        assert_eq!(
            effects.remote_commands,
            Vec::from_iter(expected),
            "{command}"
        );
    }
}

#[test]
fn lockdown_is_kept_in_the_door_parameters() {
    let mut rig = Rig::new();
    rig.run("C:1:CONTROL DEVICE 06010100");
    assert_eq!((rig.door(1).locked, rig.door(2).locked), (true, false));
    rig.run("C:2:CONTROL DEVICE 06000100");
    assert_eq!((rig.door(1).locked, rig.door(2).locked), (true, true));
    rig.run("C:3:CONTROL DEVICE 06020000");
    assert_eq!((rig.door(1).locked, rig.door(2).locked), (true, false));
    // Read as the door parameter it is.
    rig.run("C:4:GET OPTIONS Door1MaskFlag,Door2MaskFlag");
    assert_eq!(
        rig.job().payload.as_deref(),
        Some("Door1MaskFlag=1,Door2MaskFlag=0")
    );
}

#[test]
fn restart_answers_first_and_leaves_the_rest_of_the_batch() {
    let mut rig = Rig::new();
    // Seed §9.4 example 3.
    let effects = rig.run("C:223:CONTROL DEVICE 03000000\nC:224:DATA UPDATE user Pin=1");
    assert_eq!(rig.replies(), ["ID=223&Return=0&CMD=CONTROL DEVICE"]);
    assert_eq!(
        effects,
        Effects {
            reboot: true,
            ..Effects::default()
        }
    );
    assert_eq!(rig.read(|tx| tx.count_users()), 0);
    assert_eq!(rig.read(|tx| tx.executed_reply("224")), None);
    // A sub-controller's restart is multi-level control, which this controller does not do.
    assert_eq!(
        rig.reply("C:225:CONTROL DEVICE 03010000"),
        "ID=225&Return=-708&CMD=CONTROL DEVICE"
    );
}
