//! Typed rejections and warnings. Every rejection carries a stable code (DESIGN.md §5)
//! and the HTTP status it maps to; the JSON body is the same at the edge and the origin.

use std::fmt;

/// Stable error codes of the public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    BadKey,
    BadParam,
    TooLarge,
    UnsupportedLegacyFeature,
    BadSignature,
    Expired,
    /// The URL names a remote source (`https://…`) and no route allow-lists hosts.
    RemoteSourceDisabled,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadKey => "bad_key",
            ErrorCode::BadParam => "bad_param",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::UnsupportedLegacyFeature => "unsupported_legacy_feature",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::Expired => "expired",
            ErrorCode::RemoteSourceDisabled => "remote_source_disabled",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            ErrorCode::BadSignature | ErrorCode::Expired => 403,
            _ => 400,
        }
    }
}

/// A request the policy refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub code: ErrorCode,
    pub message: String,
}

impl PolicyError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        PolicyError { code, message: message.into() }
    }

    pub fn bad_param(name: &str, value: &str) -> Self {
        PolicyError::new(
            ErrorCode::BadParam,
            format!("invalid value for parameter `{name}`: {:?}", truncate(value, 64)),
        )
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The JSON error body of DESIGN.md §5.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(40 + self.message.len());
        out.push_str("{\"error\":{\"code\":\"");
        out.push_str(self.code.as_str());
        out.push_str("\",\"message\":");
        crate::json::push_str(&mut out, &self.message);
        out.push_str("}}");
        out
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for PolicyError {}

/// Why a request was accepted with changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WarningCode {
    /// An unknown parameter was dropped.
    DroppedParam,
    /// A well-formed value outside Pixgate's range was clamped into it.
    Clamped,
    /// A legacy feature was approximated.
    Lossy,
}

impl WarningCode {
    pub fn as_str(self) -> &'static str {
        match self {
            WarningCode::DroppedParam => "dropped_param",
            WarningCode::Clamped => "clamped",
            WarningCode::Lossy => "lossy",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub code: WarningCode,
    pub message: String,
}

impl Warning {
    pub fn new(code: WarningCode, message: impl Into<String>) -> Self {
        Warning { code, message: message.into() }
    }
}

/// Cuts untrusted text for messages without splitting a character.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
