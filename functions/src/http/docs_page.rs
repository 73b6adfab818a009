//! `GET /docs`: a static HTML reference rendered from the OpenAPI document (openapi.rs) on the
//! first request of a Lambda instance (a few hundred microseconds) and kept for its lifetime. The
//! page is self-contained: inline CSS, no script, no external font, stylesheet or image, so it
//! works offline and without JavaScript; a Content-Security-Policy of `default-src 'none'` makes
//! the browser enforce that.

use std::fmt::Write as _;

use chat::error::ChatError;
use lambda_http::{Body, Response};
use serde_json::{Map, Value};

mod schema;
mod text;

use schema::{describe, schema_block, type_label};
use text::{esc, inline_md, markdown, str_of};

const HTML_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// The page as `GET /docs` answers it.
pub fn response(html: &str) -> Result<Response<Body>, ChatError> {
    Response::builder()
        .status(200)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "public, max-age=300")
        .header("content-security-policy", HTML_CSP)
        .header("x-content-type-options", "nosniff")
        .body(Body::Text(html.to_string()))
        .map_err(ChatError::internal)
}

pub(super) const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The page's only style sheet, inlined.
const STYLE: &str = include_str!("docs_page.css");

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

/// Follows a local `$ref` (`#/components/...`); anything else is returned as it is.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match str_of(&value["$ref"]).and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => doc.pointer(pointer).unwrap_or(value),
        None => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_html_names_every_path_and_schema_and_loads_nothing_external() {
        let doc: Value = serde_json::from_str(crate::http::openapi::json()).unwrap();
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
}
