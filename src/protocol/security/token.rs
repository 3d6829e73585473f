//! The session token of the Security PUSH dialect, sent as `Cookie: token=<hex>` on every request
//! after registration [note §2.11, §8.1; seed 003 §4.5 note]. This module only computes it: the
//! session engine will hand the token to the transport's cookie jar, which writes the header.

use crate::protocol::http::set_cookie_pair;
use md5::{Digest, Md5};
use std::fmt;

/// `lowercase_hex(MD5(RegistryCode ‖ SerialNumber ‖ SessionID))` [note §2.11].
///
/// The concatenation has no separators. Following the note's recommendation for the SessionID
/// [AMB-3], the caller passes the latest SessionID it has seen (registered `cdata` answer, `push`
/// answer, or the session cookie of the registry answer, see
/// [`session_id_from_set_cookie`]); before any SessionID exists, pass `None` and the token is
/// `MD5(RegistryCode ‖ SerialNumber)`. The token is a credential, so `Debug` masks it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Computes the token [note §2.11, AMB-3].
    pub fn compute(registry_code: &str, serial: &str, session_id: Option<&str>) -> Token {
        let digest = Md5::new()
            .chain_update(registry_code)
            .chain_update(serial)
            .chain_update(session_id.unwrap_or(""))
            .finalize();
        Token(format!("{digest:x}"))
    }

    /// The 32 lowercase hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// The SessionID a registry answer sets as a cookie (`Set-Cookie: JSESSIONID=…; Path=/`), which in
/// the seed's example equals the SessionID of the later `push` answer [note §2.4, §2.11, AMB-3].
/// Accepts `JSESSIONID` and `sessionid`, names compared ignoring case, the value unquoted; `None`
/// for any other cookie, an empty value or a cookie the header deletes (`Max-Age=0`). The header
/// is read by [`set_cookie_pair`], as the transport's cookie jar reads it.
pub fn session_id_from_set_cookie(set_cookie: &str) -> Option<String> {
    let cookie = set_cookie_pair(set_cookie)?;
    let known = cookie.name.eq_ignore_ascii_case("JSESSIONID")
        || cookie.name.eq_ignore_ascii_case("sessionid");
    (known && !cookie.expired).then(|| cookie.value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors computed independently with `printf '%s' … | md5sum`.
    const CODE: &str = "Uy47fxftP3";
    const SN: &str = "3383154200002";
    const SESSION: &str = "30BFB04B2C8AECC72C01C03BFD549D15";

    #[test]
    fn hashes_code_serial_and_session_id_in_that_order() {
        let token = Token::compute(CODE, SN, Some(SESSION));
        assert_eq!(token.as_str(), "a59b6315f78c9a2b8e04ef32a50760e9");
    }

    #[test]
    fn hashes_code_and_serial_before_any_session_id() {
        let token = Token::compute(CODE, SN, None);
        assert_eq!(token.as_str(), "909c543eb66bf1f43fd9c9c09e42ffb4");
        // An empty SessionID is the same bytes as none.
        assert_eq!(Token::compute(CODE, SN, Some("")), token);
    }

    #[test]
    fn hashes_empty_input_and_masks_debug_output() {
        let token = Token::compute("", "", None);
        assert_eq!(token.as_str(), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(format!("{token:?}"), "Token(***)");
    }

    #[test]
    fn takes_the_session_id_from_the_registry_cookie() {
        let header = "JSESSIONID=30BFB04B2C8AECC72C01C03BFD549D15; Path=/; HttpOnly";
        assert_eq!(session_id_from_set_cookie(header).as_deref(), Some(SESSION));
        assert_eq!(
            session_id_from_set_cookie("sessionid=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(session_id_from_set_cookie("csrftoken=x; Path=/"), None);
        assert_eq!(session_id_from_set_cookie("JSESSIONID=; Path=/"), None);
        assert_eq!(session_id_from_set_cookie("garbage"), None);
        assert_eq!(session_id_from_set_cookie(""), None);
    }

    #[test]
    fn unquotes_the_session_id_and_ignores_a_deleted_cookie() {
        let quoted = format!("JSESSIONID=\"{SESSION}\"; Path=/");
        assert_eq!(
            session_id_from_set_cookie(&quoted).as_deref(),
            Some(SESSION)
        );
        let deleted = format!("JSESSIONID={SESSION}; Path=/; Max-Age=0");
        assert_eq!(session_id_from_set_cookie(&deleted), None);
    }
}
