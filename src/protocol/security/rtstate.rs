//! Real-time door state, the body of `POST /iclock/cdata?SN=…&table=rtstate` [note §3.2, §7.5;
//! seed 003 §7.3; AMB-9, AMB-10].

use crate::protocol::civil::LocalDateTime;
use crate::protocol::record::upper_hex;

/// The most doors one `rtstate` record describes (`alarm` has 8 two-digit slots) [note §3.2].
pub const MAX_DOORS: usize = 8;

/// A door sensor's reading: two bits of `sensor=` [note §3.2]. `0b11` is undefined and never
/// emitted [AMB-9].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensorState {
    /// `00`: the door-sensor type is set to none.
    NoSensor,
    /// `01`: door closed.
    Closed,
    /// `10`: door open.
    Open,
}

/// One door's alarm byte in `alarm=` [note §3.2]: bit 0 (LSB, the spec's "first bit") is forced
/// open, up to bit 7 reader disassembly [AMB-10]. Combine flags with `|`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlarmFlags(pub u8);

impl AlarmFlags {
    /// No alarm.
    pub const NONE: AlarmFlags = AlarmFlags(0);
    /// Bit 0: accidental (forced) door opening.
    pub const FORCED_OPEN: AlarmFlags = AlarmFlags(1 << 0);
    /// Bit 1: tamper.
    pub const TAMPER: AlarmFlags = AlarmFlags(1 << 1);
    /// Bit 2: duress password.
    pub const DURESS_PASSWORD: AlarmFlags = AlarmFlags(1 << 2);
    /// Bit 3: duress fingerprint.
    pub const DURESS_FINGERPRINT: AlarmFlags = AlarmFlags(1 << 3);
    /// Bit 4: door-sensor timeout (held open).
    pub const DOOR_HELD_OPEN: AlarmFlags = AlarmFlags(1 << 4);
    /// Bit 5: mains power failure.
    pub const MAINS_FAILURE: AlarmFlags = AlarmFlags(1 << 5);
    /// Bit 6: battery failure.
    pub const BATTERY_FAILURE: AlarmFlags = AlarmFlags(1 << 6);
    /// Bit 7: reader disassembly.
    pub const READER_TAMPER: AlarmFlags = AlarmFlags(1 << 7);
}

impl std::ops::BitOr for AlarmFlags {
    type Output = AlarmFlags;

    fn bitor(self, rhs: AlarmFlags) -> AlarmFlags {
        AlarmFlags(self.0 | rhs.0)
    }
}

/// What the firmware tracks per door for `rtstate` [note §7.5].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoorState {
    /// Door-sensor reading.
    pub sensor: SensorState,
    /// The lock relay is energised (door released).
    pub relay_energised: bool,
    /// Latched alarms, cleared by CONTROL DEVICE 02 [note §7.5].
    pub alarms: AlarmFlags,
}

/// Which relay state sets a door's `relay=` bit [AMB-9]. The note recommends
/// [`RelayPolarity::SetWhenEnergised`] but asks for it to stay configurable until a reference
/// server confirms it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RelayPolarity {
    /// Bit set = relay energised / door released (the note's recommendation).
    #[default]
    SetWhenEnergised,
    /// Bit set = relay released, the literal "0 = connected" reading of seed 003 §7.3.
    SetWhenReleased,
}

/// A door count the record cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rtstate describes at most {MAX_DOORS} doors, got {0}")]
pub struct TooManyDoors(pub usize);

/// The `rtstate` record for doors 1..=n (`doors[0]` is door 1) [note §3.2, AMB-9, AMB-10]:
///
/// - `sensor=`: ⌈n/4⌉ bytes (at least one) as uppercase hex, first byte = doors 1–4, door k of a
///   byte in bits 2(k−1)..2(k−1)+1 (door 1 in the two least significant bits);
/// - `relay=`: one byte, bit n−1 = door n, polarity as given;
/// - `alarm=`: always 16 hex digits, two per door, door 1 first, `00` for absent doors.
///
/// Fields are HT-separated with no trailing separator [note §1.3].
pub fn encode(
    time: &LocalDateTime,
    doors: &[DoorState],
    polarity: RelayPolarity,
) -> Result<String, TooManyDoors> {
    if doors.len() > MAX_DOORS {
        return Err(TooManyDoors(doors.len()));
    }
    let mut sensor = [0u8; MAX_DOORS / 4];
    let mut relay = 0u8;
    let mut alarm = [0u8; MAX_DOORS];
    for (i, door) in doors.iter().enumerate() {
        let bits = match door.sensor {
            SensorState::NoSensor => 0b00,
            SensorState::Closed => 0b01,
            SensorState::Open => 0b10,
        };
        sensor[i / 4] |= bits << (2 * (i % 4));
        let set = match polarity {
            RelayPolarity::SetWhenEnergised => door.relay_energised,
            RelayPolarity::SetWhenReleased => !door.relay_energised,
        };
        if set {
            relay |= 1 << i;
        }
        alarm[i] = door.alarms.0;
    }
    let sensor_bytes = doors.len().div_ceil(4).max(1);
    Ok(format!(
        "time={time}\tsensor={}\trelay={relay:02X}\talarm={}",
        upper_hex(&sensor[..sensor_bytes]),
        upper_hex(&alarm)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time() -> LocalDateTime {
        LocalDateTime::new(2017, 1, 10, 15, 42, 40).unwrap()
    }

    fn door(sensor: SensorState, relay_energised: bool, alarms: AlarmFlags) -> DoorState {
        DoorState {
            sensor,
            relay_energised,
            alarms,
        }
    }

    /// `(sensor, relay, alarm)` values of the encoded record.
    fn fields(doors: &[DoorState], polarity: RelayPolarity) -> (String, String, String) {
        let text = encode(&time(), doors, polarity).unwrap();
        let value = |key: &str| {
            text.split('\t')
                .find_map(|f| f.strip_prefix(key))
                .unwrap()
                .to_owned()
        };
        (value("sensor="), value("relay="), value("alarm="))
    }

    #[test]
    fn reproduces_the_seed_example() {
        // Seed 003 §7.3: one door without sensor, relay bit clear, tamper alarm.
        let doors = [door(SensorState::NoSensor, false, AlarmFlags::TAMPER)];
        assert_eq!(
            encode(&time(), &doors, RelayPolarity::SetWhenEnergised).unwrap(),
            "time=2017-01-10 15:42:40\tsensor=00\trelay=00\talarm=0200000000000000"
        );
    }

    #[test]
    fn places_each_doors_sensor_bits_lsb_first() {
        let closed = door(SensorState::Closed, false, AlarmFlags::NONE);
        let open = door(SensorState::Open, false, AlarmFlags::NONE);
        let none = door(SensorState::NoSensor, false, AlarmFlags::NONE);
        let energised = RelayPolarity::SetWhenEnergised;
        assert_eq!(fields(&[closed], energised).0, "01");
        assert_eq!(fields(&[open], energised).0, "02");
        assert_eq!(fields(&[none, closed], energised).0, "04");
        assert_eq!(fields(&[none, open], energised).0, "08");
        assert_eq!(fields(&[none, none, closed], energised).0, "10");
        assert_eq!(fields(&[none, none, open], energised).0, "20");
        assert_eq!(fields(&[none, none, none, closed], energised).0, "40");
        assert_eq!(fields(&[none, none, none, open], energised).0, "80");
        // Doors 5–8 go in the second byte (BB), same layout.
        assert_eq!(
            fields(&[none, none, none, none, closed], energised).0,
            "0001"
        );
        assert_eq!(
            fields(
                &[none; 7].iter().copied().chain([open]).collect::<Vec<_>>(),
                energised
            )
            .0,
            "0080"
        );
        // A four-door unit with doors 1 open, 2 closed, 3 none, 4 open.
        assert_eq!(fields(&[open, closed, none, open], energised).0, "86");
    }

    #[test]
    fn sends_one_sensor_byte_per_four_doors_and_at_least_one() {
        let none = door(SensorState::NoSensor, false, AlarmFlags::NONE);
        let energised = RelayPolarity::SetWhenEnergised;
        assert_eq!(
            fields(&[], energised),
            ("00".into(), "00".into(), "0".repeat(16))
        );
        assert_eq!(fields(&[none; 4], energised).0.len(), 2);
        assert_eq!(fields(&[none; 5], energised).0.len(), 4);
        assert_eq!(fields(&[none; 8], energised).0.len(), 4);
    }

    #[test]
    fn sets_one_relay_bit_per_door_with_either_polarity() {
        let none = door(SensorState::NoSensor, false, AlarmFlags::NONE);
        for i in 0..MAX_DOORS {
            let mut doors = [none; MAX_DOORS];
            doors[i].relay_energised = true;
            let expected = format!("{:02X}", 1u8 << i);
            assert_eq!(fields(&doors, RelayPolarity::SetWhenEnergised).1, expected);
            let inverted = format!("{:02X}", !(1u8 << i));
            assert_eq!(fields(&doors, RelayPolarity::SetWhenReleased).1, inverted);
        }
        // Only the doors present get a bit in the released polarity.
        assert_eq!(
            fields(&[none, none], RelayPolarity::SetWhenReleased).1,
            "03"
        );
        assert_eq!(RelayPolarity::default(), RelayPolarity::SetWhenEnergised);
    }

    #[test]
    fn writes_every_alarm_bit_in_its_doors_slot() {
        let flags = [
            (AlarmFlags::FORCED_OPEN, "01"),
            (AlarmFlags::TAMPER, "02"),
            (AlarmFlags::DURESS_PASSWORD, "04"),
            (AlarmFlags::DURESS_FINGERPRINT, "08"),
            (AlarmFlags::DOOR_HELD_OPEN, "10"),
            (AlarmFlags::MAINS_FAILURE, "20"),
            (AlarmFlags::BATTERY_FAILURE, "40"),
            (AlarmFlags::READER_TAMPER, "80"),
        ];
        let none = door(SensorState::NoSensor, false, AlarmFlags::NONE);
        for slot in 0..MAX_DOORS {
            for (flag, hex) in flags {
                let mut doors = [none; MAX_DOORS];
                doors[slot].alarms = flag;
                let mut expected = "00".repeat(MAX_DOORS);
                expected.replace_range(2 * slot..2 * slot + 2, hex);
                assert_eq!(fields(&doors, RelayPolarity::SetWhenEnergised).2, expected);
            }
        }
        let both = door(
            SensorState::Closed,
            true,
            AlarmFlags::TAMPER | AlarmFlags::READER_TAMPER,
        );
        assert_eq!(
            fields(&[both], RelayPolarity::SetWhenEnergised),
            ("01".into(), "01".into(), "8200000000000000".into())
        );
    }

    #[test]
    fn rejects_more_than_eight_doors() {
        let none = door(SensorState::NoSensor, false, AlarmFlags::NONE);
        assert_eq!(
            encode(&time(), &[none; 9], RelayPolarity::SetWhenEnergised),
            Err(TooManyDoors(9))
        );
    }
}
