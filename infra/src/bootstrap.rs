//! Creates the resources template.yaml defines on the AWS endpoint in use (moto, LocalStack),
//! from the very same definitions.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};

use crate::template::TableDefinition;

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
