//! Checking that a line is one JSON object and locating its top-level members, in one pass.
//!
//! Written here rather than taken from a crate because it is the hot path of shipping JSON logs and no JSON
//! crate offers "validate, and tell me where each top-level member is" cheaply: serde_json can (a visitor
//! borrowing keys and `RawValue`s) but its generic machinery was 40 % of the cost of reading a JSON line.
//! This scanner is deliberately strict: whatever it accepts, serde_json accepts too with the same members
//! (tested against serde_json on generated lines); anything unusual (escaped keys, `\u` surrogates,
//! exponents, numbers of more than 308 digits, deep nesting) is refused so that the full serde_json decode
//! decides.

use super::raw::Member;
use std::ops::Range;

/// The deepest nesting the scanner follows (serde_json's own limit is 128).
const MAX_DEPTH: usize = 100;

/// The most digits before the decimal point the scanner accepts: any such number is below 1e308, within
/// the f64 range (serde_json reads integers beyond 64 bits as f64 and refuses what overflows it).
const MAX_INTEGER_DIGITS: usize = 308;

/// What the scan found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Scan {
    /// A valid object with plain keys: each member's key (inside its quotes) and value.
    Members(Vec<Member>),
    /// Leave it to the full decode: valid or not, it is not a plain object line.
    NotPlain,
    /// Not valid JSON.
    Invalid,
}

/// Why scanning stopped early.
enum Stop {
    NotPlain,
    Invalid,
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn expect(&mut self, c: u8) -> Result<(), Stop> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Stop::Invalid)
        }
    }

    /// A string starting at the opening quote; returns whether it had escapes. Ends after the closing quote.
    fn string(&mut self) -> Result<bool, Stop> {
        self.expect(b'"')?;
        let mut escaped = false;
        loop {
            // Skip plain bytes eight at a time.
            while let Some(chunk) = self.b.get(self.i..self.i + 8) {
                let mut w = [0u8; 8];
                w.copy_from_slice(chunk);
                if crate::util::json_write::word_needs_escape(u64::from_le_bytes(w)) {
                    break;
                }
                self.i += 8;
            }
            let c = self.peek().ok_or(Stop::Invalid)?;
            self.i += 1;
            match c {
                b'"' => return Ok(escaped),
                b'\\' => {
                    escaped = true;
                    match self.peek().ok_or(Stop::Invalid)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                        b'u' => {
                            let hex = self.b.get(self.i + 1..self.i + 5).ok_or(Stop::Invalid)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(Stop::Invalid);
                            }
                            // Surrogates must pair up: leave their rules to serde_json.
                            if matches!(hex[0], b'd' | b'D')
                                && matches!(hex[1], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
                            {
                                return Err(Stop::NotPlain);
                            }
                            self.i += 5;
                        }
                        _ => return Err(Stop::Invalid),
                    }
                }
                0..=0x1f => return Err(Stop::Invalid),
                _ => {}
            }
        }
    }

    /// A number; exponents are left to serde_json (it refuses values beyond f64).
    fn number(&mut self) -> Result<(), Stop> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                let start = self.i;
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
                // Beyond 308 digits a number may not fit an f64, which serde_json refuses.
                if self.i - start > MAX_INTEGER_DIGITS {
                    return Err(Stop::NotPlain);
                }
            }
            _ => return Err(Stop::Invalid),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(Stop::Invalid);
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            return Err(Stop::NotPlain);
        }
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Stop> {
        if self.b.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Stop::Invalid)
        }
    }

    /// The items of an object or an array, after its opening byte and up to its `close` byte included;
    /// `item` reads one item.
    fn items(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Result<(), Stop>,
    ) -> Result<(), Stop> {
        self.ws();
        if self.peek() == Some(close) {
            self.i += 1;
            return Ok(());
        }
        loop {
            item(self)?;
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                }
                Some(c) if c == close => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Stop::Invalid),
            }
        }
    }

    /// An object member's key and the colon after it: the key's range (inside its quotes) and whether it
    /// had escapes.
    fn key(&mut self) -> Result<(Range<u32>, bool), Stop> {
        let start = self.i + 1;
        let escaped = self.string()?;
        let key = start as u32..(self.i - 1) as u32;
        self.ws();
        self.expect(b':')?;
        self.ws();
        Ok((key, escaped))
    }

    fn value(&mut self, depth: usize) -> Result<(), Stop> {
        match self.peek().ok_or(Stop::Invalid)? {
            b'"' => self.string().map(|_| ()),
            open @ (b'{' | b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(Stop::NotPlain);
                }
                self.i += 1;
                if open == b'{' {
                    self.items(b'}', |c| {
                        c.key()?;
                        c.value(depth + 1)
                    })
                } else {
                    self.items(b']', |c| c.value(depth + 1))
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(Stop::Invalid),
        }
    }

    fn object(&mut self, max_members: usize) -> Result<Vec<Member>, Stop> {
        self.ws();
        self.expect(b'{')?;
        let mut members = Vec::with_capacity(16);
        self.items(b'}', |c| {
            let (key, escaped) = c.key()?;
            if escaped || members.len() == max_members {
                return Err(Stop::NotPlain);
            }
            let value_start = c.i;
            c.value(1)?;
            members.push(Member {
                key,
                value: value_start as u32..c.i as u32,
                collides: false,
            });
            Ok(())
        })?;
        self.ws();
        if self.i != self.b.len() {
            return Err(Stop::Invalid);
        }
        Ok(members)
    }
}

/// Scans `text` (valid UTF-8, shorter than 2 GiB) as one JSON object of at most `max_members` members.
pub(super) fn scan(text: &str, max_members: usize) -> Scan {
    let mut c = Cursor {
        b: text.as_bytes(),
        i: 0,
    };
    match c.object(max_members) {
        Ok(m) => Scan::Members(m),
        Err(Stop::NotPlain) => Scan::NotPlain,
        Err(Stop::Invalid) => Scan::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    /// Whatever the scanner accepts, serde_json accepts with the same members.
    fn agrees_with_serde(text: &str) -> Result<(), TestCaseError> {
        let ours = scan(text, 64);
        let theirs = serde_json::from_str::<Value>(text);
        match ours {
            Scan::Members(members) => {
                let Ok(Value::Object(map)) = theirs else {
                    return Err(TestCaseError::fail(format!(
                        "accepted {text:?}: {theirs:?}"
                    )));
                };
                let keys: Vec<&str> = members
                    .iter()
                    .map(|m| &text[m.key.start as usize..m.key.end as usize])
                    .collect();
                let unique: std::collections::HashSet<&str> = keys.iter().copied().collect();
                if unique.len() != keys.len() {
                    // Duplicate keys: serde_json keeps the last; the caller refuses such lines.
                    return Ok(());
                }
                prop_assert_eq!(members.len(), map.len(), "{}", text);
                for (m, (mk, mv)) in members.iter().zip(&map) {
                    let (k, v) = (&m.key, &m.value);
                    let key = &text[k.start as usize..k.end as usize];
                    prop_assert_eq!(key, mk.as_str());
                    let value: Value =
                        serde_json::from_str(&text[v.start as usize..v.end as usize])
                            .map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
                    prop_assert_eq!(&value, mv);
                }
            }
            Scan::Invalid => prop_assert!(theirs.is_err(), "refused valid {:?}", text),
            Scan::NotPlain => {}
        }
        Ok(())
    }

    #[test]
    fn known_lines() {
        let ok = |s: &str| matches!(scan(s, 64), Scan::Members(_));
        assert!(ok(
            r#"{"a":1,"b":-0.5,"c":"x\"\u00e9\n","d":[true,false,null,{}],"e":{"f":[]}}"#
        ));
        assert!(ok(" { } "));
        for bad in [
            "",
            "{",
            "}",
            "[]",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":-}"#,
            r#"{"a":tru}"#,
            r#"{"a":"x}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12G4"}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":1} {}"#,
            r#"{a:1}"#,
            r#"{"a":1 "b":2}"#,
        ] {
            assert_eq!(scan(bad, 64), Scan::Invalid, "{bad}");
            assert!(
                serde_json::from_str::<Value>(bad).map_or(true, |v| !v.is_object()),
                "{bad}"
            );
        }
        for unusual in [
            r#"{"a\n":1}"#,
            r#"{"a":1e5}"#,
            r#"{"a":"\ud83d\ude00"}"#,
            r#"{"a":1,"b":2,"c":3}"#,
        ] {
            let limit = if unusual.contains("\"c\"") { 2 } else { 64 };
            assert_eq!(scan(unusual, limit), Scan::NotPlain, "{unusual}");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(150), "]".repeat(150));
        assert_eq!(scan(&deep, 64), Scan::NotPlain);
        // An integer too large for an f64 is refused by serde_json ("number out of range"): the scanner
        // must not take it for a plain line, or the event's fields would read as an empty map.
        let huge = |digits: usize| format!("{{\"a\":-1{}.5,\"b\":1}}", "0".repeat(digits - 1));
        assert!(serde_json::from_str::<Value>(&huge(400)).is_err());
        assert_eq!(scan(&huge(400), 64), Scan::NotPlain);
        assert_eq!(scan(&huge(309), 64), Scan::NotPlain);
        assert!(serde_json::from_str::<Value>(&huge(308)).is_ok());
        assert!(matches!(scan(&huge(308), 64), Scan::Members(_)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Generated JSON objects, then the same text cut or with one byte changed.
        #[test]
        fn agrees_with_serde_json(
            v in proptest::collection::vec(
                ("[a-z@._ ]{0,6}", prop_oneof![
                    any::<i64>().prop_map(Value::from),
                    any::<f64>().prop_map(Value::from),
                    "\\PC{0,12}".prop_map(Value::from),
                    any::<bool>().prop_map(Value::from),
                    Just(Value::Null),
                    proptest::collection::vec(any::<u8>().prop_map(Value::from), 0..3).prop_map(Value::from),
                ]),
                0..8,
            ),
            cut in any::<proptest::sample::Index>(),
            flip in any::<proptest::sample::Index>(),
            byte in prop_oneof![Just(b'"'), Just(b'\\'), Just(b','), Just(b'}'), Just(b'e'), Just(b' '), Just(b'0'), Just(b'-'), Just(b'.')],
        ) {
            let map: serde_json::Map<String, Value> = v.into_iter().collect();
            let text = Value::Object(map).to_string();
            agrees_with_serde(&text)?;
            let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&text).unwrap()).unwrap();
            agrees_with_serde(&pretty)?;
            let at = cut.index(text.len() + 1);
            if text.is_char_boundary(at) {
                agrees_with_serde(&text[..at])?;
            }
            let at = flip.index(text.len());
            if text.is_char_boundary(at) && text.is_char_boundary(at + 1) {
                let mut changed = text.clone();
                changed.replace_range(at..at + 1, &(byte as char).to_string());
                agrees_with_serde(&changed)?;
            }
        }
    }
}
