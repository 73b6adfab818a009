//! Which environment variables each function gets from template.yaml: `Globals.Function`'s
//! `Environment.Variables` and its own, merged as SAM merges them. The names, and the values
//! that resolve without AWS (literals, parameters): the values that name resources
//! (`!Ref ChatTable`, `!Ref ScheduledMessagesQueue`) have local equivalents that `local.rs`
//! supplies, so a function sees a variable locally only if the template gives it one on AWS.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::Value;

use super::intrinsics::Scope;

fn variables(environment: Option<&Value>) -> impl Iterator<Item = (String, &Value)> + '_ {
    environment
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| k.as_str().map(|k| (k.to_string(), v)))
}

/// Binary → its variables (with `Globals`, its own winning), each with the value the template
/// gives it when that resolves here (None for a resource's name or attribute).
pub fn variables_of(
    doc: &Value,
    scope: &Scope,
    functions: &BTreeMap<String, String>,
) -> BTreeMap<String, BTreeMap<String, Option<String>>> {
    let resolve = |(name, value): (String, &Value)| {
        let resolved = scope.scalar(value, &name).ok();
        (name, resolved)
    };
    let global: BTreeMap<String, Option<String>> =
        variables(doc.get("Globals").and_then(|g| g.get("Function")).and_then(|f| f.get("Environment")))
            .map(resolve)
            .collect();
    functions
        .iter()
        .map(|(id, binary)| {
            let own = doc
                .get("Resources")
                .and_then(|r| r.get(id))
                .and_then(|r| r.get("Properties"))
                .and_then(|p| p.get("Environment"));
            let mut all = global.clone();
            all.extend(variables(own).map(resolve));
            (binary.clone(), all)
        })
        .collect()
}

/// Binary → the names of the variables its `Environment` declares (with `Globals`).
pub fn variable_names(
    variables: &BTreeMap<String, BTreeMap<String, Option<String>>>,
) -> BTreeMap<String, BTreeSet<String>> {
    variables.iter().map(|(binary, vars)| (binary.clone(), vars.keys().cloned().collect())).collect()
}
