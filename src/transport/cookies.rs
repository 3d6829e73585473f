//! Cookies the server sets, sent back on later requests [000 §6, §10; spec G15, AMB-12].
//!
//! A terminal talks to one server, so the jar keeps name=value pairs only (no domain or path
//! matching). A configured `token` is sent until the server sets a token of its own. The security
//! dialect's session token (computed, AMB-3) goes first and wins over both.

use crate::protocol::http::set_cookie_pair;

/// Most cookies kept, and the longest accepted; a misbehaving server cannot grow the jar.
const MAX_COOKIES: usize = 16;
const MAX_COOKIE_LEN: usize = 4096;

#[derive(Debug, Clone, Default)]
pub struct CookieJar {
    cookies: Vec<(String, String)>,
    configured_token: Option<String>,
    session_token: Option<String>,
}

impl CookieJar {
    pub fn new(configured_token: Option<String>) -> CookieJar {
        CookieJar {
            cookies: Vec::new(),
            configured_token,
            session_token: None,
        }
    }

    pub fn set_session_token(&mut self, token: Option<&str>) {
        self.session_token = token.map(str::to_owned);
    }

    /// Takes one `Set-Cookie` header value (read by [`set_cookie_pair`]: quotes removed). `Max-Age`
    /// of zero or less, or an empty value, removes the cookie.
    pub fn store(&mut self, set_cookie: &str) {
        if set_cookie.len() > MAX_COOKIE_LEN {
            return;
        }
        let Some(cookie) = set_cookie_pair(set_cookie) else {
            return;
        };
        self.cookies.retain(|(n, _)| n != cookie.name);
        if !cookie.expired && self.cookies.len() < MAX_COOKIES {
            self.cookies
                .push((cookie.name.to_owned(), cookie.value.to_owned()));
        }
    }

    /// The `Cookie` header value to send, if any.
    pub fn header(&self) -> Option<String> {
        let session_token = self.session_token.iter().map(|t| format!("token={t}"));
        let mut pairs: Vec<String> = session_token
            .chain(
                self.cookies
                    .iter()
                    .filter(|(n, _)| self.session_token.is_none() || n != "token")
                    .map(|(n, v)| format!("{n}={v}")),
            )
            .collect();
        if let Some(token) = &self.configured_token
            && self.session_token.is_none()
            && !self.cookies.iter().any(|(n, _)| n == "token")
        {
            pairs.push(format!("token={token}"));
        }
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_back_what_the_server_set() {
        let mut jar = CookieJar::new(None);
        assert_eq!(jar.header(), None);
        jar.store("JSESSIONID=abc123; Path=/; HttpOnly");
        jar.store("lang=en");
        assert_eq!(jar.header().as_deref(), Some("JSESSIONID=abc123; lang=en"));
        jar.store("JSESSIONID=def; Path=/");
        assert_eq!(jar.header().as_deref(), Some("lang=en; JSESSIONID=def"));
    }

    #[test]
    fn forgets_expired_cookies() {
        let mut jar = CookieJar::new(None);
        jar.store("a=1");
        jar.store("a=1; Max-Age=0");
        jar.store("b=");
        assert_eq!(jar.header(), None);
        jar.store("q=\"quoted\"");
        assert_eq!(jar.header().as_deref(), Some("q=quoted"));
        jar.store("q=1; Path=/; Max-Age=0");
        assert_eq!(jar.header(), None);
    }

    #[test]
    fn sends_the_configured_token_until_the_server_sets_one() {
        let mut jar = CookieJar::new(Some("cb386eb5f8219329db63356fb262ddff".into()));
        assert_eq!(
            jar.header().as_deref(),
            Some("token=cb386eb5f8219329db63356fb262ddff")
        );
        jar.store("token=server; Path=/");
        assert_eq!(jar.header().as_deref(), Some("token=server"));
    }

    #[test]
    fn the_session_token_goes_first_and_wins() {
        let mut jar = CookieJar::new(Some("configured".into()));
        jar.store("JSESSIONID=abc; Path=/");
        jar.store("token=server");
        jar.set_session_token(Some("0123abcd"));
        assert_eq!(
            jar.header().as_deref(),
            Some("token=0123abcd; JSESSIONID=abc")
        );
        jar.set_session_token(None);
        assert_eq!(
            jar.header().as_deref(),
            Some("JSESSIONID=abc; token=server")
        );
    }

    #[test]
    fn ignores_junk_and_stays_bounded() {
        let mut jar = CookieJar::new(None);
        for junk in [
            "",
            "novalue",
            "=x",
            "a b=1",
            &format!("big={}", "x".repeat(5000)),
        ] {
            jar.store(junk);
        }
        assert_eq!(jar.header(), None);
        for i in 0..100 {
            jar.store(&format!("c{i}=v"));
        }
        assert_eq!(jar.header().unwrap().matches('=').count(), MAX_COOKIES);
    }
}
