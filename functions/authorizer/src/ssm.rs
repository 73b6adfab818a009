//! SSM `GetParameter` (with decryption) without the SDK: one POST in the AWS JSON 1.1 protocol
//! (`X-Amz-Target: AmazonSSM.GetParameter`), signed with SigV4 by `aws-sigv4` (the SDK's own
//! signer) with the credentials Lambda puts in the environment of the function's role. The
//! endpoint follows the SDK's rules for the variables the functions use: `AWS_ENDPOINT_URL_SSM`,
//! then `AWS_ENDPOINT_URL` (both off with `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), else
//! `https://ssm.{region}.amazonaws.com`. Throttling, 5xx answers and transport errors are tried
//! again, up to three attempts in all, as the SDK's standard retry does.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Uri};
use serde::Deserialize;

use crate::https;

const MAX_ATTEMPTS: u32 = 3;
/// The whole of one attempt (connect, TLS, answer); Lambda's init budget is 10 s.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

pub struct Ssm {
    endpoint: Uri,
    region: String,
    access_key: String,
    secret_key: String,
    session_token: Option<String>,
}

enum Failure {
    /// Worth another attempt: throttled, a server error, or no answer.
    Retry(String),
    Fatal(String),
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "Parameter")]
    parameter: Parameter,
}

#[derive(Deserialize)]
struct Parameter {
    #[serde(rename = "Value")]
    value: String,
}

#[derive(Deserialize, Default)]
struct ErrorAnswer {
    #[serde(rename = "__type", default)]
    kind: String,
    #[serde(alias = "Message", default)]
    message: String,
}

impl Ssm {
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |k: &str| lookup(k).filter(|v| !v.is_empty());
        let region = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")).ok_or("AWS_REGION is not set")?;
        let ignore = get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let configured = if ignore { None } else { get("AWS_ENDPOINT_URL_SSM").or_else(|| get("AWS_ENDPOINT_URL")) };
        let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
        let endpoint = configured.unwrap_or_else(|| format!("https://ssm.{region}.{suffix}"));
        let endpoint: Uri = endpoint.parse().map_err(|e| format!("SSM endpoint {endpoint:?}: {e}"))?;
        if endpoint.host().is_none() {
            return Err(format!("SSM endpoint {endpoint} has no host"));
        }
        Ok(Self {
            endpoint,
            region,
            access_key: get("AWS_ACCESS_KEY_ID").ok_or("AWS_ACCESS_KEY_ID is not set")?,
            secret_key: get("AWS_SECRET_ACCESS_KEY").ok_or("AWS_SECRET_ACCESS_KEY is not set")?,
            session_token: get("AWS_SESSION_TOKEN"),
        })
    }

    /// The decrypted value of the parameter `name`.
    pub async fn get_secure_string(&self, name: &str) -> Result<String, String> {
        let body = serde_json::json!({ "Name": name, "WithDecryption": true }).to_string();
        let mut attempt = 1;
        loop {
            let outcome = match tokio::time::timeout(ATTEMPT_TIMEOUT, self.attempt(&body)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Failure::Retry(format!("no answer within {ATTEMPT_TIMEOUT:?}"))),
            };
            match outcome {
                Ok(value) => return Ok(value),
                Err(Failure::Retry(e)) if attempt < MAX_ATTEMPTS => {
                    tracing::warn!(attempt, error = %e, "GetParameter failed; trying again");
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                    attempt += 1;
                }
                Err(Failure::Retry(e) | Failure::Fatal(e)) => return Err(e),
            }
        }
    }

    async fn attempt(&self, body: &str) -> Result<String, Failure> {
        let request = self.signed(body, SystemTime::now()).map_err(Failure::Fatal)?;
        let (status, answer) = https::send(request).await.map_err(Failure::Retry)?;
        if status.is_success() {
            let answer: Answer = serde_json::from_slice(&answer)
                .map_err(|e| Failure::Fatal(format!("unexpected GetParameter answer: {e}")))?;
            return Ok(answer.parameter.value);
        }
        let error: ErrorAnswer = serde_json::from_slice(&answer).unwrap_or_default();
        let kind = error.kind.rsplit('#').next().unwrap_or_default();
        let text = format!("{status} {kind}: {}", error.message);
        if status.is_server_error() || kind.contains("Throttl") || status.as_u16() == 429 {
            Err(Failure::Retry(text))
        } else {
            Err(Failure::Fatal(text))
        }
    }

    /// The GetParameter request for `body`, signed for service `ssm` at `time`.
    fn signed(&self, body: &str, time: SystemTime) -> Result<Request<Full<Bytes>>, String> {
        let host = self.endpoint.authority().map(|a| a.as_str()).unwrap_or_default().to_string();
        let mut request = Request::builder()
            .method("POST")
            .uri(self.endpoint.clone())
            .header("host", host)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", "AmazonSSM.GetParameter")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| e.to_string())?;
        let identity =
            Credentials::new(&self.access_key, &self.secret_key, self.session_token.clone(), None, "environment")
                .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("ssm")
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let headers = request.headers().iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap_or_default()));
        let signable =
            SignableRequest::new("POST", self.endpoint.to_string(), headers, SignableBody::Bytes(body.as_bytes()))
                .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(signable, &params).map_err(|e| e.to_string())?.into_parts();
        instructions.apply_to_request_http1x(&mut request);
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::http::{HeaderMap, StatusCode};

    use super::*;

    fn env(vars: &[(&str, &str)]) -> Result<Ssm, String> {
        Ssm::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
    }

    const CREDENTIALS: [(&str, &str); 3] =
        [("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID", "AKID"), ("AWS_SECRET_ACCESS_KEY", "secret")];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        CREDENTIALS.iter().copied().chain(extra.iter().copied()).collect()
    }

    #[test]
    fn the_endpoint_follows_the_sdk_variables() {
        assert_eq!(env(&with(&[])).unwrap().endpoint.to_string(), "https://ssm.eu-west-1.amazonaws.com/");
        let both =
            with(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"), ("AWS_ENDPOINT_URL_SSM", "http://ssm.local:1")]);
        assert_eq!(env(&both).unwrap().endpoint.to_string(), "http://ssm.local:1/");
        let all = with(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")]);
        assert_eq!(env(&all).unwrap().endpoint.to_string(), "http://127.0.0.1:5000/");
        let ignored =
            with(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"), ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")]);
        assert_eq!(env(&ignored).unwrap().endpoint.to_string(), "https://ssm.eu-west-1.amazonaws.com/");
        let china = [("AWS_REGION", "cn-north-1"), CREDENTIALS[1], CREDENTIALS[2]];
        assert_eq!(env(&china).unwrap().endpoint.to_string(), "https://ssm.cn-north-1.amazonaws.com.cn/");
        assert!(env(&CREDENTIALS[1..]).err().unwrap_or_default().contains("AWS_REGION"));
        assert!(env(&CREDENTIALS[..2]).err().unwrap_or_default().contains("AWS_SECRET_ACCESS_KEY"));
    }

    #[test]
    fn the_request_is_signed_for_ssm_with_the_session_token() {
        let ssm = env(&with(&[("AWS_SESSION_TOKEN", "session")])).unwrap();
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000); // 2023-11-14T22:13:20Z
        let request = ssm.signed(r#"{"Name":"/k","WithDecryption":true}"#, time).unwrap();
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let auth = header("authorization");
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKID/20231114/eu-west-1/ssm/aws4_request"), "{auth}");
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target"),
            "{auth}"
        );
        assert_eq!(header("x-amz-date"), "20231114T221320Z");
        assert_eq!(header("x-amz-security-token"), "session");
        assert_eq!(header("x-amz-target"), "AmazonSSM.GetParameter");
        // The same request signed by botocore's SigV4Auth (an independent implementation).
        assert!(auth.ends_with("Signature=7b316fb60b0c0f7f5322fdf8b7e289eff06779a38f1474437fd9b2d24068500d"), "{auth}");
        // Another body, another signature: the payload is part of what is signed.
        let other = ssm.signed(r#"{"Name":"/j"}"#, time).unwrap();
        assert_ne!(other.headers()["authorization"], request.headers()["authorization"]);
    }

    /// A stand-in SSM endpoint: throttles the first `throttle` calls, then answers `value`.
    async fn fake_ssm(throttle: usize, value: &'static str) -> (String, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
                let request: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                if target != "AmazonSSM.GetParameter" || request["WithDecryption"] != true {
                    return (
                        StatusCode::BAD_REQUEST,
                        r#"{"__type":"ValidationException","message":"bad"}"#.to_string(),
                    );
                }
                if request["Name"] != "/chat/jwt-keys" {
                    return (StatusCode::BAD_REQUEST, r#"{"__type":"ParameterNotFound","message":""}"#.to_string());
                }
                if n < throttle {
                    return (
                        StatusCode::BAD_REQUEST,
                        r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into(),
                    );
                }
                (StatusCode::OK, serde_json::json!({ "Parameter": { "Value": value } }).to_string())
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, calls)
    }

    fn client(url: &str) -> Ssm {
        let url: &'static str = Box::leak(url.to_string().into_boxed_str());
        env(&with(&[("AWS_ENDPOINT_URL_SSM", url)])).unwrap()
    }

    #[tokio::test]
    async fn reads_the_value_after_throttling() {
        let (url, calls) = fake_ssm(2, "k1=secret").await;
        assert_eq!(client(&url).get_secure_string("/chat/jwt-keys").await.unwrap(), "k1=secret");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn gives_up_after_three_attempts_and_at_once_on_a_missing_parameter() {
        let (url, calls) = fake_ssm(usize::MAX, "").await;
        let error = client(&url).get_secure_string("/chat/jwt-keys").await.unwrap_err();
        assert!(error.contains("ThrottlingException"), "{error}");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let (url, calls) = fake_ssm(0, "").await;
        let error = client(&url).get_secure_string("/other").await.unwrap_err();
        assert!(error.contains("ParameterNotFound"), "{error}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
