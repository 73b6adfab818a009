//! The S3 bucket of template.yaml (attachments), as the bootstrap creates it on the emulator:
//! encryption, public access block, CORS rules and lifecycle rules, from the same definition.

use serde_yaml_ng::Value;

use super::intrinsics::{Error, Scope, reference};

/// The variable that names the attachments bucket to the functions.
const ENV_VAR: &str = "CHAT_ATTACHMENTS_BUCKET";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BucketDefinition {
    pub logical_id: String,
    /// `SSEAlgorithm` of the default encryption (AES256, aws:kms).
    pub encryption: Option<String>,
    /// All four public-access-block flags are set.
    pub block_public_access: bool,
    pub cors: Vec<CorsRule>,
    pub lifecycle: Vec<LifecycleRule>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CorsRule {
    pub allowed_methods: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub exposed_headers: Vec<String>,
    pub max_age: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LifecycleRule {
    pub id: String,
    pub enabled: bool,
    pub prefix: Option<String>,
    pub tags: Vec<(String, String)>,
    pub expiration_days: Option<i64>,
    pub abort_multipart_days: Option<i64>,
}

impl BucketDefinition {
    /// The bucket a function gets as `CHAT_ATTACHMENTS_BUCKET: !Ref X`, if any.
    pub fn of_template(doc: &Value, scope: &Scope) -> Result<Option<Self>, Error> {
        let resources = doc.get("Resources").and_then(Value::as_mapping);
        let named = resources.into_iter().flatten().find_map(|(_, r)| {
            let variables = r.get("Properties")?.get("Environment")?.get("Variables")?;
            reference(variables.get(ENV_VAR)?).map(str::to_string)
        });
        let Some(id) = named else { return Ok(None) };
        let bucket = resources
            .and_then(|r| r.get(id.as_str()))
            .filter(|r| r.get("Type").and_then(Value::as_str) == Some("AWS::S3::Bucket"))
            .ok_or_else(|| format!("{ENV_VAR}: !Ref {id} is not an AWS::S3::Bucket"))?;
        let empty = Value::Null;
        Self::parse(&id, bucket.get("Properties").unwrap_or(&empty), scope).map(Some)
    }

    fn parse(id: &str, props: &Value, scope: &Scope) -> Result<Self, Error> {
        let encryption = props
            .get("BucketEncryption")
            .and_then(|e| e.get("ServerSideEncryptionConfiguration"))
            .and_then(Value::as_sequence)
            .and_then(|rules| rules.first())
            .and_then(|r| r.get("ServerSideEncryptionByDefault"))
            .and_then(|d| d.get("SSEAlgorithm"))
            .map(|v| scope.scalar(v, &format!("{id}.SSEAlgorithm")))
            .transpose()?;
        let block = props.get("PublicAccessBlockConfiguration");
        let flag = |k: &str| block.and_then(|b| b.get(k)).and_then(Value::as_bool) == Some(true);
        let block_public_access = ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"]
            .iter()
            .all(|k| flag(k));
        let list = |v: Option<&Value>, what: &str| -> Result<Vec<String>, Error> {
            match v {
                None => Ok(Vec::new()),
                Some(v) if v.is_sequence() => scope.strings(v, what),
                // `!Ref` of a CommaDelimitedList.
                Some(v) => Ok(scope.scalar(v, what)?.split(',').map(|s| s.trim().to_string()).collect()),
            }
        };
        let mut cors = Vec::new();
        let rules = props.get("CorsConfiguration").and_then(|c| c.get("CorsRules")).and_then(Value::as_sequence);
        for (i, rule) in rules.into_iter().flatten().enumerate() {
            let what = |k: &str| format!("{id}.CorsRules[{i}].{k}");
            cors.push(CorsRule {
                allowed_methods: list(rule.get("AllowedMethods"), &what("AllowedMethods"))?,
                allowed_origins: list(rule.get("AllowedOrigins"), &what("AllowedOrigins"))?,
                allowed_headers: list(rule.get("AllowedHeaders"), &what("AllowedHeaders"))?,
                exposed_headers: list(rule.get("ExposedHeaders"), &what("ExposedHeaders"))?,
                max_age: scope.number(rule.get("MaxAge"), &what("MaxAge"))?,
            });
        }
        let mut lifecycle = Vec::new();
        let rules = props.get("LifecycleConfiguration").and_then(|c| c.get("Rules")).and_then(Value::as_sequence);
        for (i, rule) in rules.into_iter().flatten().enumerate() {
            let what = |k: &str| format!("{id}.LifecycleRules[{i}].{k}");
            let mut tags = Vec::new();
            for tag in rule.get("TagFilters").and_then(Value::as_sequence).into_iter().flatten() {
                let key = tag.get("Key").map(|v| scope.scalar(v, &what("Key"))).transpose()?.unwrap_or_default();
                let value = tag.get("Value").map(|v| scope.scalar(v, &what("Value"))).transpose()?.unwrap_or_default();
                tags.push((key, value));
            }
            lifecycle.push(LifecycleRule {
                id: rule.get("Id").and_then(Value::as_str).unwrap_or_default().to_string(),
                enabled: rule.get("Status").and_then(Value::as_str) == Some("Enabled"),
                prefix: rule.get("Prefix").map(|v| scope.scalar(v, &what("Prefix"))).transpose()?,
                tags,
                expiration_days: scope.number(rule.get("ExpirationInDays"), &what("ExpirationInDays"))?,
                abort_multipart_days: scope.number(
                    rule.get("AbortIncompleteMultipartUpload").and_then(|a| a.get("DaysAfterInitiation")),
                    &what("DaysAfterInitiation"),
                )?,
            });
        }
        Ok(Self { logical_id: id.to_string(), encryption, block_public_access, cors, lifecycle })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_templates_bucket_is_private_encrypted_and_expires_never_sent_uploads() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        let template = crate::template::Template::load(&path).unwrap();
        let bucket = template.bucket.expect("template.yaml defines the attachments bucket");
        assert_eq!(bucket.logical_id, "AttachmentsBucket");
        assert!(bucket.block_public_access);
        assert_eq!(bucket.encryption.as_deref(), Some("AES256"));
        let cors = &bucket.cors[0];
        assert_eq!(cors.allowed_origins, ["*"]);
        assert!(cors.allowed_methods.contains(&"PUT".into()) && cors.allowed_methods.contains(&"GET".into()));
        assert!(cors.allowed_headers.contains(&"x-amz-tagging".into()));
        let never_sent = bucket.lifecycle.iter().find(|r| r.id == "DeleteNeverSentUploads").unwrap();
        assert!(never_sent.enabled);
        assert_eq!(never_sent.tags, [("pending".to_string(), "true".to_string())]);
        assert_eq!(never_sent.expiration_days, Some(1));
    }
}
