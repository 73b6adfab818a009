//! EventBridge schedule expressions: `rate(...)` and AWS's six-field `cron(...)`, and when a rule
//! with one fires next.

use chrono::{DateTime, Datelike, Duration, DurationRound, Timelike, Utc};

use super::intrinsics::Error;

#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleExpression {
    Rate(Duration),
    Cron(Cron),
}

impl ScheduleExpression {
    /// `rate(N unit)` or AWS's six-field `cron(min hour day-of-month month day-of-week year)`.
    pub fn parse(expression: &str) -> Result<Self, Error> {
        let expression = expression.trim();
        if let Some(body) = expression.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
            let (value, unit) = body.trim().split_once(' ').ok_or("rate needs a value and a unit")?;
            let value: i64 = value.parse().map_err(|_| format!("rate value {value:?} is not a whole number"))?;
            if value < 1 {
                return Err("rate value must be positive".into());
            }
            let unit_secs = match (unit.trim(), value) {
                ("minute", 1) | ("minutes", 2..) => 60,
                ("hour", 1) | ("hours", 2..) => 3600,
                ("day", 1) | ("days", 2..) => 86_400,
                (u, _) => return Err(format!("rate unit {u:?} does not fit the value {value} (minute/minutes, …)")),
            };
            return Ok(ScheduleExpression::Rate(Duration::seconds(value * unit_secs)));
        }
        if let Some(body) = expression.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) {
            return Ok(ScheduleExpression::Cron(Cron::parse(body)?));
        }
        Err(format!("{expression:?} is neither rate(...) nor cron(...)"))
    }

    /// The first time strictly after `after` at which the rule fires. A rate rule fires every
    /// period counted from `start` (when the rule was created), as EventBridge does.
    pub fn next_after(&self, start: DateTime<Utc>, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            ScheduleExpression::Rate(period) => {
                let elapsed = (after - start).num_milliseconds().max(0);
                let period_ms = period.num_milliseconds();
                Some(start + Duration::milliseconds((elapsed / period_ms + 1) * period_ms))
            }
            ScheduleExpression::Cron(cron) => cron.next_after(after),
        }
    }
}

/// AWS cron: minutes, hours, day-of-month, month, day-of-week (1 = Sunday), year. Each field takes
/// `*`, numbers, ranges `a-b`, lists `a,b` and steps `*/n`, `a/n`, `a-b/n`; exactly one of the
/// day fields is `?`. Names (`JAN`, `MON`) and `L`, `W`, `#` are refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days_of_month: Option<Vec<bool>>,
    months: Vec<bool>,
    days_of_week: Option<Vec<bool>>,
    years: Vec<bool>,
}

const FIRST_YEAR: u32 = 1970;
const LAST_YEAR: u32 = 2199;

fn cron_field(field: &str, lo: u32, hi: u32, what: &str) -> Result<Vec<bool>, Error> {
    if field.chars().any(|c| c.is_ascii_alphabetic()) {
        return Err(format!("cron {what} {field:?}: names and L/W/# are not emulated; use numbers"));
    }
    let mut set = vec![false; (hi + 1) as usize];
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().map_err(|_| format!("cron {what}: bad step in {part:?}"))?),
            None => (part, 1),
        };
        if step == 0 {
            return Err(format!("cron {what}: step 0 in {part:?}"));
        }
        let num = |s: &str| -> Result<u32, Error> {
            let v: u32 = s.parse().map_err(|_| format!("cron {what}: {s:?} is not a number"))?;
            if !(lo..=hi).contains(&v) {
                return Err(format!("cron {what}: {v} is outside {lo}-{hi}"));
            }
            Ok(v)
        };
        let (start, end) = match range {
            "*" => (lo, hi),
            r => match r.split_once('-') {
                Some((a, b)) => (num(a)?, num(b)?),
                // `a/n` runs from a to the end of the range
                None if part.contains('/') => (num(r)?, hi),
                None => {
                    let v = num(r)?;
                    (v, v)
                }
            },
        };
        if start > end {
            return Err(format!("cron {what}: range {range:?} runs backwards"));
        }
        for v in (start..=end).step_by(step as usize) {
            set[v as usize] = true;
        }
    }
    Ok(set)
}

impl Cron {
    pub fn parse(body: &str) -> Result<Self, Error> {
        let fields: Vec<&str> = body.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(format!(
                "cron needs 6 fields (minutes hours day-of-month month day-of-week year), got {}",
                fields.len()
            ));
        }
        let day = |f: &str, lo, hi, what| if f == "?" { Ok(None) } else { cron_field(f, lo, hi, what).map(Some) };
        let cron = Cron {
            minutes: cron_field(fields[0], 0, 59, "minutes")?,
            hours: cron_field(fields[1], 0, 23, "hours")?,
            days_of_month: day(fields[2], 1, 31, "day-of-month")?,
            months: cron_field(fields[3], 1, 12, "month")?,
            days_of_week: day(fields[4], 1, 7, "day-of-week")?,
            years: cron_field(fields[5], FIRST_YEAR, LAST_YEAR, "year")?,
        };
        if cron.days_of_month.is_some() == cron.days_of_week.is_some() {
            return Err("cron: exactly one of day-of-month and day-of-week must be ?".into());
        }
        Ok(cron)
    }

    fn matches(&self, t: DateTime<Utc>) -> bool {
        let dow = t.weekday().num_days_from_sunday() + 1;
        self.minutes[t.minute() as usize]
            && self.hours[t.hour() as usize]
            && self.months[t.month() as usize]
            && (t.year() as u32) <= LAST_YEAR
            && self.years[(t.year() as usize).min(LAST_YEAR as usize)]
            && self.days_of_month.as_ref().is_none_or(|d| d[t.day() as usize])
            && self.days_of_week.as_ref().is_none_or(|d| d[dow as usize])
    }

    /// The first matching minute strictly after `after` (within about four years).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut t = after.duration_trunc(Duration::minutes(1)).ok()? + Duration::minutes(1);
        let limit = after + Duration::days(4 * 366 + 1);
        while t <= limit {
            if !self.months[t.month() as usize]
                || self.days_of_month.as_ref().is_some_and(|d| !d[t.day() as usize])
                || self.days_of_week.as_ref().is_some_and(|d| !d[(t.weekday().num_days_from_sunday() + 1) as usize])
            {
                // skip the rest of the day
                t = t.duration_trunc(Duration::days(1)).ok()? + Duration::days(1);
                continue;
            }
            if self.matches(t) {
                return Some(t);
            }
            t += Duration::minutes(1);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn rates() {
        assert_eq!(
            ScheduleExpression::parse("rate(1 minute)").unwrap(),
            ScheduleExpression::Rate(Duration::minutes(1))
        );
        assert_eq!(
            ScheduleExpression::parse("rate(5 minutes)").unwrap(),
            ScheduleExpression::Rate(Duration::minutes(5))
        );
        assert!(ScheduleExpression::parse("rate(1 minutes)").is_err());
        assert!(ScheduleExpression::parse("rate(0 minutes)").is_err());
        assert!(ScheduleExpression::parse("rate(2 weeks)").is_err());
        let rate = ScheduleExpression::parse("rate(1 minute)").unwrap();
        let start = at("2030-01-01T00:00:10Z");
        assert_eq!(rate.next_after(start, start), Some(at("2030-01-01T00:01:10Z")));
        assert_eq!(rate.next_after(start, at("2030-01-01T00:01:10Z")), Some(at("2030-01-01T00:02:10Z")));
    }

    #[test]
    fn crons() {
        let daily = ScheduleExpression::parse("cron(0 2 * * ? *)").unwrap();
        let start = at("2030-01-01T00:00:00Z");
        assert_eq!(daily.next_after(start, at("2030-01-01T01:59:59Z")), Some(at("2030-01-01T02:00:00Z")));
        assert_eq!(daily.next_after(start, at("2030-01-01T02:00:00Z")), Some(at("2030-01-02T02:00:00Z")));
        // every 15 minutes on weekdays (MON-FRI = 2-6); 2030-01-05 is a Saturday
        let weekdays = ScheduleExpression::parse("cron(0/15 9-17 ? * 2-6 *)").unwrap();
        assert_eq!(weekdays.next_after(start, at("2030-01-04T17:45:00Z")), Some(at("2030-01-07T09:00:00Z")));
        let list = ScheduleExpression::parse("cron(5,35 */6 1 1,7 ? 2030-2031)").unwrap();
        assert_eq!(list.next_after(start, at("2030-01-01T06:05:00Z")), Some(at("2030-01-01T06:35:00Z")));
        assert_eq!(list.next_after(start, at("2031-07-01T18:35:00Z")), None);
    }

    #[test]
    fn unsupported_crons_are_refused() {
        for bad in [
            "cron(0 2 * * *)",
            "cron(0 2 * * * *)",
            "cron(0 2 ? * ? *)",
            "cron(0 2 ? * MON *)",
            "cron(0 2 L * ? *)",
            "cron(0 2 ? * 6#3 *)",
            "cron(61 2 * * ? *)",
            "cron(0 2 * * ? 1969)",
            "every day",
        ] {
            assert!(ScheduleExpression::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
