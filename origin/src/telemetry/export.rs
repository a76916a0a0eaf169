//! The trace exporter's HTTP client. The SDK's batch processor exports from a thread of
//! its own, outside the tokio runtime, so a blocking client fits it exactly: ureq (already
//! in the workspace) instead of reqwest's blocking client, which would start a second
//! runtime and bring its own dependency tree. Plain HTTP only: collectors run beside the
//! origin.

use std::time::Duration;

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};

/// Collector replies are tiny (an empty or partial-success message); anything longer is
/// cut, not buffered.
const MAX_REPLY_BYTES: u64 = 64 << 10;

#[derive(Debug)]
pub struct BlockingClient {
    agent: ureq::Agent,
}

impl BlockingClient {
    pub fn new(timeout: Duration) -> BlockingClient {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            // The exporter judges the status itself (retryable or not).
            .http_status_as_error(false)
            .build()
            .into();
        BlockingClient { agent }
    }
}

#[async_trait::async_trait]
impl HttpClient for BlockingClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (head, body) = request.into_parts();
        let mut reply = self.agent.run(Request::from_parts(head, body.as_ref()))?;
        let bytes = reply.body_mut().with_config().limit(MAX_REPLY_BYTES).read_to_vec()?;
        let (head, _) = reply.into_parts();
        Ok(Response::from_parts(head, Bytes::from(bytes)))
    }
}
