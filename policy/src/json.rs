//! Just enough JSON for the plugin configuration (reading) and the explain and error
//! bodies (writing). A general JSON library (and the float formatting and parsing it
//! carries) was most of the filter's code size for these few fixed shapes.

/// A cursor over a JSON document. Errors say what was expected and where, like
/// `invalid type: null, expected a boolean at line 1 column 21`.
pub(crate) struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

/// What a value is, for "invalid type" errors.
fn kind(c: u8) -> &'static str {
    match c {
        b'n' => "null",
        b't' | b'f' => "boolean",
        b'"' => "string",
        b'[' => "sequence",
        b'{' => "map",
        b'-' | b'0'..=b'9' => "number",
        _ => "value",
    }
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Reader { b, i: 0 }
    }

    /// `msg` with the position of the byte last looked at.
    pub fn err(&self, msg: &str) -> String {
        let at = self.i.min(self.b.len());
        let before = &self.b[..at];
        let line = 1 + before.iter().filter(|&&c| c == b'\n').count();
        let col = at - before.iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
        format!("{msg} at line {line} column {col}")
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// The next significant byte, not consumed.
    pub fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// The document ends here (only whitespace follows).
    pub fn end(&mut self) -> Result<(), String> {
        match self.peek() {
            None => Ok(()),
            Some(_) => {
                self.i += 1;
                Err(self.err("trailing characters"))
            }
        }
    }

    fn invalid(&mut self, expected: &str) -> String {
        let k = self.peek().map_or("EOF", kind);
        if k == "value" || k == "EOF" {
            self.i += 1;
            return self.err(if k == "EOF" { "EOF while parsing a value" } else { "expected value" });
        }
        self.i += 1;
        self.err(&format!("invalid type: {k}, expected {expected}"))
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), String> {
        let rest = &self.b[self.i..];
        if rest.starts_with(word) {
            self.i += word.len();
            return Ok(());
        }
        // Point at the first byte that differs.
        let same = rest.iter().zip(word).take_while(|(a, b)| a == b).count();
        self.i += same + 1;
        Err(self.err(if same == rest.len() { "EOF while parsing a value" } else { "expected ident" }))
    }

    /// Consumes `null` when it is next; `Option` fields accept it as absent.
    pub fn null(&mut self) -> Result<bool, String> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    pub fn boolean(&mut self) -> Result<bool, String> {
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|()| true),
            Some(b'f') => self.literal(b"false").map(|()| false),
            _ => Err(self.invalid("a boolean")),
        }
    }

    pub fn string(&mut self) -> Result<String, String> {
        if self.peek() != Some(b'"') {
            return Err(self.invalid("a string"));
        }
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return Err(self.err("EOF while parsing a string"));
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => self.escape(&mut out)?,
                0..=0x1f => return Err(self.err("control character (\\u0000-\\u001F) found while parsing a string")),
                _ => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.err("invalid unicode code point"))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut v = 0;
        for _ in 0..4 {
            let Some(&c) = self.b.get(self.i) else {
                return Err(self.err("EOF while parsing a string"));
            };
            self.i += 1;
            let d = (c as char).to_digit(16).ok_or_else(|| self.err("invalid escape"))?;
            v = v * 16 + d;
        }
        Ok(v)
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        let Some(&c) = self.b.get(self.i) else {
            return Err(self.err("EOF while parsing a string"));
        };
        self.i += 1;
        let ch = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\x08',
            b'f' => '\x0c',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                let cp = match hi {
                    0xdc00..=0xdfff => return Err(self.err("lone leading surrogate in hex escape")),
                    0xd800..=0xdbff => {
                        if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                            return Err(self.err("unexpected end of hex escape"));
                        }
                        self.i += 2;
                        let lo = self.hex4()?;
                        if !(0xdc00..=0xdfff).contains(&lo) {
                            return Err(self.err("lone leading surrogate in hex escape"));
                        }
                        0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                    }
                    _ => hi,
                };
                char::from_u32(cp).ok_or_else(|| self.err("invalid unicode code point"))?
            }
            _ => return Err(self.err("invalid escape")),
        };
        let mut buf = [0; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }

    /// An array of `item`s.
    pub fn seq<T>(&mut self, mut item: impl FnMut(&mut Self) -> Result<T, String>) -> Result<Vec<T>, String> {
        if !self.eat(b'[') {
            return Err(self.invalid("a sequence"));
        }
        let mut out = Vec::new();
        if self.eat(b']') {
            return Ok(out);
        }
        loop {
            out.push(item(self)?);
            if self.eat(b']') {
                return Ok(out);
            }
            if !self.eat(b',') {
                self.i += 1;
                return Err(self.err("expected `,` or `]`"));
            }
            if self.peek() == Some(b']') {
                self.i += 1;
                return Err(self.err("trailing comma"));
            }
        }
    }

    /// A struct with `fields`, as an object (unknown and repeated names are errors) or,
    /// as serde reads structs, an array of field values in declaration order. `field`
    /// reads the value of field number `i`. (`dyn`: one copy of this for every struct.)
    pub fn structure(
        &mut self,
        name: &str,
        fields: &[&str],
        field: &mut dyn FnMut(&mut Self, usize) -> Result<(), String>,
    ) -> Result<(), String> {
        match self.peek() {
            Some(b'{') => {}
            Some(b'[') => {
                let mut i = 0;
                self.seq(|r| {
                    if i >= fields.len() {
                        return Err(r.err(&format!("invalid length {}, expected fewer elements in array", i + 1)));
                    }
                    i += 1;
                    field(r, i - 1)
                })?;
                return Ok(());
            }
            _ => return Err(self.invalid(&format!("struct {name}"))),
        }
        self.i += 1;
        if self.eat(b'}') {
            return Ok(());
        }
        let mut seen = 0u32;
        loop {
            if self.peek() != Some(b'"') {
                self.i += 1;
                return Err(self.err("key must be a string"));
            }
            let key = self.string()?;
            let Some(i) = fields.iter().position(|f| *f == key) else {
                let expected = match fields {
                    [one] => format!("`{one}`"),
                    [a, b] => format!("`{a}` or `{b}`"),
                    _ => format!("one of `{}`", fields.join("`, `")),
                };
                return Err(self.err(&format!("unknown field `{key}`, expected {expected}")));
            };
            if seen & (1 << i) != 0 {
                return Err(self.err(&format!("duplicate field `{key}`")));
            }
            seen |= 1 << i;
            if !self.eat(b':') {
                self.i += 1;
                return Err(self.err("expected `:`"));
            }
            field(self, i)?;
            if self.eat(b'}') {
                return Ok(());
            }
            if !self.eat(b',') {
                self.i += 1;
                return Err(self.err("expected `,` or `}`"));
            }
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Err(self.err("trailing comma"));
            }
        }
    }

    /// A unit enum variant: `"name"`, or serde's externally tagged `{"name": null}`.
    pub fn variant<T>(&mut self, names: &[&str], of: impl Fn(&str) -> Option<T>) -> Result<T, String> {
        let tagged = self.eat(b'{');
        let s = self.string()?;
        let v = of(&s).ok_or_else(|| {
            let expected = match names {
                [a, b] => format!("`{a}` or `{b}`"),
                _ => format!("one of `{}`", names.join("`, `")),
            };
            self.err(&format!("unknown variant `{s}`, expected {expected}"))
        })?;
        if tagged {
            if !self.eat(b':') {
                self.i += 1;
                return Err(self.err("expected `:`"));
            }
            if !self.null()? {
                return Err(self.invalid("unit variant"));
            }
            if !self.eat(b'}') {
                self.i += 1;
                return Err(self.err("expected `}`"));
            }
        }
        Ok(v)
    }
}

/// Appends `s` as a JSON string literal, escaped as serde_json does (control characters,
/// `"` and `\`; everything else, non-ASCII included, as is).
pub(crate) fn push_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends `"key":` (keys are fixed ASCII names that need no escaping).
pub(crate) fn push_key(out: &mut String, key: &str) {
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_like_serde_json() {
        for s in ["plain", "a\"b\\c", "tab\there\nnl\r\x08\x0c\x01\x1f\x7f", "café 😀 /"] {
            let mut out = String::new();
            push_str(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn strings_read_escapes_and_surrogate_pairs() {
        let mut r = Reader::new(br#""a\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00""#);
        assert_eq!(r.string().unwrap(), "a\"\\/\x08\x0c\n\r\tAé😀");
        for bad in [&br#""\ud83d""#[..], br#""\ude00""#, br#""\x""#, b"\"a\tb\"", b"\"\xff\"", b"\"abc"] {
            assert!(Reader::new(bad).string().is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
