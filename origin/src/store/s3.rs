//! Originals and variants in an S3 bucket: `<prefix>originals/<key>` and
//! `<prefix>variants/<name>`. An S3 PUT is atomic per object, and the object's ETag is
//! its version.
//!
//! The SDK runs without its default HTTPS stack: hyper 1 with rustls on ring, so the
//! build needs no C toolchain beyond ring's.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Credentials, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use bytes::Bytes;

use super::{Object, Put, Store, StoreError, StoreFuture};
use crate::config::S3Config;

pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3Store {
    /// Builds the client; `operation_timeout` bounds each call, retries included.
    pub async fn new(cfg: &S3Config, operation_timeout: Duration) -> S3Store {
        let http =
            aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
            .operation_timeout(operation_timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .region(Region::new(cfg.region.clone()))
            .timeout_config(timeouts.clone())
            .retry_config(RetryConfig::standard().with_max_attempts(cfg.max_attempts));
        if !cfg.access_key_id.is_empty() {
            loader = loader.credentials_provider(Credentials::new(
                &cfg.access_key_id,
                &cfg.secret_access_key,
                None,
                None,
                "pixgate-config",
            ));
        }
        let shared = loader.load().await;
        let mut b = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(cfg.path_style)
            // Checksums only where S3 requires them: S3-compatible servers differ in
            // what they accept, and uploads are already verified by the origin.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if !cfg.endpoint.is_empty() {
            b = b.endpoint_url(&cfg.endpoint);
        }
        S3Store {
            client: aws_sdk_s3::Client::from_conf(b.build()),
            bucket: cfg.bucket.clone(),
            prefix: cfg.prefix.clone(),
        }
    }

    /// The client, for tests and tools that set up buckets.
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    fn original(&self, key: &str) -> String {
        format!("{}originals/{key}", self.prefix)
    }

    fn variant(&self, name: &str) -> String {
        format!("{}variants/{name}", self.prefix)
    }

    async fn head(&self, object: &str) -> Result<Option<String>, StoreError> {
        match self.client.head_object().bucket(&self.bucket).key(object).send().await {
            Ok(r) => Ok(Some(r.e_tag().unwrap_or_default().to_owned())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }

    async fn get(&self, object: &str) -> Result<Option<Object>, StoreError> {
        let resp = match self.client.get_object().bucket(&self.bucket).key(object).send().await {
            Ok(r) => r,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(classify(e)),
        };
        let version = resp.e_tag().unwrap_or_default().to_owned();
        let bytes = resp.body.collect().await.map_err(|e| StoreError::Backend(e.to_string()))?.into_bytes();
        Ok(Some(Object { bytes, version }))
    }

    async fn put(&self, object: &str, bytes: Bytes) -> Result<String, StoreError> {
        let r = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(object)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(classify)?;
        Ok(r.e_tag().unwrap_or_default().to_owned())
    }
}

fn is_not_found<E>(e: &SdkError<E, HttpResponse>) -> bool {
    matches!(e, SdkError::ServiceError(se) if se.raw().status().as_u16() == 404)
}

/// Connection problems are `Unavailable` (503), timeouts `Timeout` (504), anything the
/// store answered `Backend` (502).
fn classify<E>(e: SdkError<E, HttpResponse>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    match &e {
        SdkError::TimeoutError(_) => StoreError::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => StoreError::Timeout,
        SdkError::DispatchFailure(_) => StoreError::Unavailable(DisplayErrorContext(&e).to_string()),
        _ => StoreError::Backend(DisplayErrorContext(&e).to_string()),
    }
}

impl Store for S3Store {
    fn backend(&self) -> &'static str {
        "s3"
    }

    fn head_original<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move { self.head(&self.original(key)).await })
    }

    fn get_original<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Object>> {
        Box::pin(async move { self.get(&self.original(key)).await })
    }

    fn put_original<'a>(&'a self, key: &'a str, bytes: Bytes) -> StoreFuture<'a, Put> {
        Box::pin(async move {
            let object = self.original(key);
            let existed = self.head(&object).await?.is_some();
            let version = self.put(&object, bytes).await?;
            Ok(Put { created: !existed, version })
        })
    }

    fn delete_original<'a>(&'a self, key: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let object = self.original(key);
            if self.head(&object).await?.is_none() {
                return Ok(false);
            }
            self.client.delete_object().bucket(&self.bucket).key(&object).send().await.map_err(classify)?;
            Ok(true)
        })
    }

    fn get_variant<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<Bytes>> {
        Box::pin(async move { Ok(self.get(&self.variant(name)).await?.map(|o| o.bytes)) })
    }

    fn put_variant<'a>(&'a self, name: &'a str, bytes: Bytes) -> StoreFuture<'a, ()> {
        Box::pin(async move { self.put(&self.variant(name), bytes).await.map(|_| ()) })
    }

    fn check(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.client.head_bucket().bucket(&self.bucket).send().await.map_err(classify)?;
            Ok(())
        })
    }
}
