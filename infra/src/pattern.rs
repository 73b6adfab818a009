//! EventBridge event patterns, which Lambda event filtering uses too: what a rule of the local
//! bus and a filter of a local stream mapping match. A pattern is an object; each field is a
//! nested pattern or a list of matchers, any of which may match (a list in the event matches
//! when any element does). Matchers: literals, `prefix`, `suffix`, `equals-ignore-case`,
//! `anything-but` (a value, a list or a `prefix`), `exists`, `numeric`. Anything else is refused
//! when the template is read, so a pattern is never silently treated as matching.

use serde_json::Value;

/// Whether `event` matches `pattern`.
pub fn matches(pattern: &Value, event: &Value) -> bool {
    let Some(fields) = pattern.as_object() else { return false };
    fields.iter().all(|(key, expected)| {
        let actual = event.get(key);
        match expected {
            Value::Object(_) => actual.is_some_and(|a| matches(expected, a)),
            Value::Array(matchers) => matchers.iter().any(|m| field_matches(m, actual)),
            _ => false,
        }
    })
}

fn field_matches(matcher: &Value, actual: Option<&Value>) -> bool {
    if let Some(exists) = matcher.as_object().and_then(|rule| rule.get("exists")).and_then(Value::as_bool) {
        return exists == actual.is_some();
    }
    match actual {
        None => false,
        Some(Value::Array(items)) => items.iter().any(|item| value_matches(matcher, item)),
        Some(value) => value_matches(matcher, value),
    }
}

fn value_matches(matcher: &Value, value: &Value) -> bool {
    let Some(rule) = matcher.as_object() else { return matcher == value };
    let Some((name, arg)) = rule.iter().next() else { return false };
    let text = value.as_str();
    match name.as_str() {
        "prefix" => text.zip(arg.as_str()).is_some_and(|(t, p)| t.starts_with(p)),
        "suffix" => text.zip(arg.as_str()).is_some_and(|(t, s)| t.ends_with(s)),
        "equals-ignore-case" => text.zip(arg.as_str()).is_some_and(|(t, s)| t.eq_ignore_ascii_case(s)),
        "anything-but" => match arg {
            Value::Array(values) => !values.contains(value),
            Value::Object(inner) => !value_matches(&Value::Object(inner.clone()), value),
            other => other != value,
        },
        "numeric" => numeric(arg, value),
        _ => false,
    }
}

fn numeric(conditions: &Value, value: &Value) -> bool {
    let (Some(conditions), Some(v)) = (conditions.as_array(), value.as_f64()) else { return false };
    conditions.chunks(2).all(|pair| match (pair[0].as_str(), pair.get(1).and_then(Value::as_f64)) {
        (Some("="), Some(x)) => v == x,
        (Some(">"), Some(x)) => v > x,
        (Some(">="), Some(x)) => v >= x,
        (Some("<"), Some(x)) => v < x,
        (Some("<="), Some(x)) => v <= x,
        _ => false,
    })
}

/// Refuses what `matches` does not understand, with where it is.
pub fn validate(pattern: &Value) -> Result<(), String> {
    let fields = pattern.as_object().ok_or("an event pattern must be a JSON object")?;
    for (key, value) in fields {
        match value {
            Value::Object(_) => validate(value).map_err(|e| format!("{key}.{e}"))?,
            Value::Array(matchers) => {
                for m in matchers {
                    if let Some(rule) = m.as_object() {
                        let known = ["prefix", "suffix", "equals-ignore-case", "anything-but", "exists", "numeric"];
                        match rule.keys().next().map(String::as_str) {
                            Some(name) if rule.len() == 1 && known.contains(&name) => {}
                            _ => return Err(format!("{key}: matcher {m} is not emulated")),
                        }
                    }
                }
            }
            _ => return Err(format!("{key}: a pattern field must be an object or a list")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn literals_prefixes_and_nesting() {
        let pattern = json!({"source": ["chat"], "detail-type": ["message.created", "message.updated"]});
        assert!(matches(&pattern, &json!({"source": "chat", "detail-type": "message.created"})));
        assert!(!matches(&pattern, &json!({"source": "chat", "detail-type": "member.left"})));
        assert!(!matches(&pattern, &json!({"detail-type": "message.created"})));
        let keys = json!({"dynamodb": {"Keys": {"sk": {"S": [{"prefix": "MSG#"}, "META"]}}}, "eventName": ["INSERT"]});
        let record = |sk: &str, name: &str| json!({"eventName": name, "dynamodb": {"Keys": {"sk": {"S": sk}}}});
        assert!(matches(&keys, &record("MSG#1", "INSERT")));
        assert!(matches(&keys, &record("META", "INSERT")));
        assert!(!matches(&keys, &record("MEMBER#1", "INSERT")));
        assert!(!matches(&keys, &record("MSG#1", "MODIFY")));
    }

    #[test]
    fn exists_anything_but_numeric_and_lists() {
        assert!(matches(&json!({"a": [{"exists": false}]}), &json!({})));
        assert!(!matches(&json!({"a": [{"exists": true}]}), &json!({})));
        assert!(matches(&json!({"a": [{"anything-but": ["x"]}]}), &json!({"a": "y"})));
        assert!(!matches(&json!({"a": [{"anything-but": {"prefix": "x"}}]}), &json!({"a": "xy"})));
        assert!(matches(&json!({"n": [{"numeric": [">", 0, "<=", 5]}]}), &json!({"n": 5})));
        assert!(!matches(&json!({"n": [{"numeric": [">", 0, "<=", 5]}]}), &json!({"n": 6})));
        assert!(matches(&json!({"tags": ["b"]}), &json!({"tags": ["a", "b"]})));
        assert!(validate(&json!({"a": [{"wildcard": "x*"}]})).is_err());
        assert!(validate(&json!({"a": "x"})).is_err());
        assert!(validate(&json!({"a": [{"prefix": "x"}], "b": {"c": [1]}})).is_ok());
    }
}
