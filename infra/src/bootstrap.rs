//! Creates the resources template.yaml defines on the AWS endpoint in use (moto, LocalStack),
//! from the very same definitions.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};

use crate::template::events::QueueDefinition;
use crate::template::table::TableDefinition;

fn key_schema(hash: &str, range: Option<&str>) -> Result<Vec<KeySchemaElement>, String> {
    let mut keys = vec![
        KeySchemaElement::builder().attribute_name(hash).key_type(KeyType::Hash).build().map_err(|e| e.to_string())?,
    ];
    if let Some(range) = range {
        keys.push(
            KeySchemaElement::builder()
                .attribute_name(range)
                .key_type(KeyType::Range)
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(keys)
}

/// Creates `table_name` as `definition` describes, unless it exists; waits until it is active.
pub async fn create_table(client: &Client, table_name: &str, definition: &TableDefinition) -> Result<(), String> {
    let mut request = client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(&definition.hash_key, definition.range_key.as_deref())?));
    for (name, ty) in &definition.attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::from(ty.as_str()))
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    for index in &definition.global_indexes {
        let mut projection = Projection::builder().projection_type(ProjectionType::from(index.projection.as_str()));
        for attr in &index.non_key_attributes {
            projection = projection.non_key_attributes(attr);
        }
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(key_schema(&index.hash_key, index.range_key.as_deref())?))
                .projection(projection.build())
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_in_use_exception()) => return Ok(()),
        Err(e) => return Err(format!("CreateTable {table_name}: {}", DisplayErrorContext(e))),
    }
    for _ in 0..100 {
        let described = client.describe_table().table_name(table_name).send().await;
        if let Ok(out) = described
            && out.table.and_then(|t| t.table_status) == Some(TableStatus::Active)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    if let Some(attr) = &definition.ttl_attribute {
        let spec =
            TimeToLiveSpecification::builder().attribute_name(attr).enabled(true).build().map_err(|e| e.to_string())?;
        client
            .update_time_to_live()
            .table_name(table_name)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| format!("UpdateTimeToLive {table_name}: {}", DisplayErrorContext(e)))?;
    }
    Ok(())
}

/// A queue of template.yaml as created on the endpoint.
#[derive(Debug, Clone)]
pub struct LocalQueue {
    pub logical_id: String,
    pub name: String,
    pub url: String,
    pub arn: String,
}

/// Creates every queue of template.yaml as `{prefix}-{LogicalId}`, dead-letter queues first, with
/// the template's VisibilityTimeout, MessageRetentionPeriod, DelaySeconds and RedrivePolicy.
/// `visibility_timeout` overrides the template's (tests use seconds instead of a minute).
pub async fn create_queues(
    client: &aws_sdk_sqs::Client,
    prefix: &str,
    queues: &std::collections::BTreeMap<String, QueueDefinition>,
    visibility_timeout: Option<i64>,
) -> Result<std::collections::BTreeMap<String, LocalQueue>, String> {
    use aws_sdk_sqs::types::QueueAttributeName as Attr;
    let mut created: std::collections::BTreeMap<String, LocalQueue> = std::collections::BTreeMap::new();
    while created.len() < queues.len() {
        let ready: Vec<&QueueDefinition> = queues
            .values()
            .filter(|q| !created.contains_key(&q.logical_id))
            .filter(|q| q.redrive.as_ref().is_none_or(|r| created.contains_key(&r.dead_letter_queue)))
            .collect();
        if ready.is_empty() {
            return Err("the queues' redrive policies form a cycle".into());
        }
        for queue in ready {
            let name: String = format!("{prefix}-{}", queue.logical_id)
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
                .take(80)
                .collect();
            let mut attributes = std::collections::HashMap::new();
            if let Some(v) = visibility_timeout.or(queue.visibility_timeout) {
                attributes.insert(Attr::VisibilityTimeout, v.to_string());
            }
            if let Some(v) = queue.message_retention_period {
                attributes.insert(Attr::MessageRetentionPeriod, v.to_string());
            }
            if let Some(v) = queue.delay_seconds {
                attributes.insert(Attr::DelaySeconds, v.to_string());
            }
            if let Some(redrive) = &queue.redrive {
                let policy = serde_json::json!({
                    "deadLetterTargetArn": created[&redrive.dead_letter_queue].arn,
                    "maxReceiveCount": redrive.max_receive_count,
                });
                attributes.insert(Attr::RedrivePolicy, policy.to_string());
            }
            let url =
                match client.create_queue().queue_name(&name).set_attributes(Some(attributes.clone())).send().await {
                    Ok(out) => out.queue_url.unwrap_or_default(),
                    // It exists with other attributes (a rerun against the same endpoint): update it.
                    Err(e) if e.as_service_error().is_some_and(|se| se.is_queue_name_exists()) => {
                        let url = client
                            .get_queue_url()
                            .queue_name(&name)
                            .send()
                            .await
                            .map_err(|e| format!("GetQueueUrl {name}: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))?
                            .queue_url
                            .unwrap_or_default();
                        client
                            .set_queue_attributes()
                            .queue_url(&url)
                            .set_attributes(Some(attributes))
                            .send()
                            .await
                            .map_err(|e| {
                                format!("SetQueueAttributes {name}: {}", aws_sdk_sqs::error::DisplayErrorContext(e))
                            })?;
                        url
                    }
                    Err(e) => {
                        return Err(format!("CreateQueue {name}: {}", aws_sdk_sqs::error::DisplayErrorContext(e)));
                    }
                };
            let arn = client
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(Attr::QueueArn)
                .send()
                .await
                .map_err(|e| format!("GetQueueAttributes {name}: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))?
                .attributes
                .and_then(|mut a| a.remove(&Attr::QueueArn))
                .ok_or_else(|| format!("{name} has no QueueArn"))?;
            created
                .insert(queue.logical_id.clone(), LocalQueue { logical_id: queue.logical_id.clone(), name, url, arn });
        }
    }
    Ok(created)
}

/// Creates the template's bucket as `name` (unless it exists) with its encryption, public access
/// block, CORS and lifecycle rules. Path-style requests: the bucket is no DNS name locally.
pub async fn create_bucket(
    sdk: &aws_config::SdkConfig,
    name: &str,
    definition: &crate::template::bucket::BucketDefinition,
) -> Result<(), String> {
    use aws_sdk_s3::error::DisplayErrorContext as S3Error;
    use aws_sdk_s3::types::{
        AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, CorsConfiguration, CorsRule, ExpirationStatus,
        LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator, LifecycleRuleFilter,
        PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
        ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag,
    };
    let config = aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build();
    let client = aws_sdk_s3::Client::from_conf(config);
    match client.create_bucket().bucket(name).send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_bucket_already_owned_by_you() || se.is_bucket_already_exists()) => {}
        Err(e) => return Err(format!("CreateBucket {name}: {}", S3Error(e))),
    }
    if let Some(algorithm) = &definition.encryption {
        let default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::from(algorithm.as_str()))
            .build()
            .map_err(|e| e.to_string())?;
        let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(default).build();
        let sse = ServerSideEncryptionConfiguration::builder().rules(rule).build().map_err(|e| e.to_string())?;
        client
            .put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(sse)
            .send()
            .await
            .map_err(|e| format!("PutBucketEncryption {name}: {}", S3Error(e)))?;
    }
    if definition.block_public_access {
        let block = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .block_public_policy(true)
            .ignore_public_acls(true)
            .restrict_public_buckets(true)
            .build();
        client
            .put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(block)
            .send()
            .await
            .map_err(|e| format!("PutPublicAccessBlock {name}: {}", S3Error(e)))?;
    }
    if !definition.cors.is_empty() {
        let mut cors = CorsConfiguration::builder();
        for rule in &definition.cors {
            let mut r = CorsRule::builder()
                .set_allowed_methods(Some(rule.allowed_methods.clone()))
                .set_allowed_origins(Some(rule.allowed_origins.clone()))
                .set_allowed_headers(Some(rule.allowed_headers.clone()))
                .set_expose_headers(Some(rule.exposed_headers.clone()));
            if let Some(age) = rule.max_age {
                r = r.max_age_seconds(age as i32);
            }
            cors = cors.cors_rules(r.build().map_err(|e| e.to_string())?);
        }
        client
            .put_bucket_cors()
            .bucket(name)
            .cors_configuration(cors.build().map_err(|e| e.to_string())?)
            .send()
            .await
            .map_err(|e| format!("PutBucketCors {name}: {}", S3Error(e)))?;
    }
    if !definition.lifecycle.is_empty() {
        let mut lifecycle = BucketLifecycleConfiguration::builder();
        for rule in &definition.lifecycle {
            let tags: Vec<Tag> = rule
                .tags
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| e.to_string()))
                .collect::<Result<_, _>>()?;
            let filter = match (tags.len(), &rule.prefix) {
                (0, prefix) => LifecycleRuleFilter::builder().prefix(prefix.clone().unwrap_or_default()).build(),
                (1, None) => LifecycleRuleFilter::builder().tag(tags[0].clone()).build(),
                (_, prefix) => LifecycleRuleFilter::builder()
                    .and(LifecycleRuleAndOperator::builder().set_prefix(prefix.clone()).set_tags(Some(tags)).build())
                    .build(),
            };
            let mut r = LifecycleRule::builder()
                .id(&rule.id)
                .status(if rule.enabled { ExpirationStatus::Enabled } else { ExpirationStatus::Disabled })
                .filter(filter);
            if let Some(days) = rule.expiration_days {
                r = r.expiration(LifecycleExpiration::builder().days(days as i32).build());
            }
            if let Some(days) = rule.abort_multipart_days {
                r = r.abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder().days_after_initiation(days as i32).build(),
                );
            }
            lifecycle = lifecycle.rules(r.build().map_err(|e| e.to_string())?);
        }
        client
            .put_bucket_lifecycle_configuration()
            .bucket(name)
            .lifecycle_configuration(lifecycle.build().map_err(|e| e.to_string())?)
            .send()
            .await
            .map_err(|e| format!("PutBucketLifecycleConfiguration {name}: {}", S3Error(e)))?;
    }
    Ok(())
}

/// The local name of the bucket for `table`: lowercase, S3's 3-63 characters.
pub fn bucket_name(table: &str) -> String {
    let base: String = table
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
        .collect();
    let mut name: String = format!("{}-attachments", base.trim_matches('-')).chars().take(63).collect();
    while name.ends_with('-') {
        name.pop();
    }
    name
}
