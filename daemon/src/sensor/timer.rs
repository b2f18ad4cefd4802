//! Timers in-process: `core.st2.IntervalTimer`, `DateTimer` and `CronTimer` with StackStorm's
//! (APScheduler's) semantics, driven by the active rules' trigger parameters (ST2-COMPAT.md 4.2).
//!
//! Owns: parsing timer parameters and the one task that fires every timer. Must not: match rules
//! (a fired timer is a journaled trigger instance like any other).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::reload::Published;
use crate::trigger::journal::Journal;
use crate::trigger::triggers::{Trigger, active_of_types};

pub const INTERVAL: &str = "core.st2.IntervalTimer";
pub const DATE: &str = "core.st2.DateTimer";
pub const CRON: &str = "core.st2.CronTimer";

/// Why a timer's parameters give no schedule; each names the parameter.
#[derive(Debug, thiserror::Error)]
pub enum TimerError {
    #[error("timezone \"{name}\" is unknown")]
    Timezone { name: String },
    #[error("delta must be a positive integer")]
    Delta,
    #[error("unit {unit:?} must be one of weeks, days, hours, minutes, seconds")]
    Unit { unit: Option<String> },
    #[error("date is required")]
    NoDate,
    #[error("date \"{text}\" does not exist in {tz}")]
    NoSuchTime { text: String, tz: Tz },
    #[error("date \"{text}\" is not a date such as 2026-12-31 23:59:59")]
    Date { text: String },
    #[error("the week field is not supported; use day or day_of_week")]
    Week,
    #[error("day_of_week \"{field}\" is not understood")]
    DayOfWeek { field: String },
    #[error("day_of_week {day} is out of range 0-6 (0 is Monday)")]
    DayOutOfRange { day: u32 },
    #[error("cron parameters give the pattern \"{pattern}\": {source}")]
    Pattern { pattern: String, source: croner::errors::CronError },
    #[error("{type_ref} is not a timer")]
    NotATimer { type_ref: String },
}

/// When a timer fires.
#[derive(Debug, Clone)]
pub enum Schedule {
    Every(Duration),
    Once(DateTime<Utc>),
    Cron(Box<Cron>, Tz),
}

impl Schedule {
    /// The next fire time strictly after `after`; `None` when it never fires again.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(every) => chrono::Duration::from_std(*every).ok().map(|d| after + d),
            Schedule::Once(at) => (*at > after).then_some(*at),
            Schedule::Cron(cron, tz) => {
                cron.find_next_occurrence(&after.with_timezone(tz), false).ok().map(|t| t.with_timezone(&Utc))
            }
        }
    }
}

/// Reads a timer trigger's parameters; the error names the parameter.
pub fn schedule(trigger: &Trigger, default_tz: Tz) -> Result<Schedule, TimerError> {
    let params = &trigger.parameters;
    let tz = match params.get("timezone").and_then(Value::as_str) {
        Some(name) => name.parse::<Tz>().map_err(|_| TimerError::Timezone { name: name.to_string() })?,
        None => default_tz,
    };
    match trigger.type_ref.as_str() {
        INTERVAL => {
            let delta = params.get("delta").and_then(Value::as_u64).filter(|d| *d > 0).ok_or(TimerError::Delta)?;
            let unit = match params.get("unit").and_then(Value::as_str) {
                Some("weeks") => 7 * 86_400,
                Some("days") => 86_400,
                Some("hours") => 3_600,
                Some("minutes") => 60,
                Some("seconds") => 1,
                other => return Err(TimerError::Unit { unit: other.map(String::from) }),
            };
            Ok(Schedule::Every(Duration::from_secs(delta * unit)))
        }
        DATE => {
            let text = params.get("date").and_then(Value::as_str).ok_or(TimerError::NoDate)?;
            Ok(Schedule::Once(parse_date(text, tz)?))
        }
        CRON => {
            let pattern = cron_pattern(params)?;
            let cron = CronParser::builder()
                .seconds(Seconds::Required)
                .dom_and_dow(true)
                .build()
                .parse(&pattern)
                .map_err(|source| TimerError::Pattern { pattern: pattern.clone(), source })?;
            Ok(Schedule::Cron(Box::new(cron), tz))
        }
        other => Err(TimerError::NotATimer { type_ref: other.to_string() }),
    }
}

fn parse_date(text: &str, tz: Tz) -> Result<DateTime<Utc>, TimerError> {
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(text) {
        return Ok(with_offset.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d"] {
        let parsed = NaiveDateTime::parse_from_str(text, format)
            .or_else(|_| chrono::NaiveDate::parse_from_str(text, format).map(|d| d.and_time(chrono::NaiveTime::MIN)));
        if let Ok(naive) = parsed {
            return tz
                .from_local_datetime(&naive)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| TimerError::NoSuchTime { text: text.to_string(), tz });
        }
    }
    Err(TimerError::Date { text: text.to_string() })
}

/// APScheduler cron fields → a 7-field cron pattern (`sec min hour dom month dow year`).
/// Omitted fields less significant than the least significant given one take their minimum;
/// more significant ones are `*`. `day_of_week` 0 is Monday (APScheduler), 1 in cron.
pub fn cron_pattern(params: &Map<String, Value>) -> Result<String, TimerError> {
    const ORDER: [(&str, &str); 8] = [
        ("year", "*"),
        ("month", "1"),
        ("day", "1"),
        ("week", "*"),
        ("day_of_week", "*"),
        ("hour", "0"),
        ("minute", "0"),
        ("second", "0"),
    ];
    let field = |name: &str| -> Option<String> {
        params.get(name).and_then(|v| match v {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    if field("week").is_some_and(|w| w != "*") {
        return Err(TimerError::Week);
    }
    let least = ORDER.iter().rposition(|(name, _)| field(name).is_some());
    let value = |index: usize| -> String {
        let (name, minimum) = ORDER[index];
        match field(name) {
            Some(given) => given,
            None if least.is_some_and(|l| index > l) => minimum.to_string(),
            None => "*".to_string(),
        }
    };
    let dow = weekdays_to_cron(&value(4))?;
    Ok(format!("{} {} {} {} {} {} {}", value(7), value(6), value(5), value(2), value(1), dow, value(0)))
}

/// Maps APScheduler weekday numbers (0 = Monday) to cron's (0 = Sunday); names pass through.
fn weekdays_to_cron(field: &str) -> Result<String, TimerError> {
    let map = |n: &str| -> Result<u32, TimerError> {
        let n: u32 = n.parse().map_err(|_| TimerError::DayOfWeek { field: field.to_string() })?;
        if n > 6 {
            return Err(TimerError::DayOutOfRange { day: n });
        }
        Ok((n + 1) % 7)
    };
    let items: Result<Vec<String>, TimerError> = field
        .split(',')
        .map(|item| {
            let (range, step) = match item.split_once('/') {
                Some((range, step)) => (range, Some(step)),
                None => (item, None),
            };
            if range == "*" || range.chars().any(|c| c.is_ascii_alphabetic()) {
                return Ok(item.to_string());
            }
            let mapped = match range.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (map(a)?, map(b)?);
                    if a <= b || step.is_some() {
                        format!("{a}-{b}")
                    } else {
                        // Saturday-Sunday (5-6) becomes 6,0 rather than a descending range.
                        return Ok((a..7).chain(0..=b).map(|d| d.to_string()).collect::<Vec<_>>().join(","));
                    }
                }
                None => map(range)?.to_string(),
            };
            Ok(match step {
                Some(step) => format!("{mapped}/{step}"),
                None => mapped,
            })
        })
        .collect();
    Ok(items?.join(","))
}

/// StackStorm's timer payload: `executed_at` as Python prints a UTC datetime.
fn payload(at: DateTime<Utc>) -> Value {
    json!({"executed_at": at.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string(), "schedule": null})
}

/// Fires every active timer until `shutdown`, following each new registry snapshot.
pub async fn run(published: Published, journal: Journal, default_tz: Tz, shutdown: CancellationToken) {
    let mut generations = published.subscribe();
    let mut schedules: HashMap<String, Schedule> = HashMap::new();
    let mut due: BinaryHeap<Reverse<(DateTime<Utc>, String)>> = BinaryHeap::new();
    loop {
        let wanted = active_of_types(&published.registry(), &[INTERVAL, DATE, CRON]);
        let mut next: HashMap<String, Schedule> = HashMap::with_capacity(wanted.len());
        let now = Utc::now();
        for trigger in wanted {
            if let Some(kept) = schedules.remove(&trigger.ref_) {
                next.insert(trigger.ref_, kept);
                continue;
            }
            match schedule(&trigger, default_tz) {
                Ok(schedule) => {
                    if let Some(at) = schedule.next_after(now) {
                        due.push(Reverse((at, trigger.ref_.clone())));
                    }
                    next.insert(trigger.ref_, schedule);
                }
                Err(error) => tracing::warn!(trigger = %trigger.ref_, error = %error, "timer not scheduled"),
            }
        }
        schedules = next;
        due.retain(|Reverse((_, ref_))| schedules.contains_key(ref_));
        loop {
            let sleep = match due.peek() {
                Some(Reverse((at, _))) => (*at - Utc::now()).to_std().unwrap_or(Duration::ZERO),
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                changed = generations.changed() => {
                    if changed.is_err() { return }
                    break;
                }
                () = shutdown.cancelled() => return,
            }
            let now = Utc::now();
            while due.peek().is_some_and(|Reverse((at, _))| *at <= now) {
                let Some(Reverse((at, ref_))) = due.pop() else { break };
                journal.append(ref_.clone(), payload(now), None, None, Box::new(|_| {})).await;
                if let Some(next) = schedules.get(&ref_).and_then(|s| s.next_after(at.max(now))) {
                    due.push(Reverse((next, ref_)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    fn trigger(type_ref: &str, parameters: Value) -> Trigger {
        Trigger { ref_: "core.x".into(), type_ref: type_ref.into(), parameters: params(parameters) }
    }

    #[test]
    fn cron_fields_follow_apscheduler() {
        let cases = [
            (json!({"minute": 5}), "0 5 * * * * *"),
            (json!({"hour": 3}), "0 0 3 * * * *"),
            (json!({"day_of_week": 0, "hour": 9}), "0 0 9 * * 1 *"),
            (json!({"day_of_week": "0-4", "hour": "9", "minute": "30"}), "0 30 9 * * 1-5 *"),
            (json!({"day_of_week": "5-6"}), "0 0 0 * * 6,0 *"),
            (json!({"day_of_week": "6"}), "0 0 0 * * 0 *"),
            (json!({"month": 2}), "0 0 0 1 2 * *"),
            (json!({"second": "*/10"}), "*/10 * * * * * *"),
            (json!({"day_of_week": "mon-fri", "hour": 8}), "0 0 8 * * mon-fri *"),
        ];
        for (fields, expected) in cases {
            let pattern = cron_pattern(&params(fields.clone())).unwrap_or_else(|e| panic!("{fields}: {e}"));
            assert_eq!(pattern, expected, "{fields}");
        }
        assert!(cron_pattern(&params(json!({"week": 3}))).is_err());
        assert!(cron_pattern(&params(json!({"day_of_week": 7}))).is_err());
    }

    #[test]
    fn schedules_give_the_next_fire_time() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).single().expect("a time");
        let every = schedule(&trigger(INTERVAL, json!({"unit": "minutes", "delta": 5})), Tz::UTC).expect("valid");
        assert_eq!(every.next_after(now), Some(now + chrono::Duration::minutes(5)));
        let cron =
            schedule(&trigger(CRON, json!({"day_of_week": 0, "hour": 9, "timezone": "UTC"})), Tz::UTC).expect("valid");
        // 2026-11-24 is a Tuesday: the next Monday 09:00 is the 30th.
        assert_eq!(cron.next_after(now), Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).single());
        let la =
            schedule(&trigger(CRON, json!({"hour": 9, "timezone": "America/Los_Angeles"})), Tz::UTC).expect("valid");
        assert_eq!(la.next_after(now), Utc.with_ymd_and_hms(2026, 11, 24, 17, 0, 0).single(), "09:00 PST is 17:00 UTC");
        let date = schedule(&trigger(DATE, json!({"date": "2026-12-31 23:59:59", "timezone": "UTC"})), Tz::UTC)
            .expect("valid");
        assert_eq!(date.next_after(now), Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).single());
        let past = schedule(&trigger(DATE, json!({"date": "2020-01-01 00:00:00"})), Tz::UTC).expect("valid");
        assert_eq!(past.next_after(now), None, "a date in the past is not scheduled");
    }

    #[test]
    fn bad_parameters_name_the_problem() {
        let cases = [
            (INTERVAL, json!({"unit": "fortnights", "delta": 1}), "unit"),
            (INTERVAL, json!({"unit": "seconds", "delta": 0}), "delta"),
            (DATE, json!({"date": "tomorrow"}), "date"),
            (CRON, json!({"hour": 25}), "pattern"),
            (INTERVAL, json!({"unit": "seconds", "delta": 1, "timezone": "Mars/Base"}), "timezone"),
        ];
        for (type_ref, parameters, word) in cases {
            let error = schedule(&trigger(type_ref, parameters.clone()), Tz::UTC).expect_err("invalid").to_string();
            assert!(error.contains(word), "{parameters}: {error}");
        }
    }
}
