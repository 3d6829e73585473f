//! The server's reply to the initialization exchange: `GET OPTION FROM: <SN>` followed by
//! `key=value` lines [000 §5; 004 §3.2.2; spec §3 E1, §6].
//!
//! Every key the three documents define is parsed here, legacy names included. Parsing is lenient
//! where real servers differ (server-dialects §2.1): CRLF or LF, keys in any case, stray spaces,
//! TABs inside a value, and a value folded onto a following line that has no `=`. Every value that
//! cannot be used is reported as a warning and the default kept; only a reply that is not an option
//! block at all is an error.

use super::version::PushVersion;
use std::fmt;

/// Recommended defaults when a key is missing [spec §6.4].
pub const DEFAULT_ERROR_DELAY_SECS: u32 = 30;
pub const DEFAULT_DELAY_SECS: u32 = 10;
pub const DEFAULT_TRANS_INTERVAL_MIN: u32 = 1;
/// At most this many fixed upload times are honoured [000 §5 TransTimes].
pub const MAX_TRANS_TIMES: usize = 10;

/// Tables that carry an upload stamp [000 §5 "Stamp"].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StampTable {
    AttLog,
    OperLog,
    AttPhoto,
    BioData,
    IdCard,
    ErrorLog,
    /// The security dialect's event records (`table=rtlog`). It has no stamp, so it is not in
    /// [`StampTable::ALL`], the tables an option block can carry a stamp for.
    RtLog,
}

impl StampTable {
    pub const ALL: [StampTable; 6] = [
        StampTable::AttLog,
        StampTable::OperLog,
        StampTable::AttPhoto,
        StampTable::BioData,
        StampTable::IdCard,
        StampTable::ErrorLog,
    ];

    /// The name used in `table=` and in `<TABLE>Stamp`.
    pub fn as_str(self) -> &'static str {
        match self {
            StampTable::AttLog => "ATTLOG",
            StampTable::OperLog => "OPERLOG",
            StampTable::AttPhoto => "ATTPHOTO",
            StampTable::BioData => "BIODATA",
            StampTable::IdCard => "IDCARD",
            StampTable::ErrorLog => "ERRORLOG",
            StampTable::RtLog => "rtlog",
        }
    }

    pub fn from_name(name: &str) -> Option<StampTable> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }

    /// The key of this table's stamp, including the legacy aliases of 004 (`Stamp`, `OpStamp`,
    /// `PhotoStamp`).
    fn from_stamp_key(key: &str) -> Option<StampTable> {
        let lower = key.to_ascii_lowercase();
        match lower.as_str() {
            "stamp" => return Some(StampTable::AttLog),
            "opstamp" => return Some(StampTable::OperLog),
            "photostamp" => return Some(StampTable::AttPhoto),
            _ => {}
        }
        let table = lower.strip_suffix("stamp")?;
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(table))
    }
}

impl fmt::Display for StampTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stamp as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerStamp {
    /// `None`, empty or absent: the server gives no instruction [spec §6.1].
    Unset,
    /// `0`: upload all data of this table again.
    Zero,
    /// Anything else: an echo of a stamp we sent, `9999`, a Unix time, a date. Kept verbatim.
    Value(String),
}

impl ServerStamp {
    fn parse(value: &str) -> ServerStamp {
        let v = value.trim();
        if v.is_empty() || v.eq_ignore_ascii_case("none") || v.eq_ignore_ascii_case("null") {
            ServerStamp::Unset
        } else if v.bytes().all(|b| b == b'0') {
            ServerStamp::Zero
        } else {
            ServerStamp::Value(v.to_owned())
        }
    }
}

/// The data types `TransFlag` can allow for automatic upload [000 §5].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransData {
    AttLog,
    OpLog,
    AttPhoto,
    EnrollFp,
    EnrollUser,
    FpImag,
    ChgUser,
    ChgFp,
    Face,
    UserPic,
    WorkCode,
    BioPhoto,
}

impl TransData {
    /// Format I positions, 1-based, in the seed's order [000 §5 "Data type on each digit"].
    const FORMAT_ONE_ORDER: [TransData; 12] = [
        TransData::AttLog,
        TransData::OpLog,
        TransData::AttPhoto,
        TransData::EnrollFp,
        TransData::EnrollUser,
        TransData::FpImag,
        TransData::ChgUser,
        TransData::ChgFp,
        TransData::Face,
        TransData::UserPic,
        TransData::WorkCode,
        TransData::BioPhoto,
    ];

    fn name(self) -> &'static str {
        match self {
            TransData::AttLog => "AttLog",
            TransData::OpLog => "OpLog",
            TransData::AttPhoto => "AttPhoto",
            TransData::EnrollFp => "EnrollFP",
            TransData::EnrollUser => "EnrollUser",
            TransData::FpImag => "FPImag",
            TransData::ChgUser => "ChgUser",
            TransData::ChgFp => "ChgFP",
            TransData::Face => "FACE",
            TransData::UserPic => "UserPic",
            TransData::WorkCode => "WORKCODE",
            TransData::BioPhoto => "BioPhoto",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// Which data types may be uploaded automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransFlag {
    bits: u16,
}

impl Default for TransFlag {
    /// The seeds give no default; the spec recommends "all on" [spec §6.2].
    fn default() -> Self {
        TransFlag {
            bits: TransData::FORMAT_ONE_ORDER
                .iter()
                .fold(0, |acc, d| acc | d.bit()),
        }
    }
}

impl TransFlag {
    pub fn allows(self, data: TransData) -> bool {
        self.bits & data.bit() != 0
    }

    /// Parses Format I (`1111000000`) or Format II (`TransData AttLog⇥OpLog…`). Unknown names are
    /// returned so the caller can warn about them.
    pub fn parse(value: &str) -> Result<(TransFlag, Vec<String>), String> {
        let v = value.trim();
        if let Some(rest) = strip_prefix_ignore_case(v, "TransData") {
            let mut bits = 0;
            let mut unknown = Vec::new();
            for name in rest
                .split(|c: char| c.is_whitespace() || c == ';' || c == ',')
                .filter(|n| !n.is_empty())
            {
                match TransData::FORMAT_ONE_ORDER
                    .iter()
                    .find(|d| d.name().eq_ignore_ascii_case(name))
                {
                    Some(d) => bits |= d.bit(),
                    None => unknown.push(name.to_owned()),
                }
            }
            return Ok((TransFlag { bits }, unknown));
        }
        if !v.is_empty() && v.bytes().all(|b| b == b'0' || b == b'1') {
            // The Att2008 quirk: all zeros means "only attendance photos" [000 §5].
            if v.bytes().all(|b| b == b'0') {
                return Ok((
                    TransFlag {
                        bits: TransData::AttPhoto.bit(),
                    },
                    Vec::new(),
                ));
            }
            let bits = v
                .bytes()
                .zip(TransData::FORMAT_ONE_ORDER)
                .filter(|(b, _)| *b == b'1')
                .fold(0, |acc, (_, d)| acc | d.bit());
            return Ok((TransFlag { bits }, Vec::new()));
        }
        Err(format!(
            "TransFlag {v:?} is neither a 0/1 string nor 'TransData <names>'"
        ))
    }

    /// Format II text, for status output and INFO replies.
    pub fn describe(self) -> String {
        let names: Vec<&str> = TransData::FORMAT_ONE_ORDER
            .iter()
            .filter(|d| self.allows(**d))
            .map(|d| d.name())
            .collect();
        format!("TransData {}", names.join(" "))
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// A fixed UTC offset, in minutes east of UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UtcOffset(pub i32);

impl UtcOffset {
    /// Parses a `TimeZone` value. Integers follow AMB-3: |v| ≤ 14 are hours, |v| ≥ 60 are minutes,
    /// anything between is refused. Servers also send `+05:30`, `-03:00` and `Etc/GMT-1` (POSIX
    /// names, whose sign is inverted) (server-dialects §2.1).
    pub fn parse_time_zone(value: &str) -> Result<UtcOffset, String> {
        let v = value.trim();
        let refuse =
            || format!("TimeZone {v:?} is not hours (-14..14), minutes (|v| >= 60) or ±HH:MM");
        if let Ok(n) = v.parse::<i32>() {
            return match n.unsigned_abs() {
                0..=14 => Ok(UtcOffset(n * 60)),
                60..=840 => Ok(UtcOffset(n)),
                _ => Err(refuse()),
            };
        }
        if let Some(etc) = strip_prefix_ignore_case(v, "Etc/GMT") {
            let hours: i32 = etc.parse().map_err(|_| refuse())?;
            return if hours.abs() <= 14 {
                Ok(UtcOffset(-hours * 60))
            } else {
                Err(refuse())
            };
        }
        let signed = strip_prefix_ignore_case(v, "UTC")
            .or_else(|| strip_prefix_ignore_case(v, "GMT"))
            .unwrap_or(v);
        let (sign, rest) = match signed.as_bytes().first() {
            Some(b'+') => (1, &signed[1..]),
            Some(b'-') => (-1, &signed[1..]),
            _ => return Err(refuse()),
        };
        let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
        let (h, m): (i32, i32) = (
            h.trim().parse().map_err(|_| refuse())?,
            m.trim().parse().map_err(|_| refuse())?,
        );
        if h > 14 || m >= 60 {
            return Err(refuse());
        }
        Ok(UtcOffset(sign * (h * 60 + m)))
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        write!(f, "{sign}{:02}:{:02}", self.0.abs() / 60, self.0.abs() % 60)
    }
}

/// A time of day for `TransTimes`, in minutes after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(pub u16);

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// Parses `HH:MM;HH:MM…` leniently [AMB-2; security note AMB-23]: whitespace is removed first
/// (`00: 00`), and a value without any `;` is cut every 5 characters (the Security seed's
/// `00:0014:00`). Returns the times (sorted, at most [`MAX_TRANS_TIMES`]) and the entries it
/// refused. Both dialects read `TransTimes` with this.
pub fn parse_trans_times(value: &str) -> (Vec<TimeOfDay>, Vec<String>) {
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    let entries: Vec<&str> = if compact.contains(';') {
        compact.split(';').filter(|e| !e.is_empty()).collect()
    } else {
        let mut rest = compact.as_str();
        let mut entries = Vec::new();
        while !rest.is_empty() {
            let cut = rest.char_indices().nth(5).map_or(rest.len(), |(i, _)| i);
            let (entry, tail) = rest.split_at(cut);
            entries.push(entry);
            rest = tail;
        }
        entries
    };
    let mut times = Vec::new();
    let mut refused = Vec::new();
    for entry in entries {
        let parsed = entry.split_once(':').and_then(|(h, m)| {
            let (h, m) = (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?);
            (h < 24 && m < 60).then_some(TimeOfDay(h * 60 + m))
        });
        match parsed {
            Some(t) if times.len() < MAX_TRANS_TIMES => times.push(t),
            Some(_) => refused.push(format!("{entry} (more than {MAX_TRANS_TIMES} times)")),
            None => refused.push(entry.to_owned()),
        }
    }
    times.sort();
    times.dedup();
    (times, refused)
}

/// `Encrypt` [000 §5]: communication encryption requested or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encrypt {
    #[default]
    Off,
    On,
}

/// Everything the server can set in the option block. Fields hold the spec's defaults when the key
/// is missing or unusable.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerOptions {
    pub stamps: Vec<(StampTable, ServerStamp)>,
    pub error_delay_secs: u32,
    pub delay_secs: u32,
    pub trans_times: Vec<TimeOfDay>,
    pub trans_interval_min: u32,
    pub trans_flag: TransFlag,
    pub time_zone: Option<UtcOffset>,
    pub realtime: bool,
    pub encrypt: Encrypt,
    pub encrypt_flag: Option<String>,
    pub server_ver: Option<String>,
    pub push_prot_ver: Option<PushVersion>,
    pub push_options_flag: bool,
    pub push_options: Vec<String>,
    pub attphoto_base64: bool,
    pub multi_bio_data_support: Option<Vec<bool>>,
    pub multi_bio_photo_support: Option<Vec<bool>>,
    pub ir_temp_unit_trans: Option<u8>,
    pub qr_code_decrypt_type: Option<u8>,
    /// A secret: never logged or printed.
    pub qr_code_decrypt_key: Option<String>,
    pub support_ping: bool,
    pub post_self_define_data_type: Option<String>,
    /// Keys this agent does not use, kept for diagnostics (`status`, INFO).
    pub other: Vec<(String, String)>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            stamps: Vec::new(),
            error_delay_secs: DEFAULT_ERROR_DELAY_SECS,
            delay_secs: DEFAULT_DELAY_SECS,
            trans_times: Vec::new(),
            trans_interval_min: DEFAULT_TRANS_INTERVAL_MIN,
            trans_flag: TransFlag::default(),
            time_zone: None,
            realtime: true,
            encrypt: Encrypt::Off,
            encrypt_flag: None,
            server_ver: None,
            push_prot_ver: None,
            push_options_flag: false,
            push_options: Vec::new(),
            attphoto_base64: false,
            multi_bio_data_support: None,
            multi_bio_photo_support: None,
            ir_temp_unit_trans: None,
            qr_code_decrypt_type: None,
            qr_code_decrypt_key: None,
            support_ping: false,
            post_self_define_data_type: None,
            other: Vec::new(),
        }
    }
}

impl ServerOptions {
    pub fn stamp(&self, table: StampTable) -> &ServerStamp {
        self.stamps
            .iter()
            .find(|(t, _)| *t == table)
            .map(|(_, s)| s)
            .unwrap_or(&ServerStamp::Unset)
    }

    /// The effective options as `key=value` lines, for `status` and INFO. Secrets are left out.
    pub fn summary(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("ErrorDelay".to_owned(), self.error_delay_secs.to_string()),
            ("Delay".to_owned(), self.delay_secs.to_string()),
            (
                "TransTimes".to_owned(),
                self.trans_times
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(";"),
            ),
            (
                "TransInterval".to_owned(),
                self.trans_interval_min.to_string(),
            ),
            ("TransFlag".to_owned(), self.trans_flag.describe()),
            (
                "TimeZone".to_owned(),
                self.time_zone.map(|z| z.to_string()).unwrap_or_default(),
            ),
            ("Realtime".to_owned(), u8::from(self.realtime).to_string()),
            (
                "Encrypt".to_owned(),
                u8::from(self.encrypt == Encrypt::On).to_string(),
            ),
            (
                "PushProtVer".to_owned(),
                self.push_prot_ver
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
            ),
            (
                "PushOptionsFlag".to_owned(),
                u8::from(self.push_options_flag).to_string(),
            ),
            (
                "SupportPing".to_owned(),
                u8::from(self.support_ping).to_string(),
            ),
        ];
        if let Some(v) = &self.server_ver {
            out.push(("ServerVer".to_owned(), v.clone()));
        }
        out
    }
}

/// A parsed option block and what was wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionReply {
    pub options: ServerOptions,
    /// The serial number after `GET OPTION FROM:`.
    pub serial: String,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an option block: first line is {first_line:?}, expected 'GET OPTION FROM: <SN>'")]
pub struct OptionsError {
    pub first_line: String,
}

/// Parses the init reply. Success needs only a first line starting with `GET OPTION FROM` (AMB-2);
/// a different serial number is a warning.
pub fn parse_option_reply(body: &str, expected_sn: &str) -> Result<OptionReply, OptionsError> {
    let body = body.trim_start_matches('\u{feff}');
    let mut lines = body.split('\n').map(|l| l.trim_end_matches('\r'));
    let first = lines.next().unwrap_or("").trim();
    let serial = strip_prefix_ignore_case(first, "GET OPTION FROM")
        .map(|rest| rest.trim_start_matches(':').trim().to_owned())
        .ok_or_else(|| OptionsError {
            first_line: first.chars().take(80).collect(),
        })?;
    let mut warnings = Vec::new();
    if serial != expected_sn {
        warnings.push(format!(
            "option block is for SN {serial:?}, we are {expected_sn:?}"
        ));
    }

    // Collect key=value pairs first, folding value continuation lines (the seed's wrapped TransFlag
    // example).
    let (pairs, skipped) = key_value_pairs(lines, Continuation::Fold);
    for line in skipped {
        warnings.push(format!("ignored option line without '=': {line:?}"));
    }

    let mut o = ServerOptions::default();
    for (key, value) in pairs {
        apply_option(&mut o, &key, &value, &mut warnings);
    }
    Ok(OptionReply {
        options: o,
        serial,
        warnings,
    })
}

/// What [`key_value_pairs`] does with a line that has no `=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Continuation {
    /// Appends it, after a space, to the value of the pair before it: a value the server (or the
    /// PDF) wrapped onto the next line, as in the attendance seed's TransFlag. A line before any
    /// pair is still skipped.
    Fold,
    /// Skips it: a bare `OK` in a Security answer must not become part of a value.
    Skip,
}

/// The `key=value` lines of a server answer, split at the first `=`, key and value trimmed, keys as
/// written, in order; blank lines are ignored. Returns the pairs and the (trimmed) lines without
/// `=` that were skipped, for the caller to warn about. Lines are the caller's (CR already
/// removed). The attendance option block and the Security server parameters are read with this.
pub(crate) fn key_value_pairs<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    continuation: Continuation,
) -> (Vec<(String, String)>, Vec<&'a str>) {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut skipped = Vec::new();
    for line in lines {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        match (line.split_once('='), pairs.last_mut(), continuation) {
            (Some((k, v)), _, _) => pairs.push((k.trim().to_owned(), v.trim().to_owned())),
            (None, Some((_, v)), Continuation::Fold) => {
                v.push(' ');
                v.push_str(trimmed);
            }
            (None, _, _) => skipped.push(trimmed),
        }
    }
    (pairs, skipped)
}

fn apply_option(o: &mut ServerOptions, key: &str, value: &str, warnings: &mut Vec<String>) {
    let mut bad = |what: &str| warnings.push(format!("ignored {key}={value:?}: {what}"));
    if let Some(table) = StampTable::from_stamp_key(key) {
        let stamp = ServerStamp::parse(value);
        match o.stamps.iter_mut().find(|(t, _)| *t == table) {
            Some(slot) => slot.1 = stamp,
            None => o.stamps.push((table, stamp)),
        }
        return;
    }
    match key.to_ascii_lowercase().as_str() {
        "errordelay" => match value.parse::<u32>() {
            Ok(n) => o.error_delay_secs = n.max(1),
            Err(_) => bad("not a number of seconds"),
        },
        "delay" => match value.parse::<u32>() {
            Ok(n) => o.delay_secs = n.max(1),
            Err(_) => bad("not a number of seconds"),
        },
        "transtimes" => {
            let (times, refused) = parse_trans_times(value);
            o.trans_times = times;
            if !refused.is_empty() {
                bad(&format!("entries refused: {}", refused.join(", ")));
            }
        }
        "transinterval" => match value.parse::<u32>() {
            Ok(n) => o.trans_interval_min = n,
            Err(_) => bad("not a number of minutes"),
        },
        "transflag" => match TransFlag::parse(value) {
            Ok((flag, unknown)) => {
                o.trans_flag = flag;
                if !unknown.is_empty() {
                    bad(&format!("unknown data types {}", unknown.join(", ")));
                }
            }
            Err(e) => bad(&e),
        },
        "timezone" => match UtcOffset::parse_time_zone(value) {
            Ok(z) => o.time_zone = Some(z),
            Err(e) => bad(&e),
        },
        "realtime" => match value {
            "1" => o.realtime = true,
            "0" => o.realtime = false,
            _ => bad("expected 0 or 1"),
        },
        "encrypt" => match value.to_ascii_lowercase().as_str() {
            "" | "none" | "0" => o.encrypt = Encrypt::Off,
            "1" => o.encrypt = Encrypt::On,
            _ => bad("expected None, 0 or 1"),
        },
        "encryptflag" => o.encrypt_flag = Some(value.to_owned()),
        "serverver" => o.server_ver = Some(value.to_owned()),
        "pushprotver" => match value.parse::<PushVersion>() {
            Ok(v) => o.push_prot_ver = Some(v),
            Err(e) => bad(&e.to_string()),
        },
        "pushoptionsflag" => o.push_options_flag = value == "1",
        "pushoptions" => {
            o.push_options = value
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect()
        }
        "attphotobase64" => o.attphoto_base64 = value == "1",
        "multibiodatasupport" => o.multi_bio_data_support = Some(parse_bit_vector(value)),
        "multibiophotosupport" => o.multi_bio_photo_support = Some(parse_bit_vector(value)),
        "irtempunittrans" => match value {
            "0" | "1" => o.ir_temp_unit_trans = value.parse().ok(),
            _ => bad("expected 0 (Celsius) or 1 (Fahrenheit)"),
        },
        "qrcodedecrypttype" => match value {
            "1" | "2" | "3" => o.qr_code_decrypt_type = value.parse().ok(),
            _ => bad("expected 1, 2 or 3"),
        },
        "qrcodedecryptkey" => o.qr_code_decrypt_key = Some(value.to_owned()),
        "supportping" => o.support_ping = !value.is_empty() && value != "0",
        "postselfdefinedatatype" => o.post_self_define_data_type = Some(value.to_owned()),
        _ => o.other.push((key.to_owned(), value.to_owned())),
    }
}

/// Parses a colon list of 0/1 by position (`0:1:1:0`), with spaces tolerated; a missing or
/// non-1 position is 0 (AMB-16).
pub fn parse_bit_vector(value: &str) -> Vec<bool> {
    value.split(':').map(|p| p.trim() == "1").collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's example reply [000 §5], exactly as printed, wrapped TransFlag line and the
    /// PDF's stray spaces included.
    const SEED_EXAMPLE: &str = "GET OPTION FROM: 0316144680030\nATTLOGStamp=None\nOPERLOGStamp=9999\nATTPHOTOSTamp=None\nErrorDelay=30\nDelay=10\nTransTimes=00: 00;14: 05\nTransInterval=1\nTransFlag=TransData AttLog OpLog AttPhoto EnrollUser ChgUser EnrollFP\nChgFP UserPic\nTimeZone=8\nRealtime=1\nEncrypt=None\n";

    #[test]
    fn parses_the_seed_example_reply() {
        let r = parse_option_reply(SEED_EXAMPLE, "0316144680030").unwrap();
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let o = &r.options;
        assert_eq!(o.stamp(StampTable::AttLog), &ServerStamp::Unset);
        assert_eq!(
            o.stamp(StampTable::OperLog),
            &ServerStamp::Value("9999".into())
        );
        assert_eq!(o.stamp(StampTable::AttPhoto), &ServerStamp::Unset);
        assert_eq!(
            (o.error_delay_secs, o.delay_secs, o.trans_interval_min),
            (30, 10, 1)
        );
        assert_eq!(o.trans_times, vec![TimeOfDay(0), TimeOfDay(14 * 60 + 5)]);
        assert!(o.trans_flag.allows(TransData::ChgFp) && o.trans_flag.allows(TransData::UserPic));
        assert!(!o.trans_flag.allows(TransData::Face));
        assert_eq!(o.time_zone, Some(UtcOffset(480)));
        assert!(o.realtime);
        assert_eq!(o.encrypt, Encrypt::Off);
    }

    #[test]
    fn accepts_crlf_and_no_trailing_newline_and_any_key_case() {
        let body = "GET OPTION FROM: X1\r\natTlogStamp=0\r\nDELAY=5\r\nrealtime=0";
        let o = parse_option_reply(body, "X1").unwrap().options;
        assert_eq!(o.stamp(StampTable::AttLog), &ServerStamp::Zero);
        assert_eq!(o.delay_secs, 5);
        assert!(!o.realtime);
    }

    #[test]
    fn maps_legacy_stamp_names() {
        let body =
            "GET OPTION FROM: X\nStamp=9999\nOpStamp=1700000000\nPhotoStamp=0\nERRORLOGStamp=12";
        let o = parse_option_reply(body, "X").unwrap().options;
        assert_eq!(
            o.stamp(StampTable::AttLog),
            &ServerStamp::Value("9999".into())
        );
        assert_eq!(
            o.stamp(StampTable::OperLog),
            &ServerStamp::Value("1700000000".into())
        );
        assert_eq!(o.stamp(StampTable::AttPhoto), &ServerStamp::Zero);
        assert_eq!(
            o.stamp(StampTable::ErrorLog),
            &ServerStamp::Value("12".into())
        );
        assert_eq!(o.stamp(StampTable::IdCard), &ServerStamp::Unset);
    }

    #[test]
    fn keeps_date_stamps_with_spaces_verbatim() {
        let o = parse_option_reply("GET OPTION FROM: X\nATTLOGStamp=2026-11-23 08:00:00", "X")
            .unwrap()
            .options;
        assert_eq!(
            o.stamp(StampTable::AttLog),
            &ServerStamp::Value("2026-11-23 08:00:00".into())
        );
    }

    #[test]
    fn parses_every_other_e1_key() {
        let body = "GET OPTION FROM: X\nEncrypt=1\nEncryptFlag=10000000\nServerVer=3.4.1 2010-06-07\nPushProtVer=2.4.1\nPushOptionsFlag=1\nPushOptions=FingerFunOn, FaceFunOn\nATTPHOTOBase64=1\nMultiBioDataSupport=0: 1: 1:0\nMultiBioPhotoSupport=0:0:1\nIRTempUnitTrans=1\nQRCodeDecryptType=2\nQRCodeDecryptKey=k\nSupportPing=1\nPostSelfDefineDataType=PostVerifyData\nTimeout=60";
        let r = parse_option_reply(body, "X").unwrap();
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let o = r.options;
        assert_eq!(o.encrypt, Encrypt::On);
        assert_eq!(o.encrypt_flag.as_deref(), Some("10000000"));
        assert_eq!(o.server_ver.as_deref(), Some("3.4.1 2010-06-07"));
        assert_eq!(o.push_prot_ver, Some(PushVersion::new(2, 4, 1)));
        assert!(o.push_options_flag);
        assert_eq!(o.push_options, vec!["FingerFunOn", "FaceFunOn"]);
        assert!(o.attphoto_base64);
        assert_eq!(
            o.multi_bio_data_support,
            Some(vec![false, true, true, false])
        );
        assert_eq!(o.multi_bio_photo_support, Some(vec![false, false, true]));
        assert_eq!(o.ir_temp_unit_trans, Some(1));
        assert_eq!(o.qr_code_decrypt_type, Some(2));
        assert_eq!(o.qr_code_decrypt_key.as_deref(), Some("k"));
        assert!(o.support_ping);
        assert_eq!(
            o.post_self_define_data_type.as_deref(),
            Some("PostVerifyData")
        );
        assert_eq!(o.other, vec![("Timeout".to_owned(), "60".to_owned())]);
    }

    #[test]
    fn warns_on_serial_mismatch_but_succeeds() {
        let r = parse_option_reply("GET OPTION FROM: OTHER\nDelay=3", "MINE").unwrap();
        assert_eq!(r.serial, "OTHER");
        assert_eq!(r.warnings.len(), 1);
        assert_eq!(r.options.delay_secs, 3);
    }

    #[test]
    fn rejects_replies_that_are_not_option_blocks() {
        for body in [
            "",
            "OK",
            "<html>error</html>",
            "Unauthorized\nGET OPTION FROM: X",
        ] {
            assert!(parse_option_reply(body, "X").is_err(), "{body:?}");
        }
    }

    #[test]
    fn keeps_defaults_for_unusable_values_and_warns() {
        let r = parse_option_reply(
            "GET OPTION FROM: X\nDelay=soon\nErrorDelay=0\nRealtime=yes\nTimeZone=30",
            "X",
        )
        .unwrap();
        assert_eq!(r.options.delay_secs, DEFAULT_DELAY_SECS);
        assert_eq!(
            r.options.error_delay_secs, 1,
            "ErrorDelay is clamped to at least 1 s"
        );
        assert!(r.options.realtime);
        assert_eq!(r.options.time_zone, None);
        assert_eq!(r.warnings.len(), 3, "{:?}", r.warnings);
    }

    #[test]
    fn parses_trans_flag_format_one_with_one_based_positions() {
        let (f, _) = TransFlag::parse("1111000000").unwrap();
        for d in [
            TransData::AttLog,
            TransData::OpLog,
            TransData::AttPhoto,
            TransData::EnrollFp,
        ] {
            assert!(f.allows(d), "{d:?}");
        }
        assert!(!f.allows(TransData::EnrollUser));
        let (f, _) = TransFlag::parse("01").unwrap();
        assert!(!f.allows(TransData::AttLog) && f.allows(TransData::OpLog));
        let (f, _) = TransFlag::parse("0000001111").unwrap();
        assert!(
            f.allows(TransData::ChgUser)
                && f.allows(TransData::UserPic)
                && !f.allows(TransData::AttLog)
        );
    }

    #[test]
    fn treats_all_zero_trans_flag_as_attendance_photos_only() {
        let (f, _) = TransFlag::parse("0000000000").unwrap();
        assert!(f.allows(TransData::AttPhoto));
        assert!(!f.allows(TransData::AttLog) && !f.allows(TransData::OpLog));
    }

    #[test]
    fn parses_trans_flag_format_two_with_tabs_spaces_and_semicolon() {
        for text in [
            "TransData AttLog\tOpLog\tAttPhoto",
            "TransData AttLog OpLog AttPhoto;",
            "transdata attlog,OPLOG attphoto",
        ] {
            let (f, unknown) = TransFlag::parse(text).unwrap();
            assert!(unknown.is_empty(), "{text:?}: {unknown:?}");
            assert!(
                f.allows(TransData::AttLog)
                    && f.allows(TransData::OpLog)
                    && f.allows(TransData::AttPhoto),
                "{text:?}"
            );
            assert!(!f.allows(TransData::EnrollUser), "{text:?}");
        }
        let (_, unknown) = TransFlag::parse("TransData AttLog Bogus").unwrap();
        assert_eq!(unknown, vec!["Bogus"]);
        assert!(TransFlag::parse("sometimes").is_err());
    }

    #[test]
    fn parses_time_zones_in_hours_half_and_quarter_hours() {
        let z = |v: &str| UtcOffset::parse_time_zone(v).map(|z| z.0);
        assert_eq!(z("8"), Ok(480));
        assert_eq!(z("-5"), Ok(-300));
        assert_eq!(z("0"), Ok(0));
        assert_eq!(
            z("13"),
            Ok(780),
            "AMB-3: 12..14 are real zones, read as hours"
        );
        assert_eq!(z("330"), Ok(330));
        assert_eq!(z("345"), Ok(345));
        assert_eq!(z("-210"), Ok(-210));
        assert_eq!(z("+07:00"), Ok(420));
        assert_eq!(z("+05:30"), Ok(330));
        assert_eq!(z("-03:30"), Ok(-210));
        assert_eq!(z("Etc/GMT-1"), Ok(60), "POSIX Etc names invert the sign");
        assert_eq!(z("UTC+8"), Ok(480));
        assert!(
            z("30").is_err(),
            "AMB-3: 15..59 is neither hours nor minutes"
        );
        assert!(z("1000").is_err());
        assert!(z("Mars/Olympus").is_err());
    }

    #[test]
    fn parses_trans_times_without_separators_and_refuses_junk() {
        // The Security seed's push answer [security note AMB-23].
        let (t, bad) = parse_trans_times("00:0014:00");
        assert_eq!(t, vec![TimeOfDay(0), TimeOfDay(14 * 60)]);
        assert!(bad.is_empty());
        assert_eq!(
            parse_trans_times("08:30"),
            (vec![TimeOfDay(8 * 60 + 30)], vec![])
        );
        assert_eq!(parse_trans_times(""), (vec![], vec![]));
        for junk in ["0000", "12:3é", "12:60"] {
            assert_eq!(parse_trans_times(junk), (vec![], vec![junk.to_owned()]));
        }
    }

    #[test]
    fn collects_pairs_folding_or_skipping_lines_without_equals() {
        let lines = ["OK", "A = 1 ", "", "wrapped", "B=x=y"];
        let (pairs, skipped) = key_value_pairs(lines, Continuation::Fold);
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert_eq!(pairs, [pair("A", "1 wrapped"), pair("B", "x=y")]);
        assert_eq!(skipped, ["OK"]);
        let (pairs, skipped) = key_value_pairs(lines, Continuation::Skip);
        assert_eq!(pairs, [pair("A", "1"), pair("B", "x=y")]);
        assert_eq!(skipped, ["OK", "wrapped"]);
    }

    #[test]
    fn parses_trans_times_and_refuses_bad_entries() {
        let (t, bad) = parse_trans_times("14:05; 00: 00;;25:00;7:3");
        assert_eq!(
            t,
            vec![TimeOfDay(0), TimeOfDay(7 * 60 + 3), TimeOfDay(14 * 60 + 5)]
        );
        assert_eq!(bad, vec!["25:00"]);
        let many: Vec<String> = (0..12).map(|h| format!("{h:02}:00")).collect();
        let (t, bad) = parse_trans_times(&many.join(";"));
        assert_eq!(t.len(), MAX_TRANS_TIMES);
        assert_eq!(bad.len(), 2);
    }
}
