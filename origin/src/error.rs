//! Errors of every subsystem, and the one place where they become HTTP statuses and
//! stable codes (DESIGN.md §5). Bad input is never a 5xx.

use pixgate_policy::PolicyError;

use crate::admission::AdmissionError;
use crate::cache::CacheError;
use crate::config::ConfigError;
use crate::pipeline::TransformError;
use crate::store::StoreError;
use crate::upload::UploadError;

#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Transform(#[from] TransformError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Upload(#[from] UploadError),
    #[error(transparent)]
    Admission(#[from] AdmissionError),
    #[error("the request took longer than {0} ms")]
    RequestTimeout(u64),
    #[error("no original for this key")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
}

impl OriginError {
    /// HTTP status and stable code.
    pub fn status_and_code(&self) -> (u16, &'static str) {
        match self {
            OriginError::Policy(e) => (e.status(), e.code.as_str()),
            OriginError::NotFound => (404, "not_found"),
            OriginError::MethodNotAllowed => (405, "method_not_allowed"),
            OriginError::Transform(e) => match e {
                TransformError::Unsupported(_) => (415, "unsupported_media_type"),
                TransformError::Corrupt(_) => (422, "corrupt_image"),
                TransformError::TooLarge(_) => (413, "payload_too_large"),
                TransformError::OutputTooLarge(_) => (400, "too_large"),
                TransformError::Encode(_) => (500, "internal"),
            },
            OriginError::Store(e) => match e {
                StoreError::Unavailable(_) => (503, "store_unavailable"),
                StoreError::Backend(_) => (502, "store_unavailable"),
                StoreError::Timeout => (504, "store_timeout"),
            },
            // Cache failures are absorbed (a miss), so reaching a client means a bug.
            OriginError::Cache(_) => (500, "internal"),
            OriginError::Config(_) => (500, "internal"),
            OriginError::Upload(e) => match e {
                UploadError::Unauthorized => (401, "unauthorized"),
                UploadError::Forbidden => (403, "forbidden"),
                UploadError::TooLarge(_) => (413, "payload_too_large"),
                UploadError::BadDigest(_) | UploadError::MalformedChecksum(_) => (400, "bad_digest"),
                UploadError::Body(_) => (400, "bad_request"),
            },
            OriginError::Admission(e) => match e {
                AdmissionError::QueueFull | AdmissionError::QueueTimeout | AdmissionError::TimedOut => {
                    (503, "overloaded")
                }
                AdmissionError::Crashed(_) => (500, "internal"),
            },
            OriginError::RequestTimeout(_) => (503, "overloaded"),
        }
    }

    /// The `pixgate_rejected_total{reason}` label when this error refuses the client's
    /// input (a missing original is an answer, not a rejection; shedding is counted where
    /// it happens).
    pub fn rejected_reason(&self) -> Option<&'static str> {
        match self {
            OriginError::NotFound => None,
            OriginError::Upload(UploadError::Unauthorized | UploadError::Forbidden) => Some("auth"),
            e => match e.status_and_code() {
                (400..=499, code) => Some(code),
                _ => None,
            },
        }
    }

    /// 503s are worth retrying: say when.
    pub fn retry_after(&self) -> bool {
        self.status_and_code().0 == 503
    }

    /// The JSON error body of DESIGN.md §5.
    pub fn to_json(&self) -> String {
        let (_, code) = self.status_and_code();
        let message = match self {
            OriginError::Policy(e) => e.message.clone(),
            other => other.to_string(),
        };
        serde_json::json!({"error": {"code": code, "message": message}}).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pixgate_policy::ErrorCode;

    #[test]
    fn bad_input_is_never_a_server_error() {
        let input_errors: Vec<OriginError> = vec![
            PolicyError::new(ErrorCode::BadParam, "w").into(),
            PolicyError::new(ErrorCode::BadKey, "k").into(),
            TransformError::Unsupported("x".into()).into(),
            TransformError::Corrupt("x".into()).into(),
            TransformError::TooLarge("x".into()).into(),
            TransformError::OutputTooLarge("x".into()).into(),
            UploadError::Unauthorized.into(),
            UploadError::Forbidden.into(),
            UploadError::TooLarge(1).into(),
            UploadError::BadDigest("Content-MD5").into(),
            UploadError::MalformedChecksum("Content-MD5").into(),
            OriginError::NotFound,
        ];
        for e in input_errors {
            let (status, code) = e.status_and_code();
            assert!((400..500).contains(&status), "{e}: {status}");
            let body: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
            assert_eq!(body["error"]["code"], code);
        }
    }

    #[test]
    fn dependency_failures_map_to_503_and_504() {
        assert_eq!(OriginError::from(StoreError::Timeout).status_and_code(), (504, "store_timeout"));
        let unavailable = OriginError::from(StoreError::Unavailable("refused".into()));
        assert_eq!(unavailable.status_and_code(), (503, "store_unavailable"));
        assert!(unavailable.retry_after());
        assert_eq!(OriginError::from(AdmissionError::QueueFull).status_and_code(), (503, "overloaded"));
    }
}
