//! PostgreSQL's binary NUMERIC, DATE, TIME and TIMESTAMP values as text, decoded here rather
//! than through chrono or rust_decimal: PostgreSQL's ranges are wider than theirs
//! (`'infinity'`, year 294276, NUMERICs of 1000 digits, `24:00:00`), and a value a database
//! holds must never fail, or panic, on its way to JSON.

/// Days from 0000-03-01 to 2000-01-01, PostgreSQL's epoch, in the proleptic Gregorian
/// calendar.
const EPOCH_DAYS: i64 = 730_425;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A binary DATE: days since 2000-01-01.
pub(crate) fn date(bytes: &[u8]) -> Option<String> {
    let days = i32::from_be_bytes(bytes.try_into().ok()?);
    Some(match days {
        i32::MAX => "infinity".to_owned(),
        i32::MIN => "-infinity".to_owned(),
        _ => civil(i64::from(days)),
    })
}

/// A binary TIME: microseconds since midnight (`24:00:00` included).
pub(crate) fn time(bytes: &[u8]) -> Option<String> {
    let micros = i64::from_be_bytes(bytes.try_into().ok()?);
    Some(clock(micros))
}

/// A binary TIMESTAMP (or, with `utc`, TIMESTAMPTZ): microseconds since 2000-01-01 00:00.
pub(crate) fn timestamp(bytes: &[u8], utc: bool) -> Option<String> {
    let micros = i64::from_be_bytes(bytes.try_into().ok()?);
    Some(match micros {
        i64::MAX => "infinity".to_owned(),
        i64::MIN => "-infinity".to_owned(),
        _ => format!(
            "{}T{}{}",
            civil(micros.div_euclid(MICROS_PER_DAY)),
            clock(micros.rem_euclid(MICROS_PER_DAY)),
            if utc { "Z" } else { "" }
        ),
    })
}

/// A binary NUMERIC as its exact decimal text (`NaN`, `Infinity`, `-Infinity` included).
pub(crate) fn numeric(bytes: &[u8]) -> Option<String> {
    let word = |at: usize| -> Option<i32> {
        let pair: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
        Some(i32::from(i16::from_be_bytes(pair)))
    };
    let ndigits = usize::try_from(word(0)?).ok()?;
    let weight = word(2)?;
    let sign = u16::from_be_bytes(bytes.get(4..6)?.try_into().ok()?);
    let dscale = usize::from(u16::from_be_bytes(bytes.get(6..8)?.try_into().ok()?));
    let digits = (0..ndigits)
        .map(|i| word(8 + 2 * i))
        .collect::<Option<Vec<i32>>>()?;
    match sign {
        0xC000 => return Some("NaN".to_owned()),
        0xD000 => return Some("Infinity".to_owned()),
        0xF000 => return Some("-Infinity".to_owned()),
        _ => {}
    }
    let digit = |index: i32| -> i32 {
        usize::try_from(index)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut text = String::new();
    if sign == 0x4000 {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        for index in 0..=weight {
            if index == 0 {
                text.push_str(&digit(index).to_string());
            } else {
                text.push_str(&format!("{:04}", digit(index)));
            }
        }
    }
    if dscale > 0 {
        let mut fraction = String::new();
        let mut index = weight + 1;
        while fraction.len() < dscale {
            fraction.push_str(&format!("{:04}", digit(index)));
            index += 1;
        }
        fraction.truncate(dscale);
        text.push('.');
        text.push_str(&fraction);
    }
    Some(text)
}

/// `days` since 2000-01-01 as `YYYY-MM-DD` (a year before 1 as a negative astronomical year,
/// four digits at least).
fn civil(days: i64) -> String {
    // Howard Hinnant's days-to-civil, counting from 0000-03-01.
    let z = days + EPOCH_DAYS;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if year < 0 {
        format!("-{:04}-{month:02}-{day:02}", -year)
    } else {
        format!("{year:04}-{month:02}-{day:02}")
    }
}

/// Microseconds since midnight as `HH:MM:SS` with a fraction when there is one.
fn clock(micros: i64) -> String {
    let (seconds, fraction) = (micros / 1_000_000, micros % 1_000_000);
    let text = format!(
        "{:02}:{:02}:{:02}",
        seconds / 3_600,
        seconds / 60 % 60,
        seconds % 60
    );
    if fraction == 0 {
        text
    } else {
        format!("{text}.{}", format!("{fraction:06}").trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_bytes(weight: i16, sign: u16, dscale: u16, digits: &[i16]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let count = i16::try_from(digits.len()).unwrap_or(i16::MAX);
        bytes.extend_from_slice(&count.to_be_bytes());
        bytes.extend_from_slice(&weight.to_be_bytes());
        bytes.extend_from_slice(&sign.to_be_bytes());
        bytes.extend_from_slice(&dscale.to_be_bytes());
        for digit in digits {
            bytes.extend_from_slice(&digit.to_be_bytes());
        }
        bytes
    }

    #[test]
    fn dates_cover_postgres_range_and_infinity() {
        assert_eq!(date(&0_i32.to_be_bytes()).as_deref(), Some("2000-01-01"));
        assert_eq!(date(&59_i32.to_be_bytes()).as_deref(), Some("2000-02-29"));
        assert_eq!(date(&(-1_i32).to_be_bytes()).as_deref(), Some("1999-12-31"));
        assert_eq!(date(&i32::MAX.to_be_bytes()).as_deref(), Some("infinity"));
        assert_eq!(date(&i32::MIN.to_be_bytes()).as_deref(), Some("-infinity"));
        // PostgreSQL's last date, 5874897-12-31.
        assert_eq!(
            date(&2_145_031_948_i32.to_be_bytes()).as_deref(),
            Some("5874897-12-31")
        );
        assert_eq!(date(&[0, 1]), None, "a short value is not a date");
    }

    #[test]
    fn times_include_midnight_at_the_end_of_the_day() {
        assert_eq!(time(&0_i64.to_be_bytes()).as_deref(), Some("00:00:00"));
        assert_eq!(
            time(&MICROS_PER_DAY.to_be_bytes()).as_deref(),
            Some("24:00:00")
        );
        assert_eq!(
            time(&45_296_500_000_i64.to_be_bytes()).as_deref(),
            Some("12:34:56.5")
        );
    }

    #[test]
    fn timestamps_before_the_epoch_and_infinite_ones() {
        assert_eq!(
            timestamp(&(-1_i64).to_be_bytes(), false).as_deref(),
            Some("1999-12-31T23:59:59.999999")
        );
        assert_eq!(
            timestamp(&0_i64.to_be_bytes(), true).as_deref(),
            Some("2000-01-01T00:00:00Z")
        );
        assert_eq!(
            timestamp(&i64::MAX.to_be_bytes(), true).as_deref(),
            Some("infinity")
        );
    }

    #[test]
    fn numerics_keep_every_digit() {
        // 12.50: weight 0, digits [12, 5000], dscale 2.
        assert_eq!(
            numeric(&numeric_bytes(0, 0, 2, &[12, 5000])).as_deref(),
            Some("12.50")
        );
        // -0.0001: weight -1, digits [1], dscale 4.
        assert_eq!(
            numeric(&numeric_bytes(-1, 0x4000, 4, &[1])).as_deref(),
            Some("-0.0001")
        );
        // 1e-8: weight -2, digits [1], dscale 8.
        assert_eq!(
            numeric(&numeric_bytes(-2, 0, 8, &[1])).as_deref(),
            Some("0.00000001")
        );
        // 10^12: weight 3, digits [1] (trailing zero groups omitted).
        assert_eq!(
            numeric(&numeric_bytes(3, 0, 0, &[1])).as_deref(),
            Some("1000000000000")
        );
        assert_eq!(
            numeric(&numeric_bytes(0, 0xC000, 0, &[])).as_deref(),
            Some("NaN")
        );
        assert_eq!(numeric(&numeric_bytes(0, 0, 0, &[])).as_deref(), Some("0"));
    }
}
