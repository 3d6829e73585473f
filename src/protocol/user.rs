//! Users as the attendance protocol carries them: `DATA UPDATE USERINFO` [000 §12.1.1.1] and the
//! `USER` upload record [000 §11.5].

use super::civil::LocalDateTime;
use super::fields::Fields;
use super::record::parse_card;

/// Longest PIN accepted: newer firmware allows 24 characters (older ones 9 digits).
pub const MAX_PIN_LEN: usize = 24;
pub const MAX_NAME_LEN: usize = 64;
pub const MAX_PASSWORD_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub pin: String,
    pub name: String,
    /// 0 normal, 2 registrar, 6 administrator, 10 user-defined, 14 super administrator.
    pub privilege: u8,
    /// Kept because the `USER` upload carries it; never logged.
    pub password: String,
    pub card: Option<u64>,
    pub group: u32,
    /// Four 4-digit fields: group/personal flag, then personal time periods 1–3 (AMB-20).
    pub time_zones: String,
    /// `-1` = the group's verify mode; otherwise an App 7 code.
    pub verify: i32,
    pub vice_card: String,
    /// Validity window, inclusive, as calendar dates (`YYYYMMDD` on the wire).
    pub valid_from: Option<LocalDateTime>,
    pub valid_until: Option<LocalDateTime>,
    /// Blocklisted (`Disable=1`, security dialect): every credential of the user is refused.
    pub disabled: bool,
}

impl User {
    pub fn new(pin: &str) -> User {
        User {
            pin: pin.to_owned(),
            name: String::new(),
            privilege: 0,
            password: String::new(),
            card: None,
            group: 1,
            time_zones: "0000000000000000".into(),
            verify: -1,
            vice_card: String::new(),
            valid_from: None,
            valid_until: None,
            disabled: false,
        }
    }

    /// The vice card as a number, when it is one (it is a plain string on the wire).
    pub fn vice_card_number(&self) -> Option<u64> {
        parse_card(&self.vice_card).ok().flatten()
    }

    /// Whether `date` (local) falls inside the validity window. The end date counts as a whole
    /// day.
    pub fn valid_on(&self, date: LocalDateTime) -> bool {
        let day = (date.year, date.month, date.day);
        let after_start = self
            .valid_from
            .is_none_or(|s| day >= (s.year, s.month, s.day));
        let before_end = self
            .valid_until
            .is_none_or(|e| day <= (e.year, e.month, e.day));
        after_start && before_end
    }

    /// `USER SP PIN=…⇥Name=…⇥Pri=…⇥Passwd=…⇥Card=…⇥Grp=…⇥TZ=…⇥Verify=…⇥ViceCard=…` [000 §11.5].
    pub fn encode_upload(&self) -> String {
        let card = self.card.map(|c| c.to_string()).unwrap_or_default();
        format!(
            "USER PIN={}\tName={}\tPri={}\tPasswd={}\tCard={card}\tGrp={}\tTZ={}\tVerify={}\tViceCard={}",
            self.pin,
            self.name,
            self.privilege,
            self.password,
            self.group,
            self.time_zones,
            self.verify,
            self.vice_card
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct UserFieldError {
    pub field: &'static str,
    pub reason: String,
}

fn field_error(field: &'static str, reason: impl Into<String>) -> UserFieldError {
    UserFieldError {
        field,
        reason: reason.into(),
    }
}

/// Checks a PIN: required, at most [`MAX_PIN_LEN`] printable characters.
pub fn validate_pin(pin: &str) -> Result<&str, UserFieldError> {
    let pin = pin.trim();
    if pin.is_empty() {
        return Err(field_error("PIN", "missing"));
    }
    if pin.len() > MAX_PIN_LEN || pin.chars().any(|c| c.is_control()) {
        return Err(field_error(
            "PIN",
            format!("longer than {MAX_PIN_LEN} characters or not printable"),
        ));
    }
    Ok(pin)
}

/// Applies one `DATA UPDATE USERINFO` record to `existing` (or a new user). The operation is
/// "add if new, change if present" [000 §12.1.1]: fields the record leaves out keep their value.
/// Phone, Gender, Nation and IDNum (removed in V4.5) and unknown keys are ignored (AMB-29).
pub fn apply_user_update(existing: Option<User>, fields: &Fields) -> Result<User, UserFieldError> {
    let pin = validate_pin(fields.get("PIN").unwrap_or(""))?;
    let mut user = existing.unwrap_or_else(|| User::new(pin));
    if let Some(name) = fields.get("Name") {
        if name.chars().count() > MAX_NAME_LEN {
            return Err(field_error(
                "Name",
                format!("longer than {MAX_NAME_LEN} characters"),
            ));
        }
        user.name = name.to_owned();
    }
    if let Some(pri) = fields.get("Pri") {
        user.privilege = match pri.trim() {
            "" => 0,
            p => p
                .parse()
                .map_err(|_| field_error("Pri", format!("{p:?} is not a privilege number")))?,
        };
    }
    if let Some(pw) = fields.get_any(&["Passwd", "Password"]) {
        if pw.len() > MAX_PASSWORD_LEN {
            return Err(field_error(
                "Passwd",
                format!("longer than {MAX_PASSWORD_LEN} characters"),
            ));
        }
        user.password = pw.to_owned();
    }
    if let Some(card) = fields.get_any(&["Card", "CardNo"]) {
        user.card = parse_card(card).map_err(|e| field_error("Card", e.reason))?;
    }
    if let Some(grp) = fields.get("Grp") {
        user.group = match grp.trim() {
            "" => 1,
            g => g
                .parse()
                .map_err(|_| field_error("Grp", format!("{g:?} is not a group number")))?,
        };
    }
    if let Some(tz) = fields.get("TZ") {
        let tz = tz.trim();
        if !tz.is_empty() {
            if tz.len() != 16 || !tz.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(field_error("TZ", "expected 16 digits"));
            }
            user.time_zones = tz.to_ascii_uppercase();
        }
    }
    if let Some(verify) = fields.get("Verify") {
        user.verify = match verify.trim() {
            "" => -1,
            v => {
                let code: i32 = v
                    .parse()
                    .map_err(|_| field_error("Verify", format!("{v:?} is not a verify mode")))?;
                if !(code == -1 || (0..=29).contains(&code) || code == 200) {
                    return Err(field_error(
                        "Verify",
                        format!("{code} is not an App 7 verify mode"),
                    ));
                }
                code
            }
        };
    }
    if let Some(vice) = fields.get("ViceCard") {
        parse_card(vice).map_err(|e| field_error("ViceCard", e.reason))?;
        user.vice_card = vice.trim().to_owned();
    }
    for (key, slot) in [
        ("StartDatetime", &mut user.valid_from),
        ("EndDatetime", &mut user.valid_until),
    ] {
        if let Some(v) = fields.get(key) {
            *slot = match v.trim() {
                "" | "0" => None,
                d => Some(
                    LocalDateTime::parse_date(d)
                        .or_else(|_| LocalDateTime::parse(d))
                        .map_err(|e| field_error(key, e.reason))?,
                ),
            };
        }
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(existing: Option<User>, text: &str) -> Result<User, UserFieldError> {
        apply_user_update(existing, &Fields::parse(text).unwrap())
    }

    #[test]
    fn creates_a_user_from_a_full_record() {
        let u = update(
            None,
            "PIN=36234\tName=Ann Lee\tPri=14\tPasswd=1234\tCard=[15CD5B07]\tGrp=2\tTZ=0001000200010000\tVerify=4\tViceCard=777\tStartDatetime=20260101\tEndDatetime=20261231",
        )
        .unwrap();
        assert_eq!(u.pin, "36234");
        assert_eq!(u.name, "Ann Lee");
        assert_eq!(u.privilege, 14);
        assert_eq!(u.card, Some(123_456_789));
        assert_eq!(u.group, 2);
        assert_eq!(u.time_zones, "0001000200010000");
        assert_eq!(u.verify, 4);
        assert_eq!(u.vice_card_number(), Some(777));
        assert_eq!(u.valid_from.unwrap().to_string(), "2026-01-01 00:00:00");
    }

    #[test]
    fn keeps_fields_the_update_leaves_out() {
        let first = update(None, "PIN=1\tName=A\tCard=55").unwrap();
        let second = update(Some(first), "PIN=1\tName=B").unwrap();
        assert_eq!(second.name, "B");
        assert_eq!(second.card, Some(55));
        let cleared = update(Some(second), "PIN=1\tCard=").unwrap();
        assert_eq!(cleared.card, None);
    }

    #[test]
    fn treats_empty_or_minus_one_verify_as_group_mode() {
        assert_eq!(update(None, "PIN=1\tVerify=").unwrap().verify, -1);
        assert_eq!(update(None, "PIN=1\tVerify=-1").unwrap().verify, -1);
        assert_eq!(update(None, "PIN=1").unwrap().verify, -1);
    }

    #[test]
    fn ignores_removed_and_unknown_fields() {
        let u = update(
            None,
            "PIN=1\tPhone=555\tGender=M\tNation=1\tIDNum=x\tFoo=bar",
        )
        .unwrap();
        assert_eq!(u, User::new("1"));
    }

    #[test]
    fn rejects_invalid_fields_naming_them() {
        for (text, field) in [
            ("Name=x", "PIN"),
            ("PIN=", "PIN"),
            ("PIN=1\tCard=12x", "Card"),
            ("PIN=1\tPri=admin", "Pri"),
            ("PIN=1\tGrp=-3", "Grp"),
            ("PIN=1\tTZ=123", "TZ"),
            ("PIN=1\tVerify=99", "Verify"),
            ("PIN=1\tEndDatetime=2026-13-01", "EndDatetime"),
            ("PIN=1234567890123456789012345", "PIN"),
        ] {
            assert_eq!(update(None, text).unwrap_err().field, field, "{text}");
        }
    }

    #[test]
    fn checks_the_validity_window_by_whole_days() {
        let u = update(None, "PIN=1\tStartDatetime=20260110\tEndDatetime=20260120").unwrap();
        let day = |s: &str| LocalDateTime::parse(s).unwrap();
        assert!(!u.valid_on(day("2026-01-09 23:59:59")));
        assert!(u.valid_on(day("2026-01-10 00:00:00")));
        assert!(u.valid_on(day("2026-01-20 23:59:59")));
        assert!(!u.valid_on(day("2026-01-21 00:00:00")));
        assert!(User::new("2").valid_on(day("1999-01-01 00:00:00")));
    }

    #[test]
    fn encodes_the_user_upload_record() {
        let u = update(
            None,
            "PIN=36234\tName=36234\tPri=0\tPasswd=\tCard=133440\tGrp=1\tTZ=0001000000000000",
        )
        .unwrap();
        assert_eq!(
            u.encode_upload(),
            "USER PIN=36234\tName=36234\tPri=0\tPasswd=\tCard=133440\tGrp=1\tTZ=0001000000000000\tVerify=-1\tViceCard="
        );
    }
}
