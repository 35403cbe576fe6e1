//! How the file tools report file metadata: [`EntryType`] and RFC 3339 timestamps.

use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use cap_std::fs::{FileType, Metadata};
use schemars::JsonSchema;
use serde::Serialize;

/// What kind of file-system entry a path names (never following a final symlink).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EntryType {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link (reported as a link, never as what it points to).
    Symlink,
    /// A device, FIFO or socket.
    Other,
}

impl EntryType {
    /// The type of an entry from its (not followed) file type.
    pub(crate) fn of(file_type: FileType) -> Self {
        if file_type.is_symlink() {
            Self::Symlink
        } else if file_type.is_dir() {
            Self::Directory
        } else if file_type.is_file() {
            Self::File
        } else {
            Self::Other
        }
    }
}

/// A timestamp of `metadata` as RFC 3339 in UTC, or `None` where the platform or file system
/// does not record it.
pub(crate) fn timestamp(time: io::Result<cap_std::time::SystemTime>) -> Option<String> {
    time.ok().map(|t| rfc3339(t.into_std()))
}

/// The modification time of `metadata` as RFC 3339.
pub(crate) fn modified(metadata: &Metadata) -> Option<String> {
    timestamp(metadata.modified())
}

/// `time` as `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds; times before 1970 are negative
/// offsets from it and format correctly too).
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let seconds = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    };
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_epoch_formats_as_rfc3339() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn a_leap_day_formats_as_rfc3339() {
        // 2024-02-29T12:34:56Z
        let time = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(rfc3339(time), "2024-02-29T12:34:56Z");
    }

    #[test]
    fn a_time_before_the_epoch_formats_as_rfc3339() {
        let time = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(rfc3339(time), "1969-12-31T23:59:59Z");
    }
}
