//! Timestamp parsing for feed metadata: RFC 3339 (STIX, MISP `first_seen`), the abuse.ch
//! `YYYY-MM-DD HH:MM:SS` (UTC) form, bare dates, and decimal Unix seconds (MISP `timestamp`).
//! Civil-date conversion follows Howard Hinnant's `days_from_civil`
//! (<https://howardhinnant.github.io/date_algorithms.html>).

/// Seconds since the Unix epoch for `text`, or `None` when it is not one of the accepted forms.
/// Fractional seconds are dropped; a numeric offset (`+02:00`) is applied; a time without zone
/// is UTC.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if t.bytes().all(|c| c.is_ascii_digit()) {
        // Unix seconds; 4-digit strings would be ambiguous with a year, but no feed uses those.
        return if t.len() <= 12 { t.parse().ok() } else { None };
    }
    let b = t.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let s = b.get(from..from.checked_add(len)?)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(s).ok()?.parse().ok()
    };
    let year = num(0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = num(5, 2)?;
    let day = num(8, 2)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let mut secs = days.checked_mul(86_400)?;
    if b.len() == 10 {
        return Some(secs);
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(13) != Some(&b':') {
        return None;
    }
    let h = num(11, 2)?;
    let m = num(14, 2)?;
    let (s, mut i) = if b.get(16) == Some(&b':') {
        (num(17, 2)?, 19)
    } else {
        (0, 16)
    };
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    secs = secs.checked_add(h * 3600 + m * 60 + s)?;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    let zone = t.get(i..)?.trim();
    match zone {
        "" | "Z" | "z" | "UTC" | "(UTC)" | "+00:00" | "+0000" => Some(secs),
        z => {
            let zb = z.as_bytes();
            let sign = match zb.first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            let digits: Vec<u8> = zb.iter().skip(1).copied().filter(|&c| c != b':').collect();
            if digits.len() != 4 || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let v: i64 = std::str::from_utf8(&digits).ok()?.parse().ok()?;
            let off = (v / 100) * 3600 + (v % 100) * 60;
            secs.checked_sub(sign * off)
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 UTC text (`2016-04-06T20:03:48Z`) for Unix seconds, for STIX/MISP output.
pub(crate) fn format_rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Wall-clock Unix seconds (0 if the clock is before 1970).
pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
