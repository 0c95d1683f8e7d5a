//! A JSON writer for event fields, tuned for the output hot path.
//!
//! serde_json escapes strings one byte at a time; event text is almost always plain, so this writer checks
//! eight bytes at a time for anything that needs escaping and copies clean runs in one go. Written here
//! because the escaping loop was the largest single cost in profiles of the file and bulk outputs, and the
//! output must stay byte-for-byte what serde_json would produce (tested below).

use serde_json::{Map, Value};

/// Appends `map` as compact JSON.
pub fn write_map(out: &mut Vec<u8>, map: &Map<String, Value>) {
    out.push(b'{');
    let mut first = true;
    for (k, v) in map {
        if !first {
            out.push(b',');
        }
        first = false;
        write_member(out, k, v);
    }
    out.push(b'}');
}

/// Appends one object member, `"key":value`.
pub fn write_member(out: &mut Vec<u8>, key: &str, value: &Value) {
    write_str(out, key);
    out.push(b':');
    write_value(out, value);
}

/// Appends `v` as compact JSON.
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
            } else if let Some(i) = n.as_i64() {
                out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
            } else {
                // Floats: serde_json's own formatting (ryu), which cannot fail into a Vec.
                let _ = serde_json::to_writer(&mut *out, n);
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => write_map(out, map),
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes is a control character, `"` or `\`.
#[inline]
pub fn word_needs_escape(w: u64) -> bool {
    let has_zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let control = w.wrapping_sub(0x20 * LO) & !w & HI;
    (control | has_zero(w ^ (b'"' as u64 * LO)) | has_zero(w ^ (b'\\' as u64 * LO))) != 0
}

/// The bytes a JSON string cannot hold as they are: control characters, `"` and `\`.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Whether a byte must be escaped inside a JSON string.
#[inline]
pub fn needs_escape(b: u8) -> bool {
    NEEDS_ESCAPE[b as usize]
}

/// Appends `s` as a JSON string.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Skip clean runs eight bytes at a time, then look at single bytes up to the one to escape.
        if let Some(chunk) = bytes.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            if !word_needs_escape(u64::from_le_bytes(word)) {
                i += 8;
                continue;
            }
        }
        if !NEEDS_ESCAPE[bytes[i] as usize] {
            i += 1;
            continue;
        }
        let b = bytes[i];
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            // The other control characters (the table lets nothing else through): `\u00XX` below.
            _ => b"",
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]);
        } else {
            out.extend_from_slice(escape);
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn same_as_serde(v: &Value) {
        let mut ours = Vec::new();
        write_value(&mut ours, v);
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json::to_string(v).unwrap()
        );
    }

    #[test]
    fn output_is_byte_for_byte_what_serde_json_writes() {
        same_as_serde(
            &json!({"a": 1, "b": -2, "c": 1.5, "d": null, "e": [true, false, "x"], "f": {"g": "h"}}),
        );
        same_as_serde(&json!("plain text that is longer than eight bytes"));
        same_as_serde(&json!(
            "quote \" backslash \\ newline \n tab \t cr \r bell \u{7} nul \u{0} del \u{7f} é 😀 /"
        ));
        same_as_serde(&json!(u64::MAX));
        same_as_serde(&json!(i64::MIN));
        same_as_serde(&json!(1e300));
        for len in 0..40 {
            for pos in 0..len {
                for special in ['"', '\\', '\n', '\u{1}', 'é', '\u{1f}'] {
                    let mut s: String = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"
                        .chars()
                        .take(len)
                        .collect();
                    if pos < s.len() && s.is_char_boundary(pos) {
                        s.insert(pos, special);
                    }
                    same_as_serde(&Value::String(s));
                }
            }
        }
    }
}
