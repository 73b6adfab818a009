//! The DynamoDB table of template.yaml, as the bootstrap creates it on the emulator.

use serde_yaml_ng::Value;

use super::intrinsics::Error;

#[derive(Debug, Clone, PartialEq)]
pub struct TableDefinition {
    pub logical_id: String,
    pub attributes: Vec<(String, String)>,
    pub hash_key: String,
    pub range_key: Option<String>,
    pub global_indexes: Vec<IndexDefinition>,
    pub ttl_attribute: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexDefinition {
    pub name: String,
    pub hash_key: String,
    pub range_key: Option<String>,
    pub projection: String,
    pub non_key_attributes: Vec<String>,
}

impl TableDefinition {
    pub fn parse(logical_id: &str, props: &Value) -> Result<Self, Error> {
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let keys = |schema: Option<&Value>| -> Result<(String, Option<String>), Error> {
            let schema = schema.and_then(Value::as_sequence).ok_or("KeySchema missing")?;
            let find = |ty: &str| {
                schema.iter().find(|k| s(k, "KeyType").as_deref() == Some(ty)).and_then(|k| s(k, "AttributeName"))
            };
            Ok((find("HASH").ok_or("KeySchema has no HASH key")?, find("RANGE")))
        };
        let attributes = props
            .get("AttributeDefinitions")
            .and_then(Value::as_sequence)
            .ok_or("AttributeDefinitions missing")?
            .iter()
            .map(|a| Ok((s(a, "AttributeName").ok_or("AttributeName")?, s(a, "AttributeType").ok_or("AttributeType")?)))
            .collect::<Result<Vec<_>, Error>>()?;
        let (hash_key, range_key) = keys(props.get("KeySchema"))?;
        let mut global_indexes = Vec::new();
        for gsi in props.get("GlobalSecondaryIndexes").and_then(Value::as_sequence).into_iter().flatten() {
            let (hash_key, range_key) = keys(gsi.get("KeySchema"))?;
            let projection = gsi.get("Projection");
            global_indexes.push(IndexDefinition {
                name: s(gsi, "IndexName").ok_or("IndexName missing")?,
                hash_key,
                range_key,
                projection: projection.and_then(|p| s(p, "ProjectionType")).unwrap_or_else(|| "ALL".into()),
                non_key_attributes: projection
                    .and_then(|p| p.get("NonKeyAttributes"))
                    .and_then(Value::as_sequence)
                    .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                    .unwrap_or_default(),
            });
        }
        let ttl_attribute = props
            .get("TimeToLiveSpecification")
            .filter(|t| t.get("Enabled").and_then(Value::as_bool) == Some(true))
            .and_then(|t| s(t, "AttributeName"));
        Ok(Self { logical_id: logical_id.to_string(), attributes, hash_key, range_key, global_indexes, ttl_attribute })
    }
}
