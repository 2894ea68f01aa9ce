//! date, time, timetz, timestamp, timestamptz, interval <-> the `datetime` module's types.
//!
//! PostgreSQL counts from 2000-01-01: days for date, microseconds for timestamps; `±infinity` are the
//! extreme int32 / int64 values and map to `date.max`/`min` and the naive `datetime.max`/`min`.

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{
    PyDate, PyDateAccess, PyDateTime, PyDelta, PyDeltaAccess, PyTime, PyTimeAccess, PyTzInfo, PyTzInfoAccess,
};

use super::{classes, fixed, type_name_of};

const USECS_PER_DAY: i64 = 86_400_000_000;
const USECS_PER_SEC: i64 = 1_000_000;
/// Days from 1970-01-01 to PostgreSQL's epoch 2000-01-01.
const PG_EPOCH_UNIX_DAYS: i64 = 10_957;
/// Days from 1970-01-01 to 0001-01-01 and to 9999-12-31, Python's date range.
const MIN_UNIX_DAYS: i64 = -719_162;
const MAX_UNIX_DAYS: i64 = 2_932_896;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `z` days after 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 1..=12 and 1..=31
    (y, m as u8, d as u8)
}

/// The date of `unix_days`, if Python can represent it.
fn python_date(unix_days: i64) -> Option<(i32, u8, u8)> {
    if !(MIN_UNIX_DAYS..=MAX_UNIX_DAYS).contains(&unix_days) {
        return None;
    }
    let (y, m, d) = civil_from_days(unix_days);
    Some((i32::try_from(y).ok()?, m, d))
}

fn pg_days(y: i32, m: u8, d: u8) -> i64 {
    days_from_civil(i64::from(y), i64::from(m), i64::from(d)) - PG_EPOCH_UNIX_DAYS
}

/// (hour, minute, second, microsecond) of a time of day in microseconds (0 ..= 24h).
fn split_time(us: i64) -> (u8, u8, u8, u32) {
    let (h, rest) = (us / 3_600_000_000, us % 3_600_000_000);
    let (m, rest) = (rest / 60_000_000, rest % 60_000_000);
    let (s, micro) = (rest / USECS_PER_SEC, rest % USECS_PER_SEC);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // callers keep 0 <= us <= 24h
    (h as u8, m as u8, s as u8, micro as u32)
}

fn time_usecs(h: u8, m: u8, s: u8, micro: u32) -> i64 {
    ((i64::from(h) * 60 + i64::from(m)) * 60 + i64::from(s)) * USECS_PER_SEC + i64::from(micro)
}

pub fn decode_date(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let days = i32::from_be_bytes(fixed(buf, "date")?);
    match days {
        i32::MAX => return Ok(classes::date_max(py)?.clone().unbind()),
        i32::MIN => return Ok(classes::date_min(py)?.clone().unbind()),
        _ => {}
    }
    let unix = i64::from(days) + PG_EPOCH_UNIX_DAYS;
    let Some((y, m, d)) = python_date(unix) else {
        let (y, _, _) = civil_from_days(unix);
        return Err(PyValueError::new_err(format!("year {y} is out of range")));
    };
    Ok(PyDate::new(py, y, m, d)?.into_any().unbind())
}

const MAX_ORDINAL: i64 = 3_652_059; // date.max.toordinal()
const PG_EPOCH_ORDINAL: i64 = 730_120; // date(2000, 1, 1).toordinal()

/// Anything with `toordinal()`; `date.max` / `date.min` are sent as ±infinity.
pub fn encode_date(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let ordinal = if let Ok(d) = value.cast::<PyDate>() {
        pg_days(d.get_year(), d.get_month(), d.get_day()) + PG_EPOCH_ORDINAL
    } else {
        value.call_method0(intern!(value.py(), "toordinal"))?.extract::<i64>()?
    };
    let days = match ordinal {
        MAX_ORDINAL => i32::MAX,
        1 => i32::MIN,
        o => i32::try_from(o - PG_EPOCH_ORDINAL).map_err(|_| PyOverflowError::new_err("date value out of range"))?,
    };
    out.extend_from_slice(&days.to_be_bytes());
    Ok(())
}

pub fn decode_time(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let us = i64::from_be_bytes(fixed(buf, "time")?);
    Ok(make_time(py, us, None)?.into_any().unbind())
}

fn make_time<'py>(py: Python<'py>, us: i64, tz: Option<&Bound<'py, PyTzInfo>>) -> PyResult<Bound<'py, PyTime>> {
    if !(0..=USECS_PER_DAY).contains(&us) {
        return Err(PyValueError::new_err(format!(
            "time value out of range: {us} microseconds"
        )));
    }
    let (h, m, s, micro) = split_time(us);
    PyTime::new(py, h, m, s, micro, tz)
}

fn time_of(value: &Bound<'_, PyAny>) -> PyResult<i64> {
    if let Ok(t) = value.cast::<PyTime>() {
        return Ok(time_usecs(
            t.get_hour(),
            t.get_minute(),
            t.get_second(),
            t.get_microsecond(),
        ));
    }
    let py = value.py();
    let h: u8 = value.getattr(intern!(py, "hour"))?.extract()?;
    let m: u8 = value.getattr(intern!(py, "minute"))?.extract()?;
    let s: u8 = value.getattr(intern!(py, "second"))?.extract()?;
    let micro: u32 = value.getattr(intern!(py, "microsecond"))?.extract()?;
    Ok(time_usecs(h, m, s, micro))
}

/// A time; its tzinfo, if any, is ignored (as asyncpg does).
pub fn encode_time(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    out.extend_from_slice(&time_of(value)?.to_be_bytes());
    Ok(())
}

fn fixed_offset<'py>(py: Python<'py>, east_seconds: i32) -> PyResult<Bound<'py, PyTzInfo>> {
    if east_seconds == 0 {
        return Ok(PyTzInfo::utc(py)?.to_owned());
    }
    PyTzInfo::fixed_offset(py, PyDelta::new(py, 0, east_seconds, 0, true)?)
}

pub fn decode_timetz(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let b: [u8; 12] = fixed(buf, "timetz")?;
    let mut us = [0u8; 8];
    us.copy_from_slice(&b[..8]);
    let us = i64::from_be_bytes(us);
    // PostgreSQL sends the zone in seconds west of UTC.
    let zone = i32::from_be_bytes([b[8], b[9], b[10], b[11]]);
    let east = zone
        .checked_neg()
        .ok_or_else(|| PyValueError::new_err("timetz zone out of range"))?;
    let tz = fixed_offset(py, east)?;
    Ok(make_time(py, us, Some(&tz))?.into_any().unbind())
}

/// Seconds east of UTC of a `timedelta` returned by `utcoffset()`.
fn offset_seconds(delta: &Bound<'_, PyAny>) -> PyResult<i64> {
    if let Ok(d) = delta.cast::<PyDelta>() {
        return Ok(i64::from(d.get_days()) * 86_400 + i64::from(d.get_seconds()));
    }
    Err(PyTypeError::new_err(format!(
        "utcoffset() returned {}, not a timedelta",
        type_name_of(delta)
    )))
}

/// An aware time: `tzinfo.utcoffset(None)` gives the zone.
pub fn encode_timetz(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let py = value.py();
    let us = time_of(value)?;
    let tzinfo = value.getattr(intern!(py, "tzinfo"))?;
    let offset = tzinfo.call_method1(intern!(py, "utcoffset"), (py.None(),))?;
    let east = offset_seconds(&offset)?;
    let zone = i32::try_from(-east).map_err(|_| PyOverflowError::new_err("time zone offset out of range"))?;
    out.extend_from_slice(&us.to_be_bytes());
    out.extend_from_slice(&zone.to_be_bytes());
    Ok(())
}

fn make_datetime(py: Python<'_>, us: i64, utc: bool) -> PyResult<Py<PyAny>> {
    match us {
        i64::MAX => return Ok(classes::datetime_max(py)?.clone().unbind()),
        i64::MIN => return Ok(classes::datetime_min(py)?.clone().unbind()),
        _ => {}
    }
    let days = us.div_euclid(USECS_PER_DAY);
    let (h, m, s, micro) = split_time(us.rem_euclid(USECS_PER_DAY));
    let (y, mo, d) =
        python_date(days + PG_EPOCH_UNIX_DAYS).ok_or_else(|| PyOverflowError::new_err("date value out of range"))?;
    let tz = if utc { Some(PyTzInfo::utc(py)?) } else { None };
    Ok(PyDateTime::new(py, y, mo, d, h, m, s, micro, tz.as_deref())?
        .into_any()
        .unbind())
}

pub fn decode_timestamp(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    make_datetime(py, i64::from_be_bytes(fixed(buf, "timestamp")?), false)
}

pub fn decode_timestamptz(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    make_datetime(py, i64::from_be_bytes(fixed(buf, "timestamptz")?), true)
}

/// Microseconds since 2000-01-01 of the wall-clock fields of `dt`; `datetime.max`/`min` give ±infinity.
fn wall_usecs(dt: &Bound<'_, PyDateTime>) -> i64 {
    let (y, mo, d) = (dt.get_year(), dt.get_month(), dt.get_day());
    let (h, mi, s, us) = (dt.get_hour(), dt.get_minute(), dt.get_second(), dt.get_microsecond());
    if (y, mo, d, h, mi, s, us) == (9999, 12, 31, 23, 59, 59, 999_999) {
        return i64::MAX;
    }
    if (y, mo, d, h, mi, s, us) == (1, 1, 1, 0, 0, 0, 0) {
        return i64::MIN;
    }
    pg_days(y, mo, d) * USECS_PER_DAY + time_usecs(h, mi, s, us)
}

/// `dt.utcoffset()` in seconds, or `None` for a naive datetime.
fn utcoffset(dt: &Bound<'_, PyDateTime>) -> PyResult<Option<i64>> {
    if dt.get_tzinfo().is_none() {
        return Ok(None);
    }
    let offset = dt.call_method0(intern!(dt.py(), "utcoffset"))?;
    if offset.is_none() {
        return Ok(None);
    }
    offset_seconds(&offset).map(Some)
}

fn not_a_datetime(value: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "expected a datetime.date or datetime.datetime instance, got '{}'",
        type_name_of(value)
    ))
}

/// A naive datetime, or a date as midnight.
pub fn encode_timestamp(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let us = if let Ok(dt) = value.cast::<PyDateTime>() {
        if utcoffset(dt)?.is_some() {
            return Err(PyTypeError::new_err(
                "can't subtract offset-naive and offset-aware datetimes",
            ));
        }
        wall_usecs(dt)
    } else if let Ok(d) = value.cast::<PyDate>() {
        pg_days(d.get_year(), d.get_month(), d.get_day()) * USECS_PER_DAY
    } else {
        return Err(not_a_datetime(value));
    };
    out.extend_from_slice(&us.to_be_bytes());
    Ok(())
}

/// An aware datetime; a naive one, or a date at midnight, is taken as local time.
pub fn encode_timestamptz(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let py = value.py();
    let local;
    let dt = if let Ok(dt) = value.cast::<PyDateTime>() {
        dt
    } else if let Ok(d) = value.cast::<PyDate>() {
        local = PyDateTime::new(py, d.get_year(), d.get_month(), d.get_day(), 0, 0, 0, 0, None)?;
        &local
    } else {
        return Err(not_a_datetime(value));
    };
    let wall = wall_usecs(dt);
    let us = if wall == i64::MAX || wall == i64::MIN {
        wall
    } else {
        match utcoffset(dt)? {
            Some(east) => wall - east * USECS_PER_SEC,
            None => {
                let aware = dt.call_method0(intern!(py, "astimezone"))?;
                let aware = aware.cast::<PyDateTime>()?;
                let east = utcoffset(aware)?.unwrap_or(0);
                wall_usecs(aware) - east * USECS_PER_SEC
            }
        }
    };
    out.extend_from_slice(&us.to_be_bytes());
    Ok(())
}

/// interval -> timedelta, counting a month as 30 days and a year (12 months) as 365 days.
pub fn decode_interval(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let b: [u8; 16] = fixed(buf, "interval")?;
    let mut us = [0u8; 8];
    us.copy_from_slice(&b[..8]);
    let us = i64::from_be_bytes(us);
    let days = i64::from(i32::from_be_bytes([b[8], b[9], b[10], b[11]]));
    let months = i64::from(i32::from_be_bytes([b[12], b[13], b[14], b[15]]));
    // Truncating division keeps the sign of the months in both parts.
    let (years, months) = (months / 12, months % 12);
    let total_days = days + months * 30 + years * 365 + us.div_euclid(USECS_PER_DAY);
    let rest = us.rem_euclid(USECS_PER_DAY);
    let days = i32::try_from(total_days)
        .map_err(|_| PyOverflowError::new_err(format!("days={total_days}; must have magnitude <= 999999999")))?;
    #[allow(clippy::cast_possible_truncation)] // rest < one day
    let (secs, micro) = ((rest / USECS_PER_SEC) as i32, (rest % USECS_PER_SEC) as i32);
    Ok(PyDelta::new(py, days, secs, micro, true)?.into_any().unbind())
}

/// A timedelta (months are sent as 0, days and microseconds as they are).
pub fn encode_interval(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let (days, secs, micro) = if let Ok(d) = value.cast::<PyDelta>() {
        (d.get_days(), d.get_seconds(), d.get_microseconds())
    } else {
        let py = value.py();
        (
            value.getattr(intern!(py, "days"))?.extract()?,
            value.getattr(intern!(py, "seconds"))?.extract()?,
            value.getattr(intern!(py, "microseconds"))?.extract()?,
        )
    };
    let us = i64::from(secs) * USECS_PER_SEC + i64::from(micro);
    out.extend_from_slice(&us.to_be_bytes());
    out.extend_from_slice(&days.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{civil_from_days, days_from_civil, MAX_UNIX_DAYS, MIN_UNIX_DAYS, PG_EPOCH_UNIX_DAYS};

    #[test]
    fn civil_round_trips() {
        assert_eq!(days_from_civil(2000, 1, 1), PG_EPOCH_UNIX_DAYS);
        assert_eq!(days_from_civil(1, 1, 1), MIN_UNIX_DAYS);
        assert_eq!(days_from_civil(9999, 12, 31), MAX_UNIX_DAYS);
        for z in (MIN_UNIX_DAYS..=MAX_UNIX_DAYS).step_by(997) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, i64::from(m), i64::from(d)), z);
        }
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
