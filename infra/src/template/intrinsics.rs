//! CloudFormation intrinsic functions, the one place that reads them. Both YAML forms are
//! accepted: the short tags (`!Ref X`, `!Sub "…"`, `!GetAtt X.Arn`, `!If [...]`) and the long
//! mappings (`Ref: X`, `Fn::Sub: "…"`, `Fn::GetAtt: [X, Arn]`, `Fn::If: [...]`).
//!
//! [`Scope`] evaluates what the local gateway needs as values: literals, `!Ref` of a parameter
//! (its default, or an override), and `!If` on a condition made of `!Equals` / `!Not` / `!And` /
//! `!Or` / `Condition`. Anything else is refused with the place it came from, never guessed.

use std::collections::BTreeMap;

use serde_yaml_ng::{Mapping, Value};

/// What is wrong with the template, and where: for a person to read.
pub type Error = String;

/// `(name, argument)` of an intrinsic in either form; `name` without `!` or `Fn::`.
pub fn call(v: &Value) -> Option<(String, &Value)> {
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

/// The argument of `name` when `v` is a call of it.
fn argument<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    call(v).filter(|(n, _)| n == name).map(|(_, arg)| arg)
}

/// The logical id of `!Ref X`.
pub fn reference(v: &Value) -> Option<&str> {
    argument(v, "Ref")?.as_str()
}

/// The string of `!Sub "…"` (or of a plain string, which needs no substitution).
pub fn sub_string(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        _ => argument(v, "Sub")?.as_str(),
    }
}

/// The logical id of `!GetAtt X.Arn` / `Fn::GetAtt: [X, Arn]`.
pub fn arn_of(v: &Value) -> Option<&str> {
    match argument(v, "GetAtt")? {
        Value::String(s) => s.strip_suffix(".Arn"),
        Value::Sequence(items) if items.len() == 2 && items[1].as_str() == Some("Arn") => items[0].as_str(),
        _ => None,
    }
}

/// The `${…}` references of a `!Sub` string, pseudo parameters (`AWS::…`) excluded.
pub fn sub_references(sub: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = sub;
    while let Some(start) = rest.find("${") {
        let Some(end) = rest[start..].find('}') else { break };
        let name = &rest[start + 2..start + end];
        if !name.starts_with("AWS::") && !name.starts_with('!') {
            out.push(name.to_string());
        }
        rest = &rest[start + end + 1..];
    }
    out
}

/// Parameters (defaults and overrides) and conditions, for resolving values.
pub struct Scope<'a> {
    parameters: BTreeMap<String, String>,
    conditions: Option<&'a Mapping>,
}

impl<'a> Scope<'a> {
    /// The template's parameters with their defaults, `overrides` taking precedence (as `sam deploy
    /// --parameter-overrides`); an override of a parameter the template lacks is an error.
    pub fn new(doc: &'a Value, overrides: &BTreeMap<String, String>) -> Result<Self, Error> {
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
        Ok(Scope { parameters, conditions: doc.get("Conditions").and_then(Value::as_mapping) })
    }

    /// A parameter's value (its override, else its default).
    pub fn parameter(&self, name: &str) -> Option<String> {
        self.parameters.get(name).cloned()
    }

    /// A scalar value as a string.
    pub fn scalar(&self, v: &Value, what: &str) -> Result<String, Error> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => match call(other) {
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

    /// A whole number, if the value is there.
    pub fn number(&self, v: Option<&Value>, what: &str) -> Result<Option<i64>, Error> {
        v.map(|v| self.scalar(v, what)?.parse::<i64>().map_err(|_| format!("{what} is not a whole number"))).transpose()
    }

    /// A list of scalars (`[a, b]`), each resolved.
    pub fn strings(&self, v: &Value, what: &str) -> Result<Vec<String>, Error> {
        let items = v.as_sequence().ok_or_else(|| format!("{what}: expected a list"))?;
        items.iter().map(|item| self.scalar(item, what)).collect()
    }

    fn condition(&self, name: &str) -> Result<bool, Error> {
        let body =
            self.conditions.and_then(|c| c.get(name)).ok_or_else(|| format!("condition {name} is not defined"))?;
        self.truth(body, name)
    }

    fn truth(&self, v: &Value, what: &str) -> Result<bool, Error> {
        let Some((name, arg)) = call(v) else {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml_ng::from_str(text).unwrap()
    }

    #[test]
    fn sub_references() {
        assert_eq!(
            super::sub_references(
                "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/functions/${SendFunction.Arn}/invocations"
            ),
            vec!["SendFunction.Arn"]
        );
        assert_eq!(super::sub_references("integrations/${SendIntegration}"), vec!["SendIntegration"]);
    }

    #[test]
    fn short_and_long_forms_read_alike() {
        for (short, long) in [
            ("!Ref Api", "Ref: Api"),
            ("!Sub \"a/${B}\"", "Fn::Sub: \"a/${B}\""),
            ("!GetAtt Queue.Arn", "Fn::GetAtt: [Queue, Arn]"),
        ] {
            let (short, long) = (yaml(short), yaml(long));
            assert_eq!(reference(&short), reference(&long));
            assert_eq!(sub_string(&short), sub_string(&long));
            assert_eq!(arn_of(&short), arn_of(&long));
        }
        assert_eq!(reference(&yaml("!Ref Api")), Some("Api"));
        assert_eq!(sub_string(&yaml("!Sub \"a/${B}\"")), Some("a/${B}"));
        assert_eq!(arn_of(&yaml("Fn::GetAtt: Queue.Arn")), Some("Queue"));
        assert_eq!(reference(&yaml("!GetAtt Queue.Arn")), None);
    }

    #[test]
    fn parameters_and_conditions_resolve() {
        let doc = yaml(
            "Parameters:\n  On: {Default: \"true\"}\n  Rate: {Default: 5}\n\
             Conditions:\n  IsOn: !Equals [!Ref On, \"true\"]\n  IsOff: {\"Fn::Not\": [{Condition: IsOn}]}\n",
        );
        let scope = Scope::new(&doc, &BTreeMap::new()).unwrap();
        assert_eq!(scope.scalar(&yaml("!If [IsOn, ENABLED, DISABLED]"), "t").unwrap(), "ENABLED");
        assert_eq!(scope.scalar(&yaml("Fn::If: [IsOff, ENABLED, DISABLED]"), "t").unwrap(), "DISABLED");
        assert_eq!(scope.number(Some(&yaml("!Ref Rate")), "t").unwrap(), Some(5));
        assert!(scope.scalar(&yaml("!Ref Nothing"), "t").is_err());
        assert!(scope.scalar(&yaml("!Select [0, [a]]"), "t").is_err());
        let overridden = Scope::new(&doc, &BTreeMap::from([("On".to_string(), "false".to_string())])).unwrap();
        assert_eq!(overridden.scalar(&yaml("!If [IsOn, ENABLED, DISABLED]"), "t").unwrap(), "DISABLED");
        assert!(Scope::new(&doc, &BTreeMap::from([("Nope".to_string(), "x".to_string())])).is_err());
    }
}
