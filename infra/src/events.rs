//! What template.yaml says about events other than API Gateway: EventBridge schedule rules
//! (functions' `Schedule` / `ScheduleV2` events), SQS queues (with their redrive policy), and SQS
//! event-source mappings (functions' `SQS` events). The schedule runner (`schedules.rs`), the
//! queue bootstrap and the SQS poller (`sqs_mapping.rs`) use nothing else.
//!
//! Values may be literals, `!Ref` of a parameter (its default, or an override), `!If` on a
//! condition made of `!Equals` / `!Not` / `!And` / `!Or` / `Condition`, and `!GetAtt Queue.Arn`.
//! Anything else is refused with the resource it came from, never guessed.

use std::collections::BTreeMap;

use chat_functions::registry::Function;
use chrono::{DateTime, Datelike, Duration, DurationRound, Timelike, Utc};
use serde_yaml_ng::Value;

use crate::template::{Error, known_function};

#[derive(Debug, Clone, Default)]
pub struct EventDefinitions {
    pub schedules: Vec<ScheduleRule>,
    /// Logical id → queue.
    pub queues: BTreeMap<String, QueueDefinition>,
    pub queue_mappings: Vec<QueueMapping>,
    /// Environment variable → the queue whose URL (`!Ref`) a function gets in it.
    pub queue_env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRule {
    /// The event's logical id under the function's `Events` (what `/_local/schedules/{name}/run`
    /// takes).
    pub name: String,
    /// The logical id of the `AWS::Events::Rule` SAM generates: `{function}{event}`.
    pub rule_id: String,
    pub function: Function,
    pub expression: ScheduleExpression,
    /// `State: DISABLED` / `Enabled: false`: not fired on the clock (still by hand).
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleExpression {
    Rate(Duration),
    Cron(Cron),
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueDefinition {
    pub logical_id: String,
    pub visibility_timeout: Option<i64>,
    pub message_retention_period: Option<i64>,
    pub delay_seconds: Option<i64>,
    pub redrive: Option<Redrive>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Redrive {
    /// Logical id of the dead-letter queue.
    pub dead_letter_queue: String,
    pub max_receive_count: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueMapping {
    /// The event's logical id under the function's `Events`.
    pub name: String,
    pub function: Function,
    /// Logical id of the queue.
    pub queue: String,
    pub batch_size: usize,
    pub report_batch_item_failures: bool,
}

/// Parameters (defaults and overrides) and conditions, for resolving values.
struct Scope<'a> {
    parameters: BTreeMap<String, String>,
    conditions: Option<&'a serde_yaml_ng::Mapping>,
}

/// `(name, argument)` of an intrinsic in either form: `!Ref X` or `{"Ref": X}`, `!If [...]` or
/// `{"Fn::If": [...]}`.
fn intrinsic(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => Some((t.tag.to_string().trim_start_matches('!').to_string(), &t.value)),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next()?;
            let k = k.as_str()?;
            if k == "Ref" || k == "Condition" {
                Some((k.to_string(), v))
            } else {
                k.strip_prefix("Fn::").map(|name| (name.to_string(), v))
            }
        }
        _ => None,
    }
}

impl Scope<'_> {
    /// A scalar value as a string.
    fn scalar(&self, v: &Value, what: &str) -> Result<String, Error> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => match intrinsic(other) {
                Some((name, arg)) if name == "Ref" => {
                    let param = arg.as_str().ok_or_else(|| format!("{what}: !Ref of a non-string"))?;
                    self.parameters
                        .get(param)
                        .cloned()
                        .ok_or_else(|| format!("{what}: !Ref {param} is not a parameter"))
                }
                Some((name, arg)) if name == "If" => {
                    let args =
                        arg.as_sequence().filter(|a| a.len() == 3).ok_or(format!("{what}: !If takes 3 items"))?;
                    let cond = args[0].as_str().ok_or(format!("{what}: !If condition must be a name"))?;
                    let chosen = if self.condition(cond)? { &args[1] } else { &args[2] };
                    self.scalar(chosen, what)
                }
                Some((name, _)) => Err(format!("{what}: !{name} is not emulated here")),
                None => Err(format!("{what}: expected a scalar")),
            },
        }
    }

    fn condition(&self, name: &str) -> Result<bool, Error> {
        let body =
            self.conditions.and_then(|c| c.get(name)).ok_or_else(|| format!("condition {name} is not defined"))?;
        self.truth(body, name)
    }

    fn truth(&self, v: &Value, what: &str) -> Result<bool, Error> {
        let Some((name, arg)) = intrinsic(v) else {
            return Err(format!("condition {what}: not a condition function"));
        };
        let list = || arg.as_sequence().ok_or_else(|| format!("condition {what}: !{name} takes a list"));
        match name.as_str() {
            "Equals" => {
                let items = list()?;
                if items.len() != 2 {
                    return Err(format!("condition {what}: !Equals takes 2 items"));
                }
                Ok(self.scalar(&items[0], what)? == self.scalar(&items[1], what)?)
            }
            "Not" => Ok(!self.truth(list()?.first().ok_or("!Not takes 1 item")?, what)?),
            "And" => list()?.iter().try_fold(true, |acc, c| Ok(acc && self.truth(c, what)?)),
            "Or" => list()?.iter().try_fold(false, |acc, c| Ok(acc || self.truth(c, what)?)),
            "Condition" => self.condition(arg.as_str().ok_or("Condition takes a name")?),
            other => Err(format!("condition {what}: !{other} is not emulated")),
        }
    }

    fn number(&self, v: Option<&Value>, what: &str) -> Result<Option<i64>, Error> {
        v.map(|v| self.scalar(v, what)?.parse::<i64>().map_err(|_| format!("{what} is not a whole number"))).transpose()
    }
}

/// The logical id of `!GetAtt X.Arn` / `{"Fn::GetAtt": [X, Arn]}`.
fn arn_of(v: &Value) -> Option<String> {
    let (name, arg) = intrinsic(v)?;
    if name != "GetAtt" {
        return None;
    }
    match arg {
        Value::String(s) => s.strip_suffix(".Arn").map(str::to_string),
        Value::Sequence(items) if items.len() == 2 && items[1].as_str() == Some("Arn") => {
            items[0].as_str().map(str::to_string)
        }
        _ => None,
    }
}

impl EventDefinitions {
    pub fn parse(
        doc: &Value,
        functions: &BTreeMap<String, String>,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Self, Error> {
        let mut parameters = BTreeMap::new();
        for (name, p) in doc.get("Parameters").and_then(Value::as_mapping).into_iter().flatten() {
            let name = name.as_str().unwrap_or_default().to_string();
            let default = p.get("Default").map(|d| match d {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => String::new(),
            });
            if let Some(value) = overrides.get(&name).cloned().or(default) {
                parameters.insert(name, value);
            }
        }
        for name in overrides.keys() {
            if !parameters.contains_key(name) {
                return Err(format!("parameter override {name}: template.yaml has no such parameter"));
            }
        }
        let scope = Scope { parameters, conditions: doc.get("Conditions").and_then(Value::as_mapping) };
        let resources = doc.get("Resources").and_then(Value::as_mapping).ok_or("template.yaml has no Resources")?;

        let mut out = EventDefinitions::default();
        for (id, r) in resources {
            let id = id.as_str().unwrap_or_default();
            if r.get("Type").and_then(Value::as_str) != Some("AWS::SQS::Queue") {
                continue;
            }
            let props = r.get("Properties");
            let prop = |k: &str| props.and_then(|p| p.get(k));
            if prop("FifoQueue").is_some() {
                return Err(format!("{id}: FIFO queues are not emulated"));
            }
            let redrive = match prop("RedrivePolicy") {
                None => None,
                Some(policy) => Some(Redrive {
                    dead_letter_queue: policy
                        .get("deadLetterTargetArn")
                        .and_then(arn_of)
                        .ok_or_else(|| format!("{id}: deadLetterTargetArn must be !GetAtt <Queue>.Arn"))?,
                    max_receive_count: scope
                        .number(policy.get("maxReceiveCount"), &format!("{id}.maxReceiveCount"))?
                        .ok_or_else(|| format!("{id}: RedrivePolicy without maxReceiveCount"))?,
                }),
            };
            out.queues.insert(
                id.to_string(),
                QueueDefinition {
                    logical_id: id.to_string(),
                    visibility_timeout: scope.number(prop("VisibilityTimeout"), &format!("{id}.VisibilityTimeout"))?,
                    message_retention_period: scope
                        .number(prop("MessageRetentionPeriod"), &format!("{id}.MessageRetentionPeriod"))?,
                    delay_seconds: scope.number(prop("DelaySeconds"), &format!("{id}.DelaySeconds"))?,
                    redrive,
                },
            );
        }
        for queue in out.queues.values() {
            if let Some(r) = &queue.redrive
                && !out.queues.contains_key(&r.dead_letter_queue)
            {
                return Err(format!("{}: dead-letter queue {} is not a queue", queue.logical_id, r.dead_letter_queue));
            }
        }

        for (id, r) in resources {
            let id = id.as_str().unwrap_or_default();
            if r.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
                continue;
            }
            let Some(binary) = functions.get(id) else { continue };
            let props = r.get("Properties");
            let variables = props.and_then(|p| p.get("Environment")).and_then(|e| e.get("Variables"));
            for (name, value) in variables.and_then(Value::as_mapping).into_iter().flatten() {
                if let Some(("Ref", target)) = intrinsic(value).as_ref().map(|(n, a)| (n.as_str(), a.as_str()))
                    && let Some(queue) = target.filter(|t| out.queues.contains_key(*t))
                {
                    out.queue_env.insert(name.as_str().unwrap_or_default().to_string(), queue.to_string());
                }
            }
            let events = props.and_then(|p| p.get("Events")).and_then(Value::as_mapping);
            for (event_id, event) in events.into_iter().flatten() {
                let event_id = event_id.as_str().unwrap_or_default();
                let what = format!("{id}.Events.{event_id}");
                let eprops = event.get("Properties");
                let eprop = |k: &str| eprops.and_then(|p| p.get(k));
                match event.get("Type").and_then(Value::as_str) {
                    Some("Schedule") | Some("ScheduleV2") => {
                        let expression = eprop("Schedule")
                            .or_else(|| eprop("ScheduleExpression"))
                            .ok_or_else(|| format!("{what}: no Schedule / ScheduleExpression"))?;
                        let expression = scope.scalar(expression, &what)?;
                        let enabled = match (eprop("State"), eprop("Enabled")) {
                            (Some(state), _) => scope.scalar(state, &what)? == "ENABLED",
                            (None, Some(enabled)) => scope.scalar(enabled, &what)? == "true",
                            (None, None) => true,
                        };
                        out.schedules.push(ScheduleRule {
                            name: event_id.to_string(),
                            rule_id: format!("{id}{event_id}"),
                            function: known_function(binary)?,
                            expression: ScheduleExpression::parse(&expression).map_err(|e| format!("{what}: {e}"))?,
                            enabled,
                        });
                    }
                    Some("SQS") => {
                        let queue = eprop("Queue")
                            .and_then(arn_of)
                            .filter(|q| out.queues.contains_key(q))
                            .ok_or_else(|| format!("{what}: Queue must be !GetAtt <a queue of this template>.Arn"))?;
                        let batch_size = scope.number(eprop("BatchSize"), &what)?.unwrap_or(10);
                        if !(1..=10_000).contains(&batch_size) {
                            return Err(format!("{what}: BatchSize must be 1-10000"));
                        }
                        let mut report_batch_item_failures = false;
                        for t in eprop("FunctionResponseTypes").and_then(Value::as_sequence).into_iter().flatten() {
                            match t.as_str() {
                                Some("ReportBatchItemFailures") => report_batch_item_failures = true,
                                other => return Err(format!("{what}: unknown FunctionResponseTypes {other:?}")),
                            }
                        }
                        out.queue_mappings.push(QueueMapping {
                            name: event_id.to_string(),
                            function: known_function(binary)?,
                            queue,
                            batch_size: batch_size as usize,
                            report_batch_item_failures,
                        });
                    }
                    _ => {}
                }
            }
        }
        let mut names: Vec<&str> = out.schedules.iter().map(|s| s.name.as_str()).collect();
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("two schedule events are named {}: names must be unique locally", w[0]));
        }
        Ok(out)
    }

    pub fn schedule(&self, name: &str) -> Option<&ScheduleRule> {
        self.schedules.iter().find(|s| s.name == name || s.rule_id == name)
    }
}

// ------------------------------------------------------------------------- schedule expressions

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
