//! A small HTML writer for the read-only blocks of the page (the drain
//! card's figures, chart and job list, the audit list, the dialog's job
//! list), which are set with `inner_html`.
//!
//! Why not Leptos views there: every view type costs its own copy of the
//! renderer's generic build/rebuild code, and these blocks have many; as
//! strings they cost little more than `format!`, which keeps the WASM bundle
//! inside its budget. They hold no inputs or focusable controls, so
//! replacing their content loses nothing. All text from the server goes
//! through [`Html::text`] (escaped); only constant markup goes through
//! [`Html::raw`].

use chrono::{DateTime, Utc};

use crate::format;

/// HTML being written.
#[derive(Default)]
pub struct Html(String);

impl Html {
    pub fn new() -> Self {
        Html(String::with_capacity(1024))
    }

    /// Markup written by this crate (never server data).
    pub fn raw(&mut self, markup: &str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    /// Text (or an attribute value): escaped.
    pub fn text(&mut self, text: &str) -> &mut Self {
        for c in text.chars() {
            match c {
                '&' => self.0.push_str("&amp;"),
                '<' => self.0.push_str("&lt;"),
                '>' => self.0.push_str("&gt;"),
                '"' => self.0.push_str("&quot;"),
                '\'' => self.0.push_str("&#39;"),
                c => self.0.push(c),
            }
        }
        self
    }

    /// `<time datetime=… title=…>19:40:01</time> <span class="rel">(2 min ago)</span>`.
    pub fn time(
        &mut self,
        t: DateTime<Utc>,
        now_ms: i64,
        shown: fn(DateTime<Utc>) -> String,
    ) -> &mut Self {
        self.raw("<time datetime=\"")
            .text(&format::iso(t))
            .raw("\" title=\"")
            .text(&format::absolute(t))
            .raw("\">")
            .text(&shown(t))
            .raw("</time> <span class=\"rel\">(")
            .text(&format::relative(t, now_ms))
            .raw(")</span>")
    }

    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_markup_is_not() {
        let out = Html::new()
            .raw("<q title=\"")
            .text("\"x\" & 'y'")
            .raw("\">")
            .text("<script>alert(1)</script>")
            .raw("</q>")
            .finish();
        assert_eq!(
            out,
            "<q title=\"&quot;x&quot; &amp; &#39;y&#39;\">&lt;script&gt;alert(1)&lt;/script&gt;</q>"
        );
    }

    #[test]
    fn times_carry_machine_and_human_forms() {
        let t = DateTime::from_timestamp(1_795_376_848, 0).unwrap();
        let out = Html::new()
            .time(t, 1_795_376_848_000 + 120_000, format::clock)
            .finish();
        assert_eq!(
            out,
            "<time datetime=\"2026-11-22T19:47:28Z\" title=\"2026-11-22 19:47:28 UTC\">19:47:28</time> <span class=\"rel\">(2 min ago)</span>"
        );
    }
}
