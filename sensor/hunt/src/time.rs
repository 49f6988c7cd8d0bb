//! EVE timestamps (`2026-01-15T09:00:05.180500+0000`) to and from microseconds since the epoch.

/// Parses an EVE timestamp (ISO 8601 with an optional fraction and a `+hhmm`, `+hh:mm` or `Z`
/// offset). `None` for anything else, including dates before 1970.
pub fn parse_us(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    // Digits by hand: this runs three times per flow event.
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.is_empty() {
            return None;
        }
        part.iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b' '))
    {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_us: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let digits = b.get(start..i)?;
        if digits.is_empty() {
            return None;
        }
        for k in 0..6 {
            frac_us = frac_us * 10 + i64::from(digits.get(k).map_or(0, |c| c - b'0'));
        }
    }
    let offset_s: i64 = match b.get(i) {
        None => 0,
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let (oh, om) = match b.len() - i {
                5 => (num(i + 1..i + 3)?, num(i + 3..i + 5)?),
                6 if b.get(i + 3) == Some(&b':') => (num(i + 1..i + 3)?, num(i + 4..i + 6)?),
                _ => return None,
            };
            let o = oh * 3600 + om * 60;
            if sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_s;
    u64::try_from(secs.checked_mul(1_000_000)?.checked_add(frac_us)?).ok()
}

/// Formats as EVE does, in UTC.
pub fn format_us(us: u64) -> String {
    let secs = i64::try_from(us / 1_000_000).unwrap_or(i64::MAX / 2);
    let frac = us % 1_000_000;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}+0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eve_timestamps_round_trip() {
        // 2026-01-15T09:00:05.1805Z = 1768467605.1805 (date -u -d @1768467605).
        let us = parse_us("2026-01-15T09:00:05.180500+0000").expect("parse");
        assert_eq!(us, 1_768_467_605_180_500);
        assert_eq!(format_us(us), "2026-01-15T09:00:05.180500+0000");
        assert_eq!(parse_us("2026-01-15T10:00:05.1805+01:00"), Some(us));
        assert_eq!(parse_us("2026-01-15T09:00:05.1805Z"), Some(us));
        assert_eq!(parse_us("1970-01-01T00:00:00+0000"), Some(0));
        assert_eq!(
            format_us(951_782_400_000_000),
            "2000-02-29T00:00:00.000000+0000"
        );
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-01-15",
            "1969-12-31T23:59:59Z",
            "2026-01-15T09:00:05.+0000",
            "2026-01-15T09:00:05+00",
        ] {
            assert_eq!(parse_us(bad), None, "{bad}");
        }
    }
}
