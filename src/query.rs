//! Query strings: percent-decoding what the admin API receives, and
//! percent-encoding what the Worker sends its Durable Objects. Hand-written
//! because it is a dozen lines and a URL crate would weigh more than the
//! rest of the admin API in wasm.

/// Appends `text` percent-encoded: every byte but ASCII letters, digits,
/// `-`, `.`, `_`, `~` and `/` becomes `%XX`.
pub fn push_encoded(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
    }
}

/// `text` percent-encoded.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_encoded(&mut out, text);
    out
}

/// Decodes `%XX` escapes and `+` (a space in query strings). `None` when an
/// escape is malformed or the result is not UTF-8.
pub fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let digit = |c: u8| char::from(c).to_digit(16);
                out.push((digit(hex[0])? * 16 + digit(hex[1])?) as u8);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The decoded `name=value` pairs of a query string (without its `?`), in
/// order; `None` when any part is malformed.
pub fn pairs(query: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for part in query.split('&').filter(|part| !part.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        pairs.push((decode(name)?, decode(value)?));
    }
    Some(pairs)
}

/// The first value of `name` among [`pairs`]' result.
pub fn value_of(fields: &[(String, String)], name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
}

/// A whole number in decimal, of any unsigned type, read as a `u64` (one
/// parser in the module for them all) and then narrowed: `None` for
/// anything `str::parse` of that type would refuse.
pub fn whole<T: TryFrom<u64>>(text: &str) -> Option<T> {
    T::try_from(text.parse::<u64>().ok()?).ok()
}

/// The path and the query (without its `?`) of an absolute URL, as a
/// Durable Object reads the URL its stub was called with.
pub fn path_and_query(url: &str) -> (&str, &str) {
    // Positions are found bytewise and taken with `get`: no substring
    // search or slicing panic (with its formatting) is linked for this.
    let scheme_end = url.as_bytes().windows(2).position(|pair| pair == b"//");
    let rest = url.get(scheme_end.map_or(0, |at| at + 2)..).unwrap_or("");
    let path_start = rest.bytes().position(|b| b == b'/' || b == b'?');
    let tail = rest.get(path_start.unwrap_or(rest.len())..).unwrap_or("");
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    (if path.is_empty() { "/" } else { path }, query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_any_text() {
        for text in ["", "/quo", "a b&c=d%e+f", "é✓🦀", "msg_1.2:3,4", "<script>"] {
            assert_eq!(decode(&encode(text)).as_deref(), Some(text), "{text:?}");
        }
        assert_eq!(encode("/hooks/quo"), "/hooks/quo");
        assert_eq!(encode("a b"), "a%20b");
    }

    #[test]
    fn pairs_decode_and_refuse_malformed_escapes() {
        assert_eq!(
            pairs("route=%2Fquo&outcome=delivered&flag&x=a+b"),
            Some(vec![
                ("route".into(), "/quo".into()),
                ("outcome".into(), "delivered".into()),
                ("flag".into(), "".into()),
                ("x".into(), "a b".into()),
            ])
        );
        for bad in ["a=%", "a=%4", "a=%zz", "a=%ff"] {
            assert_eq!(pairs(bad), None, "{bad}");
        }
        assert_eq!(pairs(""), Some(vec![]));
    }

    #[test]
    fn whole_numbers_narrow_as_parse_would() {
        for text in [
            "0",
            "+7",
            "65535",
            "65536",
            "4294967296",
            "-1",
            "",
            "1.0",
            " 1",
        ] {
            assert_eq!(whole::<u16>(text), text.parse::<u16>().ok(), "{text:?}");
            assert_eq!(whole::<u32>(text), text.parse::<u32>().ok(), "{text:?}");
            assert_eq!(whole::<u64>(text), text.parse::<u64>().ok(), "{text:?}");
        }
    }

    #[test]
    fn path_and_query_of_a_url() {
        assert_eq!(
            path_and_query("https://replay-shard/claim?key=a%2Fb&ttl=5"),
            ("/claim", "key=a%2Fb&ttl=5")
        );
        assert_eq!(
            path_and_query("https://delivery-log/attempt"),
            ("/attempt", "")
        );
        assert_eq!(path_and_query("https://delivery-log"), ("/", ""));
        assert_eq!(path_and_query("https://host?x=1"), ("/", "x=1"));
        assert_eq!(path_and_query("https://host/a?"), ("/a", ""));
    }
}
