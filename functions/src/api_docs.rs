//! `GET /openapi.json` and `GET /docs`: the REST API's own documentation, served without auth.
//!
//! The OpenAPI document is `docs/openapi.json`, compiled into the binary. `/docs` is a static HTML
//! page rendered from that same document on the first request of a Lambda instance (a few hundred
//! microseconds) and kept for its lifetime. The page is self-contained: inline CSS, no script, no
//! external font, stylesheet or image, so it works offline and without JavaScript; a
//! Content-Security-Policy of `default-src 'none'` makes the browser enforce that.

use std::fmt::Write as _;
use std::sync::OnceLock;

use chat::error::ChatError;
use lambda_http::{Body, Response};
use serde_json::{Map, Value};

/// The OpenAPI 3.1 document, as written in `docs/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../../docs/openapi.json");

const HTML_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// `GET /openapi.json`.
pub fn openapi() -> Result<Response<Body>, ChatError> {
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("cache-control", "public, max-age=300")
        .body(Body::Text(OPENAPI_JSON.to_string()))
        .map_err(ChatError::internal)
}

/// `GET /docs`.
pub fn docs() -> Result<Response<Body>, ChatError> {
    static HTML: OnceLock<String> = OnceLock::new();
    let html = HTML.get_or_init(|| match serde_json::from_str::<Value>(OPENAPI_JSON) {
        Ok(doc) => render_html(&doc),
        // Cannot happen with a document the tests parse; still answer something useful.
        Err(e) => format!(
            "<!doctype html><title>API</title><p>The OpenAPI document does not parse: {}</p>",
            esc(&e.to_string())
        ),
    });
    Response::builder()
        .status(200)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "public, max-age=300")
        .header("content-security-policy", HTML_CSP)
        .header("x-content-type-options", "nosniff")
        .body(Body::Text(html.clone()))
        .map_err(ChatError::internal)
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

const STYLE: &str = r#"
:root{--fg:#1d232a;--muted:#5b6670;--line:#d9dee3;--bg:#fff;--soft:#f5f7f9;--code:#f0f2f4;--link:#0b5cad}
@media (prefers-color-scheme:dark){:root{--fg:#e3e7eb;--muted:#9aa5b0;--line:#343c45;--bg:#15191d;--soft:#1c2227;--code:#242b31;--link:#6cb0ff}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
.wrap{display:flex;align-items:flex-start}
nav{position:sticky;top:0;width:340px;flex:none;max-height:100vh;overflow:auto;padding:16px;border-right:1px solid var(--line);background:var(--soft);font-size:13px}
nav h2{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);margin:16px 0 4px}
nav ul{list-style:none;margin:0;padding:0}
nav li{margin:2px 0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
main{flex:1;min-width:0;padding:24px 32px;max-width:1100px}
a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}
code,pre{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--code);border-radius:4px}
code{padding:1px 4px}pre{padding:10px;overflow:auto}
h1{margin-top:0}h2{border-bottom:1px solid var(--line);padding-bottom:4px;margin-top:40px}
section.op{border:1px solid var(--line);border-radius:6px;padding:12px 16px;margin:16px 0}
section.op h3{margin:0 0 4px;font-size:16px;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.m{display:inline-block;min-width:62px;text-align:center;border-radius:4px;padding:1px 6px;margin-right:8px;color:#fff;font-size:12px;font-weight:700;font-family:system-ui,sans-serif}
.get{background:#2f7d32}.post{background:#1565c0}.put{background:#8e5b00}.patch{background:#8e5b00}.delete{background:#b3261e}
.auth{font-size:12px;color:var(--muted)}.lock{font-weight:600}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:14px}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}
td:first-child code{white-space:nowrap}
.req{color:#b3261e;font-weight:700}
.muted{color:var(--muted)}
h4{margin:12px 0 2px;font-size:14px}
details{margin:4px 0}summary{cursor:pointer}
@media (max-width:800px){.wrap{display:block}nav{position:static;width:auto;max-height:none;border-right:0;border-bottom:1px solid var(--line)}main{padding:16px}}
"#;

/// The whole reference page: overview, authentication, every operation by tag, every schema.
pub fn render_html(doc: &Value) -> String {
    let info = &doc["info"];
    let title = str_of(&info["title"]).unwrap_or("API reference");
    let mut out = String::with_capacity(128 * 1024);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} — reference</title><style>{STYLE}</style></head><body><div class=\"wrap\">",
        esc(title)
    );
    let operations = operations(doc);
    let tags = tag_order(doc, &operations);

    // Navigation.
    out.push_str("<nav><strong><a href=\"#top\">");
    out.push_str(&esc(title));
    out.push_str(
        "</a></strong><ul><li><a href=\"#auth\">Authentication</a></li><li><a href=\"#errors\">Errors</a></li>",
    );
    out.push_str("<li><a href=\"/openapi.json\">openapi.json</a></li></ul>");
    for (tag, _) in &tags {
        let _ = write!(out, "<h2>{}</h2><ul>", esc(tag));
        for op in operations.iter().filter(|o| &o.tag == tag) {
            let _ = write!(
                out,
                "<li><a href=\"#{}\"><span class=\"m {m}\">{}</span>{}</a></li>",
                op.anchor(),
                op.method.to_uppercase(),
                esc(op.path),
                m = op.method
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("<h2>Schemas</h2><ul>");
    for name in doc["components"]["schemas"].as_object().into_iter().flat_map(Map::keys) {
        let _ = write!(out, "<li><a href=\"#schema-{0}\">{0}</a></li>", esc(name));
    }
    out.push_str("</ul></nav><main id=\"top\">");

    // Overview.
    let version = str_of(&info["version"]).unwrap_or("");
    let _ = write!(
        out,
        "<h1>{}</h1><p class=\"muted\">Version {} · OpenAPI {} · machine-readable: <a href=\"/openapi.json\"><code>/openapi.json</code></a></p>",
        esc(title),
        esc(version),
        esc(str_of(&doc["openapi"]).unwrap_or("")),
    );
    if let Some(summary) = str_of(&info["summary"]) {
        let _ = write!(out, "<p><strong>{}</strong></p>", inline_md(summary));
    }
    if let Some(description) = str_of(&info["description"]) {
        out.push_str(&markdown(description));
    }
    if let Some(servers) = doc["servers"].as_array() {
        out.push_str("<h4>Servers</h4><ul>");
        for server in servers {
            let _ = write!(
                out,
                "<li><code>{}</code> — {}</li>",
                esc(str_of(&server["url"]).unwrap_or("")),
                inline_md(str_of(&server["description"]).unwrap_or(""))
            );
        }
        out.push_str("</ul>");
    }

    // Authentication.
    out.push_str("<h2 id=\"auth\">Authentication</h2>");
    for (name, scheme) in doc["components"]["securitySchemes"].as_object().into_iter().flatten() {
        let _ = write!(
            out,
            "<p><code>{}</code>: {} <code>{}</code> ({}). {}</p>",
            esc(name),
            esc(str_of(&scheme["type"]).unwrap_or("")),
            esc(str_of(&scheme["scheme"]).unwrap_or("")),
            esc(str_of(&scheme["bearerFormat"]).unwrap_or("")),
            inline_md(str_of(&scheme["description"]).unwrap_or(""))
        );
    }
    out.push_str("<p>Send <code>Authorization: Bearer &lt;accessToken&gt;</code>. Operations marked <span class=\"auth\">no auth</span> need none.</p>");

    // Errors.
    out.push_str("<h2 id=\"errors\">Errors</h2>");
    out.push_str(&schema_block(&doc["components"]["schemas"]["Error"]));
    out.push_str(&schema_block(&doc["components"]["schemas"]["ErrorCode"]));

    // Operations.
    for (tag, description) in &tags {
        let _ = write!(out, "<h2 id=\"tag-{}\">{}</h2>", esc(tag), esc(tag));
        if let Some(description) = description {
            let _ = write!(out, "<p class=\"muted\">{}</p>", inline_md(description));
        }
        for op in operations.iter().filter(|o| &o.tag == tag) {
            render_operation(&mut out, doc, op);
        }
    }

    // Schemas.
    out.push_str("<h2 id=\"schemas\">Schemas</h2>");
    for (name, schema) in doc["components"]["schemas"].as_object().into_iter().flatten() {
        let _ = write!(out, "<h3 id=\"schema-{0}\">{0}</h3>", esc(name));
        out.push_str(&schema_block(schema));
    }
    out.push_str("<p class=\"muted\">Generated from <a href=\"/openapi.json\">/openapi.json</a>. The WebSocket protocol is described in AsyncAPI in <code>docs/asyncapi.yaml</code>.</p>");
    out.push_str("</main></div></body></html>\n");
    out
}

struct Operation<'a> {
    method: &'a str,
    path: &'a str,
    tag: String,
    op: &'a Value,
    path_item: &'a Value,
}

impl Operation<'_> {
    fn anchor(&self) -> String {
        let slug: String =
            self.path.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
        format!("op-{}{}", self.method, slug)
    }
}

fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                let tag = op["tags"].get(0).and_then(Value::as_str).unwrap_or("other").to_string();
                ops.push(Operation { method, path, tag, op, path_item: item });
            }
        }
    }
    ops
}

/// Tags in the document's order, then any others the operations use.
fn tag_order<'a>(doc: &'a Value, ops: &[Operation]) -> Vec<(String, Option<&'a str>)> {
    let mut tags: Vec<(String, Option<&str>)> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((str_of(&t["name"])?.to_string(), str_of(&t["description"]))))
        .collect();
    for op in ops {
        if !tags.iter().any(|(t, _)| *t == op.tag) {
            tags.push((op.tag.clone(), None));
        }
    }
    tags.retain(|(t, _)| ops.iter().any(|o| &o.tag == t));
    tags
}

fn render_operation(out: &mut String, doc: &Value, op: &Operation) {
    let _ = write!(
        out,
        "<section class=\"op\" id=\"{}\"><h3><span class=\"m {m}\">{}</span>{}</h3>",
        op.anchor(),
        op.method.to_uppercase(),
        esc(op.path),
        m = op.method
    );
    let secured = match op.op.get("security").or_else(|| doc.get("security")) {
        Some(Value::Array(reqs)) => {
            !reqs.is_empty() && reqs.iter().all(|r| r.as_object().is_some_and(|o| !o.is_empty()))
        }
        _ => false,
    };
    let auth = if secured { "<span class=\"lock\">bearer JWT</span>" } else { "no auth" };
    let _ = write!(
        out,
        "<div><strong>{}</strong> <span class=\"auth\">· {auth}</span></div>",
        inline_md(str_of(&op.op["summary"]).unwrap_or(""))
    );
    if let Some(description) = str_of(&op.op["description"]) {
        out.push_str(&markdown(description));
    }

    // Parameters: the path item's, then the operation's.
    let params: Vec<&Value> = op.path_item["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(op.op["parameters"].as_array().into_iter().flatten())
        .map(|p| resolve(doc, p))
        .collect();
    if !params.is_empty() {
        out.push_str("<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr>");
        for p in params {
            let required = if p["required"].as_bool() == Some(true) { " <span class=\"req\">*</span>" } else { "" };
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{required}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(str_of(&p["name"]).unwrap_or("")),
                esc(str_of(&p["in"]).unwrap_or("")),
                type_label(&p["schema"]),
                describe(&p["schema"], str_of(&p["description"]))
            );
        }
        out.push_str("</table>");
    }

    // Request body.
    if let Some(body) = op.op.get("requestBody").map(|b| resolve(doc, b)) {
        let required = if body["required"].as_bool() == Some(true) { "required" } else { "optional" };
        out.push_str("<h4>Request body</h4>");
        if let Some(description) = str_of(&body["description"]) {
            let _ = write!(out, "<p class=\"muted\">{}</p>", inline_md(description));
        }
        for (media, content) in body["content"].as_object().into_iter().flatten() {
            let _ = write!(out, "<p><code>{}</code> ({required}): {}</p>", esc(media), type_label(&content["schema"]));
            out.push_str(&schema_block(resolve(doc, &content["schema"])));
        }
    }

    // Responses.
    out.push_str("<h4>Responses</h4><table><tr><th>status</th><th>description</th><th>body</th></tr>");
    for (status, response) in op.op["responses"].as_object().into_iter().flatten() {
        let response = resolve(doc, response);
        let body: Vec<String> = response["content"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(media, c)| format!("<code>{}</code> {}", esc(media), type_label(&c["schema"])))
            .collect();
        let body = if body.is_empty() { "<span class=\"muted\">none</span>".to_string() } else { body.join("<br>") };
        let _ = write!(
            out,
            "<tr><td><strong>{}</strong></td><td>{}</td><td>{}</td></tr>",
            esc(status),
            inline_md(str_of(&response["description"]).unwrap_or("")),
            body
        );
    }
    out.push_str("</table></section>");
}

/// A schema as a description plus, for objects, a table of properties; for enums, the values;
/// for `oneOf`, its alternatives.
fn schema_block(schema: &Value) -> String {
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
fn type_label(schema: &Value) -> String {
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
fn describe(schema: &Value, description: Option<&str>) -> String {
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

/// Follows a local `$ref` (`#/components/...`); anything else is returned as it is.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match str_of(&value["$ref"]).and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => doc.pointer(pointer).unwrap_or(value),
        None => value,
    }
}

fn str_of(value: &Value) -> Option<&str> {
    value.as_str()
}

/// HTML-escapes text.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Paragraphs (blank-line separated) of [`inline_md`].
fn markdown(text: &str) -> String {
    text.split("\n\n").filter(|p| !p.trim().is_empty()).map(|p| format!("<p>{}</p>", inline_md(p.trim()))).collect()
}

/// The little Markdown the descriptions use: `code` and **bold**, on escaped text.
fn inline_md(text: &str) -> String {
    let mut out = String::new();
    for (i, chunk) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", esc(chunk));
        } else {
            for (j, part) in chunk.split("**").enumerate() {
                if j % 2 == 1 {
                    let _ = write!(out, "<strong>{}</strong>", esc(part));
                } else {
                    out.push_str(&esc(part));
                }
            }
        }
    }
    out
}

/// `/users/{id}` and `/users/{userId}` are the same route: parameters compare as `{}`.
pub fn normalise(path: &str) -> String {
    path.split('/').map(|s| if s.starts_with('{') && s.ends_with('}') { "{}" } else { s }).collect::<Vec<_>>().join("/")
}

/// Every `("METHOD", [segments]) =>` arm of the router's source (functions/src/http.rs), as
/// (method, path with `{}` params): the tests check each one is documented.
pub fn router_routes(source: &str) -> Vec<(String, String)> {
    let mut routes = Vec::new();
    for line in source.lines() {
        let line = line.trim_start();
        let Some(rest) = line.strip_prefix("(\"") else { continue };
        let Some((method, rest)) = rest.split_once('"') else { continue };
        let Some(rest) = rest.trim_start().strip_prefix(',') else { continue };
        let Some(rest) = rest.trim_start().strip_prefix('[') else { continue };
        let Some((segments, rest)) = rest.split_once(']') else { continue };
        let arm = rest.trim_start().strip_prefix(')').map(str::trim_start).unwrap_or_default();
        if !(arm.starts_with("=>") || arm.starts_with("if ")) || !method.chars().all(|c| c.is_ascii_uppercase()) {
            continue;
        }
        let path: String = segments
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                Some(literal) => format!("/{literal}"),
                None => "/{}".to_string(),
            })
            .collect();
        routes.push((method.to_string(), path));
    }
    routes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        serde_json::from_str(OPENAPI_JSON).expect("docs/openapi.json is JSON")
    }

    #[test]
    fn the_document_is_openapi_3_1() {
        let doc = doc();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."), "{}", doc["openapi"]);
        assert!(doc["paths"].as_object().unwrap().len() >= 20);
        assert!(doc["components"]["securitySchemes"]["bearerAuth"].is_object());
    }

    #[test]
    fn every_route_of_the_router_is_documented() {
        let routes = router_routes(include_str!("http.rs"));
        // The parser must see the router, or this test proves nothing.
        assert!(routes.len() >= 15, "parsed only {routes:?}");
        assert!(routes.contains(&("GET".into(), "/conversations/{}/messages".into())), "{routes:?}");
        assert!(routes.contains(&("GET".into(), "/openapi.json".into())), "{routes:?}");
        let doc = doc();
        let paths = doc["paths"].as_object().unwrap();
        let mut missing = Vec::new();
        for (method, path) in &routes {
            let documented = paths
                .iter()
                .any(|(p, item)| normalise(p) == *path && item.get(method.to_lowercase().as_str()).is_some());
            if !documented {
                missing.push(format!("{method} {path}"));
            }
        }
        assert!(missing.is_empty(), "routes in functions/src/http.rs missing from docs/openapi.json: {missing:?}");
    }

    #[test]
    fn every_operation_has_responses_and_public_ones_are_the_contracts() {
        let doc = doc();
        let public =
            ["/auth/register", "/auth/login", "/auth/refresh", "/auth/logout", "/health", "/openapi.json", "/docs"];
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}");
                let open = op.get("security") == Some(&Value::Array(vec![]));
                assert_eq!(open, public.contains(&path.as_str()), "{method} {path}: security");
                if !open {
                    assert!(op["responses"].get("401").is_some(), "{method} {path} lacks 401");
                }
            }
        }
    }

    #[test]
    fn every_local_reference_resolves() {
        fn walk(doc: &Value, node: &Value, bad: &mut Vec<String>) {
            match node {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        let ok = r.strip_prefix('#').is_some_and(|p| doc.pointer(p).is_some());
                        if !ok {
                            bad.push(r.clone());
                        }
                    }
                    map.values().for_each(|v| walk(doc, v, bad));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(doc, v, bad)),
                _ => {}
            }
        }
        let doc = doc();
        let mut bad = Vec::new();
        walk(&doc, &doc, &mut bad);
        assert!(bad.is_empty(), "dangling $ref: {bad:?}");
    }

    #[test]
    fn the_html_names_every_path_and_loads_nothing_external() {
        let doc = doc();
        let html = render_html(&doc);
        for path in doc["paths"].as_object().unwrap().keys() {
            assert!(html.contains(&esc(path)), "{path} not in the HTML");
        }
        for name in doc["components"]["schemas"].as_object().unwrap().keys() {
            assert!(html.contains(&format!("id=\"schema-{name}\"")), "schema {name} not in the HTML");
        }
        let lower = html.to_lowercase();
        for external in ["<script", "<link", "src=", "@import", "url(", "href=\"http", "href=\"//"] {
            assert!(!lower.contains(external), "the page must be self-contained: found {external}");
        }
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(inline_md("a `<b>` **c**"), "a <code>&lt;b&gt;</code> <strong>c</strong>");
    }

    #[test]
    fn the_parser_reads_route_arms() {
        let source = r#"
        match (method, segments.as_slice()) {
            ("GET", ["health"]) => json(200, &x),
            ("DELETE", ["conversations", id, "members", member]) => {
            ("GET", ["users", "online"]) => json(200, &y),
            ("POST", ["scheduled-messages", id]) if id.len() < 64 => {
            | ["conversations", _, "messages" | "members"]
        "#;
        assert_eq!(
            router_routes(source),
            vec![
                ("GET".to_string(), "/health".to_string()),
                ("DELETE".to_string(), "/conversations/{}/members/{}".to_string()),
                ("GET".to_string(), "/users/online".to_string()),
                ("POST".to_string(), "/scheduled-messages/{}".to_string()),
            ]
        );
    }
}
