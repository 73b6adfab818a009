//! SigV4 on `@connections`, as API Gateway checks it: the request must carry an
//! `AWS4-HMAC-SHA256` Authorization for service `execute-api` whose signature, recomputed with
//! the secret of its access key (aws-sigv4, the SDK's own signer) over the headers it names,
//! matches; and it must be recent. Anything else is 403 `ForbiddenException`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use axum::http::{HeaderMap, Method, Uri};

/// API Gateway refuses signatures more than 5 minutes off.
const MAX_SKEW: Duration = Duration::from_secs(300);

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The developer's own keys (the CLI's, boto3's): allowed everything, as an administrator.
    Developer,
    /// A function's role, by logical id: allowed what its template policy grants.
    Function(String),
}

/// The access keys the local stand-ins accept, with their secrets and whose they are.
#[derive(Debug, Clone, Default)]
pub struct LocalCredentials {
    keys: BTreeMap<String, (String, Principal)>,
}

impl LocalCredentials {
    /// The developer's keys.
    pub fn new(keys: impl IntoIterator<Item = (String, String)>) -> Self {
        Self { keys: keys.into_iter().map(|(key, secret)| (key, (secret, Principal::Developer))).collect() }
    }

    /// And each function's own (`account::function_credentials`), by logical id.
    pub fn with_functions<'a>(mut self, logical_ids: impl IntoIterator<Item = &'a String>) -> Self {
        for id in logical_ids {
            let (key, secret) = crate::account::function_credentials(id);
            self.keys.insert(key, (secret, Principal::Function(id.clone())));
        }
        self
    }
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
struct Authorization<'a> {
    access_key: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse(header: &str) -> Option<Authorization<'_>> {
    let rest = header.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let mut fields = BTreeMap::new();
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        fields.insert(k, v);
    }
    let mut scope = fields.get("Credential")?.split('/');
    let (access_key, _date, region, service) = (scope.next()?, scope.next()?, scope.next()?, scope.next()?);
    (scope.next()? == "aws4_request").then_some(())?;
    Some(Authorization {
        access_key,
        region,
        service,
        signed_headers: fields.get("SignedHeaders")?.split(';').collect(),
        signature: fields.get("Signature")?,
    })
}

/// Who signed the request; else why it is refused (logged; the client only sees 403).
pub(crate) fn verify(
    credentials: &LocalCredentials,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Principal, String> {
    let header = headers.get("authorization").and_then(|v| v.to_str().ok()).ok_or("no Authorization header")?;
    let auth = parse(header).ok_or("not an AWS4-HMAC-SHA256 Authorization")?;
    if auth.service != "execute-api" {
        return Err(format!("signed for {}, not execute-api", auth.service));
    }
    let (secret, principal) =
        credentials.keys.get(auth.access_key).ok_or_else(|| format!("unknown access key {}", auth.access_key))?;
    let date = headers.get("x-amz-date").and_then(|v| v.to_str().ok()).ok_or("no X-Amz-Date")?;
    let time = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ").map_err(|_| "bad X-Amz-Date")?;
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(time.and_utc().timestamp().max(0) as u64);
    let skew = SystemTime::now().duration_since(time).unwrap_or_else(|e| e.duration());
    if skew > MAX_SKEW {
        return Err("signature expired".into());
    }
    // The headers it signed, as sent; the signer adds X-Amz-Date (and the token) itself.
    let mut signed = Vec::new();
    for name in &auth.signed_headers {
        if matches!(*name, "x-amz-date" | "x-amz-security-token") {
            continue;
        }
        let value =
            headers.get(*name).and_then(|v| v.to_str().ok()).ok_or_else(|| format!("signed header {name} missing"))?;
        signed.push((*name, value));
    }
    let host = headers.get("host").and_then(|v| v.to_str().ok()).ok_or("no Host")?;
    let url = format!("http://{host}{}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let token = headers.get("x-amz-security-token").and_then(|v| v.to_str().ok()).map(str::to_string);
    let identity = Credentials::new(auth.access_key, secret.as_str(), token, None, "local").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(auth.region)
        .name("execute-api")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let request = SignableRequest::new(method.as_str(), url, signed.into_iter(), SignableBody::Bytes(body))
        .map_err(|e| e.to_string())?;
    let expected = sign(request, &params).map_err(|e| e.to_string())?.signature().to_string();
    if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        Ok(principal.clone())
    } else {
        Err("signature mismatch".into())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
