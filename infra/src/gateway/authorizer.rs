//! The `$connect` Lambda REQUEST authorizer as API Gateway runs it: identity sources checked
//! before the call (a missing one is 401 without invoking anything), and the answer checked after
//! it: `principalId` required, the policy must allow `execute-api:Invoke` on the method ARN, and
//! context values must be scalars (else 500, API Gateway's `AuthorizerConfigurationException`).

use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::template::IdentitySource;
use crate::template::policies::{Statement, allows};

/// True when every identity source is present and non-empty in the request.
pub(crate) fn identity_present(
    sources: &[IdentitySource],
    query: &Map<String, Value>,
    headers: &axum::http::HeaderMap,
) -> bool {
    sources.iter().all(|source| match source {
        IdentitySource::Query(name) => query.get(name).and_then(Value::as_str).is_some_and(|v| !v.is_empty()),
        IdentitySource::Header(name) => {
            headers.get(name.as_str()).and_then(|v| v.to_str().ok()).is_some_and(|v| !v.trim().is_empty())
        }
    })
}

/// What the authorizer's answer grants: the `requestContext.authorizer` of every later event.
pub(crate) fn check_answer(answer: &Value, method_arn: &str) -> Result<Map<String, Value>, StatusCode> {
    let Some(principal) = answer.get("principalId").and_then(Value::as_str).filter(|p| !p.is_empty()) else {
        tracing::error!(%answer, "authorizer answer without principalId");
        return Err(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let statements = match &answer["policyDocument"]["Statement"] {
        Value::Array(statements) => statements.clone(),
        statement @ Value::Object(_) => vec![statement.clone()],
        _ => {
            tracing::error!(%answer, "authorizer answer without a policy statement");
            return Err(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    // An explicit Deny wins; otherwise some Allow must cover the method ARN (IAM's evaluation).
    let statements: Vec<Statement> = statements
        .iter()
        .filter_map(|s| {
            let allow = match s["Effect"].as_str()? {
                "Allow" => true,
                "Deny" => false,
                _ => return None,
            };
            Some(Statement { allow, actions: strings(&s["Action"]), resources: strings(&s["Resource"]) })
        })
        .collect();
    if !allows(&statements, "execute-api:Invoke", method_arn) {
        return Err(StatusCode::FORBIDDEN);
    }
    let mut context = Map::new();
    match &answer["context"] {
        Value::Null => {}
        Value::Object(values) => {
            for (key, value) in values {
                if value.is_object() || value.is_array() {
                    tracing::error!(%key, "authorizer context values must be strings, numbers or booleans");
                    return Err(StatusCode::INTERNAL_SERVER_ERROR);
                }
                if !value.is_null() {
                    context.insert(key.clone(), value.clone());
                }
            }
        }
        _ => return Err(StatusCode::INTERNAL_SERVER_ERROR),
    }
    context.insert("principalId".into(), Value::String(principal.to_string()));
    Ok(context)
}

/// A policy's `Action` or `Resource`: one string or a list of them.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:local/local/$connect";

    fn answer(resource: Value, effect: &str, context: Value) -> Value {
        json!({"principalId": "u1", "context": context, "policyDocument": {"Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]}})
    }

    #[test]
    fn the_policy_must_allow_the_method_arn() {
        assert!(check_answer(&answer(json!([ARN]), "Allow", json!({"userId": "u1"})), ARN).is_ok());
        let wildcard = "arn:aws:execute-api:us-east-1:123456789012:local/*";
        assert_eq!(check_answer(&answer(json!(wildcard), "Allow", Value::Null), ARN).unwrap()["principalId"], "u1");
        let other = "arn:aws:execute-api:us-east-1:123456789012:other/local/$connect";
        assert_eq!(check_answer(&answer(json!([other]), "Allow", Value::Null), ARN), Err(StatusCode::FORBIDDEN));
        assert_eq!(check_answer(&answer(json!([ARN]), "Deny", Value::Null), ARN), Err(StatusCode::FORBIDDEN));
    }

    #[test]
    fn principal_and_scalar_context_are_required() {
        let mut no_principal = answer(json!([ARN]), "Allow", Value::Null);
        no_principal.as_object_mut().unwrap().remove("principalId");
        assert_eq!(check_answer(&no_principal, ARN), Err(StatusCode::INTERNAL_SERVER_ERROR));
        let nested = answer(json!([ARN]), "Allow", json!({"user": {"id": "u1"}}));
        assert_eq!(check_answer(&nested, ARN), Err(StatusCode::INTERNAL_SERVER_ERROR));
        let scalars = answer(json!([ARN]), "Allow", json!({"n": 1, "b": true, "s": "x"}));
        assert_eq!(check_answer(&scalars, ARN).unwrap().len(), 4);
    }
}
