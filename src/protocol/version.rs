//! PUSH protocol versions and the features each one gates [000 App 6; spec §6.6].

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PushVersion {
    pub major: u16,
    pub minor: u16,
    pub patch: u16,
}

impl PushVersion {
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        PushVersion {
            major,
            minor,
            patch,
        }
    }

    /// Assumed when the server sends no `PushProtVer` [000 §5, App 6].
    pub const BASELINE: PushVersion = PushVersion::new(2, 2, 14);

    /// The version both sides speak: the lower of ours and the server's [000 App 6].
    pub fn negotiate(device: PushVersion, server: Option<PushVersion>) -> PushVersion {
        device.min(server.unwrap_or(Self::BASELINE))
    }

    pub fn supports(self, feature: Feature) -> bool {
        self >= feature.since()
    }
}

/// Protocol features whose use depends on the negotiated version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// OPERLOG-family uploads (OPLOG, USER, templates), ATTPHOTO, BIODATA, USERPIC.
    OperationLog,
    /// IDCARD uploads.
    IdCard,
    /// ID-card attendance records and communication encryption.
    Encryption,
    /// ERRORLOG uploads.
    ErrorLog,
}

impl Feature {
    pub fn since(self) -> PushVersion {
        match self {
            Feature::OperationLog => PushVersion::new(2, 2, 14),
            Feature::IdCard => PushVersion::new(2, 3, 0),
            Feature::Encryption => PushVersion::new(2, 4, 0),
            Feature::ErrorLog => PushVersion::new(2, 4, 1),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid protocol version {0:?} (expected digits like 2.4.1)")]
pub struct VersionError(pub String);

/// Parses `2.4.1`, `2.2.14`, `3.1` and the dated `ServerVer` form `3.4.1 2010-06-07` (the date is
/// ignored).
impl FromStr for PushVersion {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let first = s.split_whitespace().next().unwrap_or("");
        let mut parts = first.split('.');
        let mut next = |required: bool| -> Result<u16, VersionError> {
            match parts.next() {
                Some(p) => p.parse().map_err(|_| VersionError(s.to_owned())),
                None if required => Err(VersionError(s.to_owned())),
                None => Ok(0),
            }
        };
        let version = PushVersion {
            major: next(true)?,
            minor: next(true)?,
            patch: next(false)?,
        };
        if parts.next().is_some() {
            return Err(VersionError(s.to_owned()));
        }
        Ok(version)
    }
}

impl fmt::Display for PushVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> PushVersion {
        s.parse().unwrap()
    }

    #[test]
    fn compares_numerically_not_lexically() {
        assert!(v("2.2.14") > v("2.2.9"));
        assert!(v("2.4.1") > v("2.2.14"));
        assert_eq!(v("3.4.1 2010-06-07"), PushVersion::new(3, 4, 1));
        assert_eq!(v("3.1"), PushVersion::new(3, 1, 0));
    }

    #[test]
    fn rejects_malformed_versions() {
        for bad in ["", "2", "2.x.1", "2.4.1.7", "v2.4"] {
            assert!(bad.parse::<PushVersion>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn negotiates_the_lower_version_and_assumes_baseline() {
        assert_eq!(
            PushVersion::negotiate(v("2.4.1"), Some(v("2.3.0"))),
            v("2.3.0")
        );
        assert_eq!(
            PushVersion::negotiate(v("2.4.1"), Some(v("3.0.0"))),
            v("2.4.1")
        );
        assert_eq!(PushVersion::negotiate(v("2.4.1"), None), v("2.2.14"));
    }

    #[test]
    fn gates_features_by_version() {
        assert!(!v("2.2.13").supports(Feature::OperationLog));
        assert!(v("2.2.14").supports(Feature::OperationLog));
        assert!(!v("2.4.0").supports(Feature::ErrorLog));
        assert!(v("2.4.1").supports(Feature::ErrorLog));
        assert!(v("2.3.0").supports(Feature::IdCard));
    }
}
