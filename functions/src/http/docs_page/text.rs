//! Text as HTML: escaping and the little Markdown the descriptions use.

use std::fmt::Write as _;

use serde_json::Value;

/// HTML-escapes text.
pub(super) fn esc(text: &str) -> String {
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
pub(super) fn markdown(text: &str) -> String {
    text.split("\n\n").filter(|p| !p.trim().is_empty()).map(|p| format!("<p>{}</p>", inline_md(p.trim()))).collect()
}

/// The little Markdown the descriptions use: `code` and **bold**, on escaped text.
pub(super) fn inline_md(text: &str) -> String {
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

pub(super) fn str_of(value: &Value) -> Option<&str> {
    value.as_str()
}
