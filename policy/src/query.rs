//! Splitting and percent-decoding of untrusted query strings.

use std::borrow::Cow;
use std::ops::Range;

/// One `name[=value]` pair, percent-decoded (lossily: invalid UTF-8 becomes U+FFFD, which
/// no grammar accepts, so the value is then rejected or dropped by name). Borrowed from
/// the query unless decoding or lowercasing had to change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair<'a> {
    pub name: Cow<'a, str>,
    pub value: Cow<'a, str>,
}

/// Splits `a=1&b=2` into decoded pairs, names lowercased. Empty segments (`a=1&&b=2`) are
/// skipped.
pub fn pairs(query: &[u8]) -> impl Iterator<Item = Pair<'_>> + Clone {
    // The usual query is plain UTF-8 without escapes: validate it once and borrow every
    // pair from it (the ranges end at ASCII delimiters, so they are char boundaries).
    let plain = std::str::from_utf8(query).ok().filter(|q| !q.contains('%'));
    ranges(query).map(move |(n, v)| match plain {
        Some(q) => Pair { name: lowercase(Cow::Borrowed(&q[n])), value: Cow::Borrowed(&q[v]) },
        None => Pair { name: decode_name(&query[n]), value: decode_lossy(&query[v]) },
    })
}

/// The `(name, value)` byte ranges of [`pairs`], not decoded.
pub fn raw_pairs(query: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> + Clone {
    ranges(query).map(|(n, v)| (&query[n], &query[v]))
}

/// Index ranges of the names and values of the non-empty `&`-separated segments.
fn ranges(query: &[u8]) -> impl Iterator<Item = (Range<usize>, Range<usize>)> + Clone + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        while start < query.len() {
            let end = query[start..].iter().position(|&b| b == b'&').map_or(query.len(), |p| start + p);
            let seg = start..end;
            start = end + 1;
            if seg.is_empty() {
                continue;
            }
            return Some(match query[seg.clone()].iter().position(|&b| b == b'=') {
                Some(i) => (seg.start..seg.start + i, seg.start + i + 1..seg.end),
                None => (seg.clone(), seg.end..seg.end),
            });
        }
        None
    })
}

/// A parameter name as [`pairs`] gives it: decoded, ASCII-lowercased.
pub fn decode_name(raw: &[u8]) -> Cow<'_, str> {
    lowercase(decode_lossy(raw))
}

fn lowercase(name: Cow<'_, str>) -> Cow<'_, str> {
    match name {
        Cow::Borrowed(n) if n.bytes().any(|b| b.is_ascii_uppercase()) => Cow::Owned(n.to_ascii_lowercase()),
        Cow::Owned(mut n) => {
            n.make_ascii_lowercase();
            Cow::Owned(n)
        }
        n => n,
    }
}

/// Percent-decodes once. A `%` not followed by two hex digits is kept literally.
pub fn decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%' && i + 2 < input.len() {
            if let (Some(h), Some(l)) = (hex(input[i + 1]), hex(input[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// [`decode`], borrowing `input` when it has no `%`.
pub fn decode_bytes(input: &[u8]) -> Cow<'_, [u8]> {
    if input.contains(&b'%') {
        Cow::Owned(decode(input))
    } else {
        Cow::Borrowed(input)
    }
}

/// [`decode`], then UTF-8 lossily; borrows `input` when there is nothing to change.
pub fn decode_lossy(input: &[u8]) -> Cow<'_, str> {
    if !input.contains(&b'%') {
        // `from_utf8` checks ASCII quickly; the lossy path only runs on bad bytes.
        return match std::str::from_utf8(input) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(input),
        };
    }
    match String::from_utf8(decode(input)) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits a request target into path and query (without the `?`).
pub fn split_target(target: &[u8]) -> (&[u8], &[u8]) {
    match target.iter().position(|&b| b == b'?') {
        Some(i) => (&target[..i], &target[i + 1..]),
        None => (target, &b""[..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes_once() {
        assert_eq!(decode(b"a%20b%252e"), b"a b%2e");
    }

    #[test]
    fn keeps_broken_escapes_literally() {
        assert_eq!(decode(b"%zz%4"), b"%zz%4");
        assert_eq!(decode(b"%"), b"%");
    }

    #[test]
    fn pairs_lowercase_names_and_keep_values() {
        let p: Vec<Pair> = pairs(b"Width=200&&crop&Q=8%30").collect();
        assert_eq!(
            p,
            vec![
                Pair { name: "width".into(), value: "200".into() },
                Pair { name: "crop".into(), value: "".into() },
                Pair { name: "q".into(), value: "80".into() },
            ]
        );
    }

    #[test]
    fn plain_and_escaped_queries_split_alike() {
        for q in [&b""[..], b"&", b"a", b"a=", b"=b", b"&&a=1&&", b"a=1=2&B=3", b"x=%41&Y=%zz&z", b"\xff=1&a=\xfe"] {
            let got: Vec<Pair> = pairs(q).collect();
            let want: Vec<Pair> = q
                .split(|&b| b == b'&')
                .filter(|s| !s.is_empty())
                .map(|seg| {
                    let (n, v) = match seg.iter().position(|&b| b == b'=') {
                        Some(i) => (&seg[..i], &seg[i + 1..]),
                        None => (seg, &b""[..]),
                    };
                    Pair { name: decode_lossy(n).to_ascii_lowercase().into(), value: decode_lossy(v) }
                })
                .collect();
            assert_eq!(got, want, "{}", String::from_utf8_lossy(q));
        }
    }

    #[test]
    fn splits_target() {
        assert_eq!(split_target(b"/a?b=1?c"), (&b"/a"[..], &b"b=1?c"[..]));
        assert_eq!(split_target(b"/a"), (&b"/a"[..], &b""[..]));
    }
}
