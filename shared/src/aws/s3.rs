//! `ObjectStore` on S3: presigned PUT and GET (signed locally, no request), HeadObject,
//! DeleteObjectTagging, DeleteObject.
//!
//! The upload URL signs `content-type`, `content-length` and `x-amz-tagging: pending=true`: S3
//! refuses a PUT whose body has another length (the signature no longer matches), and the
//! bucket's lifecycle rule deletes objects still tagged `pending` a day after upload, i.e. those
//! never sent in a message. A send checks the real size with HeadObject anyway (an endpoint that
//! does not check signatures, like moto, accepts any body).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::presigning::PresigningConfig;

use crate::error::{ChatError, Result};
use crate::ports::{ObjectStore, Presigned};

/// The tag every upload carries until a message claims it (template.yaml's lifecycle rule).
pub const PENDING_TAG: &str = "pending=true";

pub struct S3Objects {
    client: Client,
    bucket: String,
}

impl S3Objects {
    /// Path-style addressing when an endpoint is configured (moto, LocalStack: the bucket is not
    /// a DNS name there), virtual-hosted on AWS. Checksums only where S3 requires them: a
    /// presigned PUT must not sign a checksum of a body it has not seen.
    pub fn new(sdk: &aws_config::SdkConfig, bucket: String) -> Self {
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .build();
        Self { client: Client::from_conf(config), bucket }
    }
}

fn presigning(expires_secs: u64) -> Result<PresigningConfig> {
    PresigningConfig::expires_in(Duration::from_secs(expires_secs)).map_err(ChatError::internal)
}

/// `attachment; filename="…"` with an ASCII fallback and the UTF-8 name (RFC 6266).
fn content_disposition(file_name: &str) -> String {
    let ascii: String = file_name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{}", urlencoding::encode(file_name))
}

#[async_trait]
impl ObjectStore for S3Objects {
    async fn presign_put(&self, key: &str, content_type: &str, size: u64, expires_secs: u64) -> Result<Presigned> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size as i64)
            .tagging(PENDING_TAG);
        // Signing is local; only resolving the credentials may wait (once, then cached).
        let presigned = request
            .presigned(presigning(expires_secs)?)
            .await
            .map_err(|e| ChatError::internal(aws_sdk_s3::error::DisplayErrorContext(e)))?;
        let headers = presigned
            .headers()
            // Clients set Host and Content-Length themselves (browsers may not set either).
            .filter(|(name, _)| !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length"))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_string()))
            .collect();
        Ok(Presigned { url: presigned.uri().to_string(), headers })
    }

    async fn presign_get(&self, key: &str, file_name: &str, expires_secs: u64) -> Result<String> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(content_disposition(file_name));
        let presigned = request
            .presigned(presigning(expires_secs)?)
            .await
            .map_err(|e| ChatError::internal(aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(presigned.uri().to_string())
    }

    async fn object_size(&self, key: &str) -> Result<Option<u64>> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => Ok(Some(out.content_length.unwrap_or(0).max(0) as u64)),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(e) => Err(ChatError::internal(aws_sdk_s3::error::DisplayErrorContext(e))),
        }
    }

    async fn keep(&self, key: &str) -> Result<()> {
        self.client
            .delete_object_tagging()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| ChatError::internal(aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    async fn delete_object(&self, key: &str) -> Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| ChatError::internal(aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline() -> S3Objects {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:4566")
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
                aws_sdk_s3::config::Credentials::new("k", "s", None, None, "test"),
            ))
            .build();
        S3Objects::new(&sdk, "bucket".into())
    }

    #[tokio::test]
    async fn upload_urls_sign_the_length_the_type_and_the_tag() {
        let p = offline().presign_put("a/X", "text/plain", 42, 300).await.unwrap();
        assert!(p.url.starts_with("http://127.0.0.1:4566/bucket/a/X?"), "path style locally: {}", p.url);
        let signed = p.url.split("X-Amz-SignedHeaders=").nth(1).unwrap().split('&').next().unwrap();
        let signed = urlencoding::decode(signed).unwrap();
        for header in ["content-length", "content-type", "host", "x-amz-tagging"] {
            assert!(signed.split(';').any(|h| h == header), "{header} not signed: {signed}");
        }
        assert!(!p.url.contains("x-amz-checksum"), "no checksum of an unseen body: {}", p.url);
        assert!(p.headers.contains(&("content-type".into(), "text/plain".into())), "{:?}", p.headers);
        assert!(p.headers.contains(&("x-amz-tagging".into(), PENDING_TAG.into())), "{:?}", p.headers);
        assert!(p.url.contains("X-Amz-Expires=300"), "{}", p.url);
    }

    #[tokio::test]
    async fn download_names_survive_quotes_and_unicode() {
        assert_eq!(
            content_disposition("a \"b\".txt"),
            "attachment; filename=\"a _b_.txt\"; filename*=UTF-8''a%20%22b%22.txt"
        );
        assert!(content_disposition("café.png").contains("caf%C3%A9.png"));
        assert!(offline().presign_get("a/X", "n.txt", 60).await.unwrap().contains("response-content-disposition="));
    }
}
