//! Reads template.yaml: the WebSocket routes and their functions, the `$connect` authorizer, the
//! HTTP API function, and the table definition. The gateway and the bootstrap use nothing else,
//! so the local setup cannot drift from what `sam deploy` creates.

use std::collections::BTreeMap;
use std::path::Path;

use chat_functions::registry::Function;
use serde_yaml_ng::Value;

#[derive(Debug, Clone)]
pub struct Template {
    /// WebSocket route key → the function behind its integration.
    pub ws_routes: BTreeMap<String, Function>,
    /// The Lambda REQUEST authorizer on `$connect`, if any, and its identity source query key.
    pub connect_authorizer: Option<Authorizer>,
    pub route_selection_expression: String,
    /// The function behind the HTTP API.
    pub http_function: Function,
    pub table: TableDefinition,
    /// Logical id → cargo binary, for every function.
    pub functions: BTreeMap<String, String>,
    /// EventBridge rules (functions' `Schedule`/`ScheduleV2` events), SQS queues and the SQS
    /// event-source mappings (functions' `SQS` events): see `events.rs`.
    pub events: crate::events::EventDefinitions,
}

#[derive(Debug, Clone)]
pub struct Authorizer {
    pub function: Function,
    /// Query string parameters that must be present (`route.request.querystring.X`), else 401.
    pub required_query: Vec<String>,
}

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

pub type Error = String;

impl Template {
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::parse_with_parameters(text, &BTreeMap::new())
    }

    /// Like `load`, with template parameters overriding their defaults (as `sam deploy
    /// --parameter-overrides` would).
    pub fn load_with_parameters(path: &Path, parameters: &BTreeMap<String, String>) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse_with_parameters(&text, parameters)
    }

    pub fn parse_with_parameters(text: &str, parameters: &BTreeMap<String, String>) -> Result<Self, Error> {
        let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| format!("template.yaml is not YAML: {e}"))?;
        let resources = doc.get("Resources").and_then(Value::as_mapping).ok_or("template.yaml has no Resources")?;
        let by_type = |ty: &'static str| {
            resources
                .iter()
                .filter(move |(_, r)| r.get("Type").and_then(Value::as_str) == Some(ty))
                .map(|(k, r)| (k.as_str().unwrap_or_default().to_string(), r))
        };

        let mut functions = BTreeMap::new();
        let mut http_function = None;
        for (id, resource) in by_type("AWS::Serverless::Function") {
            let binary = resource
                .get("Metadata")
                .and_then(|m| m.get("BuildProperties"))
                .and_then(|b| b.get("Binary"))
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{id} has no Metadata.BuildProperties.Binary"))?;
            let has_http_event =
                resource.get("Properties").and_then(|p| p.get("Events")).and_then(Value::as_mapping).is_some_and(
                    |events| events.values().any(|e| e.get("Type").and_then(Value::as_str) == Some("HttpApi")),
                );
            if has_http_event {
                http_function = Some(known_function(binary)?);
            }
            functions.insert(id, binary.to_string());
        }
        let function_of = |uri: Option<&Value>, what: &str| -> Result<Function, Error> {
            let uri = uri.and_then(sub_string).ok_or_else(|| format!("{what}: URI is not a !Sub string"))?;
            let logical = references(&uri)
                .into_iter()
                .find_map(|r| r.strip_suffix(".Arn").map(str::to_string))
                .ok_or_else(|| format!("{what}: URI names no ${{Function.Arn}}"))?;
            let binary = functions.get(&logical).ok_or_else(|| format!("{what}: {logical} is not a function"))?;
            known_function(binary)
        };

        let mut integrations = BTreeMap::new();
        for (id, resource) in by_type("AWS::ApiGatewayV2::Integration") {
            let props = resource.get("Properties");
            integrations.insert(id.clone(), function_of(props.and_then(|p| p.get("IntegrationUri")), &id)?);
        }
        let mut authorizers = BTreeMap::new();
        for (id, resource) in by_type("AWS::ApiGatewayV2::Authorizer") {
            let props = resource.get("Properties");
            let function = function_of(props.and_then(|p| p.get("AuthorizerUri")), &id)?;
            let required_query = props
                .and_then(|p| p.get("IdentitySource"))
                .and_then(Value::as_sequence)
                .map(|sources| {
                    sources
                        .iter()
                        .filter_map(Value::as_str)
                        .filter_map(|s| s.strip_prefix("route.request.querystring."))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            authorizers.insert(id, Authorizer { function, required_query });
        }

        let mut ws_routes = BTreeMap::new();
        let mut connect_authorizer = None;
        for (id, resource) in by_type("AWS::ApiGatewayV2::Route") {
            let props = resource.get("Properties").ok_or_else(|| format!("{id} has no Properties"))?;
            let key = props
                .get("RouteKey")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{id}: RouteKey must be a string"))?;
            let target =
                props.get("Target").and_then(sub_string).ok_or_else(|| format!("{id}: Target is not a !Sub string"))?;
            let integration =
                references(&target).into_iter().next().ok_or_else(|| format!("{id}: Target names no integration"))?;
            let function =
                *integrations.get(&integration).ok_or_else(|| format!("{id}: unknown integration {integration}"))?;
            if let Some(auth) = props.get("AuthorizerId").and_then(reference) {
                let auth = authorizers.get(&auth).ok_or_else(|| format!("{id}: unknown authorizer {auth}"))?;
                if key == "$connect" {
                    connect_authorizer = Some(auth.clone());
                }
            }
            ws_routes.insert(key.to_string(), function);
        }
        let route_selection_expression = by_type("AWS::ApiGatewayV2::Api")
            .find_map(|(_, api)| {
                let props = api.get("Properties")?;
                (props.get("ProtocolType")?.as_str()? == "WEBSOCKET")
                    .then(|| props.get("RouteSelectionExpression")?.as_str().map(str::to_string))?
            })
            .ok_or("template.yaml has no WEBSOCKET API with a RouteSelectionExpression")?;

        let (table_id, table) = by_type("AWS::DynamoDB::Table").next().ok_or("template.yaml has no DynamoDB table")?;
        let table = TableDefinition::parse(&table_id, table.get("Properties").ok_or("table without Properties")?)?;

        let events = crate::events::EventDefinitions::parse(&doc, &functions, parameters)?;

        Ok(Self {
            events,
            ws_routes,
            connect_authorizer,
            route_selection_expression,
            http_function: http_function.ok_or("no function has an HttpApi event")?,
            table,
            functions,
        })
    }
}

impl TableDefinition {
    fn parse(logical_id: &str, props: &Value) -> Result<Self, Error> {
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

pub(crate) fn known_function(binary: &str) -> Result<Function, Error> {
    Function::from_binary(binary).ok_or_else(|| format!("binary {binary} has no handler in chat_functions::registry"))
}

/// The string of `!Sub "…"` / `{"Fn::Sub": "…"}` (or a plain string).
pub(crate) fn sub_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Tagged(t) if t.tag == "Sub" => t.value.as_str().map(str::to_string),
        Value::Mapping(m) => m.get("Fn::Sub").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// The logical id of `!Ref X` / `{"Ref": "X"}`.
pub(crate) fn reference(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) if t.tag == "Ref" => t.value.as_str().map(str::to_string),
        Value::Mapping(m) => m.get("Ref").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// The `${…}` references of a !Sub string, pseudo parameters (`AWS::…`) excluded.
fn references(sub: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = sub;
    while let Some(start) = rest.find("${") {
        let Some(end) = rest[start..].find('}') else { break };
        let name = &rest[start + 2..start + end];
        if !name.starts_with("AWS::") && !name.starts_with('!') {
            out.push(name.to_string());
        }
        rest = &rest[start + end + 1..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_references() {
        assert_eq!(
            references(
                "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/functions/${SendFunction.Arn}/invocations"
            ),
            vec!["SendFunction.Arn"]
        );
        assert_eq!(references("integrations/${SendIntegration}"), vec!["SendIntegration"]);
    }
}
