//! Route selection as API Gateway does it: the route selection expression is a JSON path into
//! the message body (`$request.body.action`, `$request.body.meta.kind`, `${request.body.a[0]}`);
//! the value it selects, stringified, is the route key; a message that is not JSON, or whose
//! value names no route, goes to `$default`.

use serde_json::Value;

use super::state::GatewayState;

/// One step of a body path: an object field or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Field(String),
    Index(usize),
}

/// The path of `$request.body.<path>` (or `${request.body.<path>}`), or an error naming what is
/// not emulated.
pub(crate) fn parse_selection_expression(expression: &str) -> Result<Vec<Step>, String> {
    let path = expression
        .strip_prefix("$request.body.")
        .or_else(|| expression.strip_prefix("${request.body.").and_then(|p| p.strip_suffix('}')))
        .ok_or_else(|| format!("route selection {expression:?}: only $request.body.<path> is emulated"))?;
    let mut steps = Vec::new();
    for segment in path.split('.') {
        let (name, mut rest) = segment.split_once('[').map_or((segment, ""), |(n, r)| (n, r));
        if name.is_empty() && steps.is_empty() && rest.is_empty() {
            return Err(format!("route selection {expression:?}: empty path segment"));
        }
        if !name.is_empty() {
            steps.push(Step::Field(name.to_string()));
        }
        while !rest.is_empty() {
            let (index, after) =
                rest.split_once(']').ok_or_else(|| format!("route selection {expression:?}: unclosed ["))?;
            let index = index.parse().map_err(|_| format!("route selection {expression:?}: bad index {index:?}"))?;
            steps.push(Step::Index(index));
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    Ok(steps)
}

/// The value at `path` in `body`, stringified as API Gateway does (strings as they are, other
/// scalars as JSON).
pub(crate) fn select_value(body: &str, path: &[Step]) -> Option<String> {
    let root = serde_json::from_str::<Value>(body).ok()?;
    let mut value = &root;
    for step in path {
        value = match step {
            Step::Field(name) => value.as_object()?.get(name)?,
            Step::Index(index) => value.as_array()?.get(*index)?,
        };
    }
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(value.to_string()),
        _ => None,
    }
}

/// The route key for `body`: the selected value if a route has that key, else `$default`.
pub(crate) fn select_route(state: &GatewayState, body: &str) -> String {
    match select_value(body, &state.route_path) {
        Some(key) if !key.starts_with('$') && state.template.ws_routes.contains_key(&key) => key,
        _ => "$default".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_the_expression() {
        assert_eq!(parse_selection_expression("$request.body.action").unwrap(), vec![Step::Field("action".into())]);
        assert_eq!(
            parse_selection_expression("${request.body.meta.list[1]}").unwrap(),
            vec![Step::Field("meta".into()), Step::Field("list".into()), Step::Index(1)]
        );
        assert!(parse_selection_expression("$request.header.x").is_err());
    }

    #[test]
    fn values_are_stringified() {
        let path = parse_selection_expression("$request.body.meta.kind").unwrap();
        assert_eq!(select_value(r#"{"meta":{"kind":"send"}}"#, &path).as_deref(), Some("send"));
        assert_eq!(select_value(r#"{"meta":{"kind":7}}"#, &path).as_deref(), Some("7"));
        assert_eq!(select_value(r#"{"meta":{"kind":true}}"#, &path).as_deref(), Some("true"));
        assert_eq!(select_value(r#"{"meta":{"kind":{}}}"#, &path), None);
        assert_eq!(select_value(r#"{"meta":[]}"#, &path), None);
        assert_eq!(select_value("not json", &path), None);
        let indexed = parse_selection_expression("$request.body.a[1]").unwrap();
        assert_eq!(select_value(r#"{"a":["x","y"]}"#, &indexed).as_deref(), Some("y"));
    }
}
