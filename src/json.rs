//! Writing JSON text by hand for the few small documents hookgate answers
//! with, so every string goes through one escape function.

/// Appends `text` to `out` as a JSON string literal, quotes included.
/// Everything outside printable ASCII is escaped as `\uXXXX`, so the result
/// is plain ASCII whatever the input, and `<`, `>` and `&` are escaped too,
/// so a value can never close a `<script>` it is embedded in.
pub fn push_str(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' if !matches!(c, '<' | '>' | '&') => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    // By hand: `{:04x}` linked a hex formatter for this alone.
                    out.push_str("\\u");
                    crate::keys::push_hex(out, &unit.to_be_bytes());
                }
            }
        }
    }
    out.push('"');
}

/// `text` as a JSON string literal.
pub fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    push_str(&mut out, text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_a_json_parser() {
        for text in [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "controls \u{0}\u{1f}\n\r\t",
            "é ✓ 🦀 \u{2028}\u{2029}",
            "</script><script>alert(1)</script>&amp;",
        ] {
            let encoded = string(text);
            assert!(encoded.is_ascii(), "{encoded}");
            assert!(
                !encoded.contains('<') && !encoded.contains('>'),
                "{encoded}"
            );
            let decoded: String = serde_json::from_str(&encoded).expect("valid JSON");
            assert_eq!(decoded, text);
        }
    }
}
