//! A schema as HTML: its description, a table of its properties, its type and constraints.

use std::fmt::Write as _;

use serde_json::Value;

use super::text::{esc, inline_md, str_of};

/// A schema as a description plus, for objects, a table of properties; for enums, the values;
/// for `oneOf`, its alternatives.
pub(super) fn schema_block(schema: &Value) -> String {
    let mut out = String::new();
    if let Some(description) = str_of(&schema["description"]) {
        let _ = write!(out, "<p>{}</p>", inline_md(description));
    }
    if schema["properties"].is_object() {
        out.push_str("<table><tr><th>field</th><th>type</th><th>description</th></tr>");
        property_rows(&mut out, schema, "");
        out.push_str("</table>");
        if schema["additionalProperties"] == Value::Bool(false) {
            out.push_str("<p class=\"muted\">No other fields.</p>");
        }
    } else if schema.get("type").is_some() || schema.get("enum").is_some() {
        let _ = write!(out, "<p>Type: {} {}</p>", type_label(schema), describe(schema, None));
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alternatives) = schema[key].as_array() {
            let list: Vec<String> = alternatives.iter().map(type_label).collect();
            let _ = write!(out, "<p>{}: {}</p>", if key == "oneOf" { "One of" } else { "Any of" }, list.join(" | "));
        }
    }
    if let Some(examples) =
        schema["examples"].as_array().filter(|e| !e.is_empty() && schema.get("properties").is_some())
    {
        out.push_str("<details><summary>Example</summary>");
        for example in examples {
            let _ = write!(out, "<pre>{}</pre>", esc(&serde_json::to_string_pretty(example).unwrap_or_default()));
        }
        out.push_str("</details>");
    }
    out
}

/// One row per property; an inline object's own properties follow as `parent.child` rows.
fn property_rows(out: &mut String, schema: &Value, prefix: &str) {
    let required: Vec<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
        let mark = if required.contains(&name.as_str()) {
            " <span class=\"req\" title=\"required\">*</span>"
        } else {
            " <span class=\"muted\" title=\"optional\">?</span>"
        };
        let _ = write!(
            out,
            "<tr><td><code>{}{}</code>{mark}</td><td>{}</td><td>{}</td></tr>",
            esc(prefix),
            esc(name),
            type_label(prop),
            describe(prop, str_of(&prop["description"]))
        );
        if prop.get("$ref").is_none() && prop["properties"].is_object() {
            property_rows(out, prop, &format!("{prefix}{name}."));
        }
    }
}

/// The short type of a schema: a link for a reference, `array of X`, a union, a constant.
pub(super) fn type_label(schema: &Value) -> String {
    if let Some(reference) = str_of(&schema["$ref"]) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    if let Some(constant) = schema.get("const") {
        return format!("<code>{}</code>", esc(&constant.to_string()));
    }
    if schema.get("not").is_some() && schema.get("type").is_none() {
        return "<em>not allowed</em>".into();
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alternatives) = schema[key].as_array() {
            return alternatives.iter().map(type_label).collect::<Vec<_>>().join(" | ");
        }
    }
    let types: Vec<String> = match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts.iter().filter_map(|t| t.as_str().map(String::from)).collect(),
        _ => vec![],
    };
    let label = types
        .iter()
        .map(|t| match t.as_str() {
            "array" => format!("array of {}", type_label(&schema["items"])),
            other => match str_of(&schema["format"]) {
                Some(format) if other == "string" => format!("string ({})", esc(format)),
                _ => esc(other),
            },
        })
        .collect::<Vec<_>>()
        .join(" | ");
    if label.is_empty() { "any".into() } else { label }
}

/// A description followed by the schema's constraints (enum, lengths, ranges, pattern, default).
pub(super) fn describe(schema: &Value, description: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(description) = description {
        parts.push(inline_md(description));
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values.iter().map(|v| format!("<code>{}</code>", esc(&v.to_string()))).collect();
        parts.push(format!("One of {}.", values.join(", ")));
    }
    let mut limits = Vec::new();
    for (key, label) in [
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minimum", "min"),
        ("exclusiveMinimum", "greater than"),
        ("maximum", "max"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
        ("default", "default"),
    ] {
        if let Some(v) = schema.get(key) {
            limits.push(format!("{label} {}", esc(&v.to_string())));
        }
    }
    if let Some(pattern) = str_of(&schema["pattern"]) {
        limits.push(format!("pattern <code>{}</code>", esc(pattern)));
    }
    if !limits.is_empty() {
        parts.push(format!("<span class=\"muted\">{}</span>", limits.join("; ")));
    }
    parts.join(" ")
}
