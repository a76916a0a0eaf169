//! Legacy URL dialects. Each translator turns its grammar into a canonical [`Variant`]
//! plus typed warnings; the key is validated by [`crate::key`] on the way.

pub mod generic;

use serde::Deserialize;

use crate::error::{PolicyError, Warning};
use crate::variant::Variant;

/// The dialect names of DESIGN.md §9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Generic,
    Imgix,
    Fastly,
    Imageresizer,
    Qiniu,
    Aliyun,
    Tencent,
    Thumbor,
    Cloudflare,
}

impl Dialect {
    pub const ALL: [Dialect; 9] = [
        Dialect::Generic,
        Dialect::Imgix,
        Dialect::Fastly,
        Dialect::Imageresizer,
        Dialect::Qiniu,
        Dialect::Aliyun,
        Dialect::Tencent,
        Dialect::Thumbor,
        Dialect::Cloudflare,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Generic => "generic",
            Dialect::Imgix => "imgix",
            Dialect::Fastly => "fastly",
            Dialect::Imageresizer => "imageresizer",
            Dialect::Qiniu => "qiniu",
            Dialect::Aliyun => "aliyun",
            Dialect::Tencent => "tencent",
            Dialect::Thumbor => "thumbor",
            Dialect::Cloudflare => "cloudflare",
        }
    }

    pub fn parse(s: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// What a translator produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    /// The decoded, validated object key (before the route's key prefix).
    pub key: String,
    pub variant: Variant,
    pub warnings: Vec<Warning>,
    /// A signature carried by the URL, stripped from the canonical form.
    pub signature: Option<String>,
    /// `exp` of a signed URL, in unix seconds.
    pub expires: Option<u64>,
}

/// Picks the dialect from the URL's shape (DESIGN.md §9) when the route does not name one.
pub fn sniff(_path: &[u8], _query: &[u8]) -> Dialect {
    Dialect::Generic
}

/// Translates `path` (the part after the route prefix, still percent-encoded) and `query`.
pub fn translate(dialect: Dialect, path: &[u8], query: &[u8]) -> Result<Translated, PolicyError> {
    // The generic grammar is a superset of the canonical one; the vendor grammars are
    // added dialect by dialect and, until then, read through it.
    let _ = dialect;
    generic::translate(path, query)
}
