//! IAM policy statements, as far as the local gateway checks them: each function's grants of
//! `execute-api:ManageConnections` from its `Policies` in template.yaml (what `@connections`
//! allows its role), and the evaluation IAM applies to them and to an authorizer's answer: an
//! explicit `Deny` wins, else some `Allow` whose `Action` and `Resource` patterns match.
//! Statements the evaluation could get wrong (`NotAction`, `NotResource`, `Condition`) are
//! refused when the template is read, never treated as matching.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

use super::intrinsics::{Error, Scope, call, sub_string};

/// The action `@connections` requires, whatever the method.
pub const MANAGE_CONNECTIONS: &str = "execute-api:ManageConnections";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub allow: bool,
    /// Action patterns (`service:Name`, wildcards allowed).
    pub actions: Vec<String>,
    /// Resource ARN patterns, intrinsics resolved.
    pub resources: Vec<String>,
}

impl Statement {
    fn applies(&self, action: &str, resource: &str) -> bool {
        // Action names are case-insensitive in IAM; resource ARNs are not.
        let action = action.to_ascii_lowercase();
        self.actions.iter().any(|a| wildcard_match(&a.to_ascii_lowercase(), &action))
            && self.resources.iter().any(|r| wildcard_match(r, resource))
    }
}

/// Whether `statements` allow `action` on `resource`.
pub fn allows(statements: &[Statement], action: &str, resource: &str) -> bool {
    let applying = || statements.iter().filter(|s| s.applies(action, resource));
    !applying().any(|s| !s.allow) && applying().any(|s| s.allow)
}

/// IAM's wildcards: `*` any run of characters, `?` any one.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The ARN IAM checks for one `@connections` call.
pub fn connection_arn(api_id: &str, stage: &str, method: &str, connection_id: &str) -> String {
    use crate::account::{ACCOUNT_ID, REGION};
    format!("arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}/{stage}/{method}/@connections/{connection_id}")
}

/// Function logical id → its statements that may concern `execute-api:ManageConnections` (an
/// `Action` pattern matching it), resources resolved with `resources` standing for `${X}` /
/// `!Ref X` of a resource (the WebSocket API's local id). A function without any has none: every
/// `@connections` call signed with its identity is refused, as its role would be on AWS.
pub fn management_grants(
    doc: &Value,
    scope: &Scope,
    functions: &BTreeMap<String, String>,
    resources: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Vec<Statement>>, Error> {
    let mut grants = BTreeMap::new();
    for id in functions.keys() {
        let props = doc.get("Resources").and_then(|r| r.get(id)).and_then(|r| r.get("Properties"));
        if props.and_then(|p| p.get("Role")).is_some() {
            return Err(format!("{id}: a Role of its own is not emulated for @connections; give it Policies"));
        }
        // SAM takes one policy or a list of them.
        let policies = match props.and_then(|p| p.get("Policies")) {
            Some(Value::Sequence(items)) => items.clone(),
            Some(one) => vec![one.clone()],
            None => vec![],
        };
        let mut statements = Vec::new();
        for (n, policy) in policies.iter().enumerate() {
            let what = format!("{id}.Policies[{n}]");
            let Some(list) = policy.get("Statement") else {
                // A managed policy or a SAM policy template: refuse the ones that may grant
                // execute-api (AmazonAPIGatewayInvokeFullAccess, AdministratorAccess, …) rather
                // than ignore them.
                let name = policy.as_str().map(str::to_string).or_else(|| {
                    policy.as_mapping().and_then(|m| m.keys().next()).and_then(Value::as_str).map(str::to_string)
                });
                let name = name.unwrap_or_default().to_ascii_lowercase();
                if ["apigateway", "executeapi", "administrator", "poweruser"].iter().any(|k| name.contains(k))
                    || name.is_empty()
                {
                    return Err(format!("{what}: only inline Statement lists are emulated for execute-api"));
                }
                continue;
            };
            let list = match list {
                Value::Sequence(items) => items.clone(),
                single => vec![single.clone()],
            };
            for (k, statement) in list.iter().enumerate() {
                if let Some(s) = parse_statement(statement, scope, resources, &format!("{what}.Statement[{k}]"))? {
                    statements.push(s);
                }
            }
        }
        grants.insert(id.clone(), statements);
    }
    Ok(grants)
}

/// The statement if its actions may cover ManageConnections; None for the others.
fn parse_statement(
    statement: &Value,
    scope: &Scope,
    resources: &BTreeMap<String, String>,
    what: &str,
) -> Result<Option<Statement>, Error> {
    let strings = |key: &str| -> Vec<Value> {
        match statement.get(key) {
            Some(Value::Sequence(items)) => items.clone(),
            Some(one) => vec![one.clone()],
            None => vec![],
        }
    };
    let actions: Vec<String> = strings("Action").iter().filter_map(|a| a.as_str().map(str::to_string)).collect();
    let concerns =
        actions.iter().any(|a| wildcard_match(&a.to_ascii_lowercase(), &MANAGE_CONNECTIONS.to_ascii_lowercase()));
    let unemulated = ["NotAction", "NotResource", "Condition"].into_iter().find(|k| statement.get(*k).is_some());
    if let Some(key) = unemulated {
        // A NotAction may cover ManageConnections without naming it: refuse it in any statement.
        if concerns || key == "NotAction" {
            return Err(format!("{what}: {key} is not emulated for execute-api"));
        }
    }
    if !concerns {
        return Ok(None);
    }
    let allow = match statement.get("Effect").and_then(Value::as_str) {
        Some("Allow") => true,
        Some("Deny") => false,
        _ => return Err(format!("{what}: Effect must be Allow or Deny")),
    };
    let resources =
        strings("Resource").iter().map(|r| resolve(r, scope, resources, what)).collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Statement { allow, actions, resources }))
}

/// A `Resource` entry: a literal, `!Sub "…"` (parameters, pseudo parameters and the resources
/// given) or `!Ref` of one of those.
fn resolve(value: &Value, scope: &Scope, resources: &BTreeMap<String, String>, what: &str) -> Result<String, Error> {
    if let Some((name, arg)) = call(value)
        && name == "Ref"
    {
        let id = arg.as_str().unwrap_or_default();
        return match resources.get(id) {
            Some(local) => Ok(local.clone()),
            None => scope.scalar(value, what),
        };
    }
    let text = sub_string(value).ok_or_else(|| format!("{what}: a Resource must be a string or a !Sub string"))?;
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').ok_or_else(|| format!("{what}: unclosed ${{ in {text}"))? + start;
        out.push_str(&rest[..start]);
        let name = &rest[start + 2..end];
        let local = match name {
            "AWS::Partition" => "aws".to_string(),
            "AWS::Region" => crate::account::REGION.to_string(),
            "AWS::AccountId" => crate::account::ACCOUNT_ID.to_string(),
            _ => match resources.get(name) {
                Some(local) => local.clone(),
                None => scope.parameter(name).ok_or_else(|| format!("{what}: ${{{name}}} is not emulated here"))?,
            },
        };
        out.push_str(&local);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:local/prod/POST/@connections/abc=";

    fn statement(allow: bool, action: &str, resource: &str) -> Statement {
        Statement { allow, actions: vec![action.into()], resources: vec![resource.into()] }
    }

    #[test]
    fn an_allow_must_match_and_a_deny_wins() {
        let post = "arn:aws:execute-api:us-east-1:123456789012:local/prod/POST/@connections/*";
        assert!(allows(&[statement(true, MANAGE_CONNECTIONS, post)], MANAGE_CONNECTIONS, ARN));
        assert!(allows(&[statement(true, "execute-api:*", "*")], MANAGE_CONNECTIONS, ARN));
        assert!(allows(&[statement(true, "EXECUTE-API:manageconnections", post)], MANAGE_CONNECTIONS, ARN));
        let get = ARN.replace("/POST/", "/GET/");
        assert!(!allows(&[statement(true, MANAGE_CONNECTIONS, post)], MANAGE_CONNECTIONS, &get));
        assert!(!allows(
            &[statement(true, MANAGE_CONNECTIONS, post)],
            MANAGE_CONNECTIONS,
            &ARN.replace("/prod/", "/beta/")
        ));
        assert!(!allows(&[], MANAGE_CONNECTIONS, ARN));
        let both = [statement(true, "execute-api:*", "*"), statement(false, MANAGE_CONNECTIONS, post)];
        assert!(!allows(&both, MANAGE_CONNECTIONS, ARN));
        assert!(allows(&both, MANAGE_CONNECTIONS, &get));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("a*c", "abbbc"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "abbc"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("abc", "abcd"));
    }

    fn grants(policies: &str) -> Result<Vec<Statement>, Error> {
        let text = format!(
            "Parameters:\n  StageName: {{Default: prod}}\nResources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Policies:\n{policies}"
        );
        let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
        let scope = Scope::new(&doc, &BTreeMap::new()).unwrap();
        let functions = BTreeMap::from([("F".to_string(), "f".to_string())]);
        let resources = BTreeMap::from([("Api".to_string(), "local".to_string())]);
        management_grants(&doc, &scope, &functions, &resources).map(|mut g| g.remove("F").unwrap())
    }

    #[test]
    fn grants_are_read_with_their_intrinsics_resolved() {
        let read = grants(
            "        - AWSLambdaBasicExecutionRole\n        - Statement:\n            - Effect: Allow\n              Action: [dynamodb:Query]\n              Resource: !GetAtt T.Arn\n            - Effect: Allow\n              Action: [execute-api:ManageConnections]\n              Resource:\n                - !Sub \"arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/${StageName}/POST/@connections/*\"\n",
        )
        .unwrap();
        assert_eq!(
            read,
            vec![statement(
                true,
                MANAGE_CONNECTIONS,
                "arn:aws:execute-api:us-east-1:123456789012:local/prod/POST/@connections/*"
            )]
        );
        assert!(allows(&read, MANAGE_CONNECTIONS, ARN));
        let condition = "        - Statement:\n            - Effect: Allow\n              Action: execute-api:*\n              Resource: \"*\"\n              Condition: {Bool: {aws:SecureTransport: true}}\n";
        assert!(grants(condition).unwrap_err().contains("Condition"));
        assert!(grants("        - AmazonAPIGatewayInvokeFullAccess\n").unwrap_err().contains("inline"));
        assert_eq!(
            grants("        - AWSLambdaBasicExecutionRole\n        - DynamoDBCrudPolicy: {TableName: t}\n").unwrap(),
            vec![]
        );
        let unknown = "        - Statement:\n            - Effect: Allow\n              Action: execute-api:*\n              Resource: !Sub \"${Other}/*\"\n";
        assert!(grants(unknown).unwrap_err().contains("Other"));
    }
}
