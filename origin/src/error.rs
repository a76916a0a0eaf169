//! Errors of every subsystem, and the one place where they become HTTP statuses.

use pixgate_policy::PolicyError;

use crate::pipeline::TransformError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Transform(#[from] TransformError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no original for this key")]
    NotFound,
}

impl OriginError {
    /// HTTP status and stable code (DESIGN.md §5). Bad input is never a 5xx.
    pub fn status_and_code(&self) -> (u16, &'static str) {
        match self {
            OriginError::Policy(e) => (e.status(), e.code.as_str()),
            OriginError::NotFound => (404, "not_found"),
            OriginError::Transform(e) => match e {
                TransformError::Unsupported(_) => (415, "unsupported_media_type"),
                TransformError::Corrupt(_) => (422, "corrupt_image"),
                TransformError::TooLarge(_) => (413, "payload_too_large"),
                TransformError::Encode(_) => (500, "internal"),
            },
            OriginError::Store(e) => match e {
                StoreError::Timeout => (504, "store_timeout"),
                StoreError::Io(_) => (502, "store_unavailable"),
            },
        }
    }

    /// The JSON error body of DESIGN.md §5.
    pub fn to_json(&self) -> String {
        let (_, code) = self.status_and_code();
        serde_json::json!({"error": {"code": code, "message": self.to_string()}}).to_string()
    }
}
