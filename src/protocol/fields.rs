//! `Key=Value` fields of one record, as used in DATA commands and typed upload records.
//!
//! Rules [000 G6, G9; spec AMB-15]: fields are separated by HT; each splits at its **first** `=`
//! (Base64 values end in `=`); keys match case-insensitively; names may contain spaces. Some
//! servers and the seed's own PDF render the tabs as spaces, so a record without any HT is split at
//! the spaces that come right before a `Key=` token, which keeps `Name=John Smith` whole.

use std::fmt;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    items: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldsError {
    #[error("field {0:?} has no '='")]
    MissingEquals(String),
    #[error("field with an empty key")]
    EmptyKey,
}

impl Fields {
    /// Parses one record's fields. Empty pieces (doubled or trailing tabs) are skipped.
    pub fn parse(text: &str) -> Result<Fields, FieldsError> {
        let text = text.trim_matches(['\r', '\n']);
        let pieces: Vec<&str> = if text.contains('\t') {
            text.split('\t').collect()
        } else {
            split_at_keys(text)
        };
        let mut items = Vec::with_capacity(pieces.len());
        for piece in pieces {
            let piece = piece.trim_start_matches(' ');
            if piece.trim().is_empty() {
                continue;
            }
            let (key, value) = piece
                .split_once('=')
                .ok_or_else(|| FieldsError::MissingEquals(piece.to_owned()))?;
            let key = key.trim();
            if key.is_empty() {
                return Err(FieldsError::EmptyKey);
            }
            items.push((
                key.to_owned(),
                value.trim_end_matches(['\r', ' ']).to_owned(),
            ));
        }
        Ok(Fields { items })
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Fields {
        Fields {
            items: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of the first field whose key equals `key`, ignoring case.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.items
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// The value of the first key in `aliases` that is present (spelling variants, AMB-15).
    pub fn get_any(&self, aliases: &[&str]) -> Option<&str> {
        aliases.iter().find_map(|k| self.get(k))
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.items.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Writes the fields HT-separated in their original order and spelling.
impl fmt::Display for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str("\t")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

/// Splits `PIN=1 Name=John Smith Pri=0` into `PIN=1`, `Name=John Smith`, `Pri=0`: a space ends a
/// field only when the next token looks like a key (`[A-Za-z~][A-Za-z0-9_~]*=`).
fn split_at_keys(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut pieces = Vec::new();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b' ' && starts_with_key(&bytes[i + 1..]) {
            pieces.push(&text[start..i]);
            start = i + 1;
        }
    }
    pieces.push(&text[start..]);
    pieces
}

fn starts_with_key(rest: &[u8]) -> bool {
    let mut len = 0;
    for &b in rest {
        match b {
            b'=' => return len > 0,
            b'A'..=b'Z' | b'a'..=b'z' | b'~' => len += 1,
            b'0'..=b'9' | b'_' if len > 0 => len += 1,
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_first_equals_only() {
        let f = Fields::parse("PIN=1\tTMP=QUJD==\tName=a=b").unwrap();
        assert_eq!(f.get("tmp"), Some("QUJD=="));
        assert_eq!(f.get("Name"), Some("a=b"));
    }

    #[test]
    fn matches_keys_ignoring_case_and_aliases() {
        let f = Fields::parse("Pin=7\tVAILD=1\tSIZE=4").unwrap();
        assert_eq!(f.get("PIN"), Some("7"));
        assert_eq!(f.get_any(&["Valid", "VAILD"]), Some("1"));
        assert_eq!(f.get("size"), Some("4"));
        assert_eq!(f.get("missing"), None);
    }

    #[test]
    fn accepts_space_separated_fields_keeping_names_with_spaces() {
        let f = Fields::parse("PIN=36234 Name=John Smith Pri=0 Passwd= Card=133440").unwrap();
        assert_eq!(f.get("Name"), Some("John Smith"));
        assert_eq!(f.get("Passwd"), Some(""));
        assert_eq!(f.get("Card"), Some("133440"));
        assert_eq!(f.len(), 5);
    }

    #[test]
    fn keeps_spaces_inside_values_when_tabs_separate() {
        let f =
            Fields::parse("StartTime=2015-07-29 00:00:00\tEndTime=2015-07-29 23:59:59").unwrap();
        assert_eq!(f.get("EndTime"), Some("2015-07-29 23:59:59"));
    }

    #[test]
    fn skips_empty_pieces_and_trailing_cr() {
        let f = Fields::parse("PIN=1\t\tName=x\t\r\n").unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f.get("Name"), Some("x"));
    }

    #[test]
    fn rejects_a_field_without_equals() {
        assert_eq!(
            Fields::parse("PIN=1\tgarbage"),
            Err(FieldsError::MissingEquals("garbage".into()))
        );
        assert_eq!(Fields::parse("=1"), Err(FieldsError::EmptyKey));
    }

    #[test]
    fn round_trips_through_display() {
        let text = "PIN=1\tName=Ann Lee\tCard=[15CD5B07]";
        assert_eq!(Fields::parse(text).unwrap().to_string(), text);
    }
}
