//! Which environment variables each function gets from template.yaml: `Globals.Function`'s
//! `Environment.Variables` and its own, merged as SAM merges them. Only the names: the values
//! that name resources (`!Ref ChatTable`, `!Ref ScheduledMessagesQueue`) have local equivalents
//! that `local.rs` supplies, so a function sees a variable locally only if the template gives it
//! one on AWS.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::Value;

fn names(environment: Option<&Value>) -> impl Iterator<Item = String> + '_ {
    environment
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.as_str().map(str::to_string))
}

/// Binary → the names of the variables its `Environment` declares (with `Globals`).
pub fn variable_names(doc: &Value, functions: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let global: BTreeSet<String> =
        names(doc.get("Globals").and_then(|g| g.get("Function")).and_then(|f| f.get("Environment"))).collect();
    functions
        .iter()
        .map(|(id, binary)| {
            let own = doc
                .get("Resources")
                .and_then(|r| r.get(id))
                .and_then(|r| r.get("Properties"))
                .and_then(|p| p.get("Environment"));
            let mut all = global.clone();
            all.extend(names(own));
            (binary.clone(), all)
        })
        .collect()
}
