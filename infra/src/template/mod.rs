//! Reads template.yaml: the WebSocket routes and their functions, the `$connect` authorizer, the
//! HTTP API function and its CORS, the table definition, and the other event sources
//! (`events.rs`). The gateway and the bootstrap use nothing else, so the local setup cannot drift
//! from what `sam deploy` creates. A function is named by its cargo binary
//! (`Metadata.BuildProperties.Binary`), which is what the local gateway invokes.

pub mod bucket;
pub mod bus;
pub mod cors;
pub mod environment;
pub mod events;
pub mod intrinsics;
pub mod limits;
pub mod policies;
pub mod schedule_expression;
pub mod streams;
pub mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_yaml_ng::Value;

use bucket::BucketDefinition;
use cors::Cors;
use events::EventDefinitions;
pub use intrinsics::Error;
use intrinsics::{Scope, reference, sub_references, sub_string};
use table::TableDefinition;

#[derive(Debug, Clone)]
pub struct Template {
    /// WebSocket route key → the function (binary) behind its integration.
    pub ws_routes: BTreeMap<String, String>,
    /// The route keys with a `RouteResponse` (two-way routes): the integration's answer `body`
    /// goes back to the client. Other routes drop it, as API Gateway does.
    pub two_way_routes: BTreeSet<String>,
    /// The `StageName` of the WebSocket API's `AWS::ApiGatewayV2::Stage`: part of every
    /// `@connections` path and ARN, and `requestContext.stage`.
    pub ws_stage: String,
    /// Function logical id → its statements about `execute-api:ManageConnections`
    /// (`policies.rs`): what `@connections` lets each function's identity do.
    pub management_grants: BTreeMap<String, Vec<policies::Statement>>,
    /// The Lambda REQUEST authorizer on `$connect`, if any, and its identity source query key.
    pub connect_authorizer: Option<Authorizer>,
    pub route_selection_expression: String,
    /// The function (binary) behind the HTTP API.
    pub http_function: String,
    /// The HTTP API's `CorsConfiguration`, if it has one.
    pub http_cors: Option<Cors>,
    pub table: TableDefinition,
    /// Logical id → cargo binary, for every function.
    pub functions: BTreeMap<String, String>,
    /// EventBridge rules (functions' `Schedule`/`ScheduleV2` events), SQS queues and the SQS
    /// event-source mappings (functions' `SQS` events): see `events.rs`.
    pub events: EventDefinitions,
    /// The table's stream and the functions' `DynamoDB` event-source mappings (`streams.rs`).
    pub streams: streams::StreamDefinitions,
    /// Custom buses, their rules and targets (`bus.rs`).
    pub bus: bus::BusDefinitions,
    /// The attachments bucket (`AWS::S3::Bucket`), if the template has one.
    pub bucket: Option<BucketDefinition>,
    /// Each function's `Timeout` and reserved concurrency, by binary.
    pub function_limits: BTreeMap<String, limits::FunctionLimits>,
    /// The stages' throttling (WebSocket stage and HTTP API).
    pub throttles: limits::StageThrottles,
    /// Binary → the environment variables template.yaml gives it (with `Globals`).
    pub environment: BTreeMap<String, BTreeSet<String>>,
    /// Binary → each of those variables with its template value where it resolves locally
    /// (literals and parameters; None for a resource's name, which `local.rs` supplies).
    pub variables: BTreeMap<String, BTreeMap<String, Option<String>>>,
}

#[derive(Debug, Clone)]
pub struct Authorizer {
    /// The binary of the authorizer function.
    pub function: String,
    /// What must be present and non-empty, else 401 without calling the authorizer.
    pub identity_sources: Vec<IdentitySource>,
}

/// One entry of an authorizer's `IdentitySource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// `route.request.querystring.<name>`
    Query(String),
    /// `route.request.header.<name>` (matched case-insensitively, as HTTP header names are)
    Header(String),
}

impl IdentitySource {
    fn parse(source: &str) -> Result<Self, Error> {
        if let Some(name) = source.strip_prefix("route.request.querystring.") {
            Ok(Self::Query(name.to_string()))
        } else if let Some(name) = source.strip_prefix("route.request.header.") {
            Ok(Self::Header(name.to_ascii_lowercase()))
        } else {
            Err(format!(
                "identity source {source:?}: only route.request.querystring.* and route.request.header.* are emulated"
            ))
        }
    }
}

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

        let scope = Scope::new(&doc, parameters)?;
        let mut functions = BTreeMap::new();
        let mut http_function = None;
        let mut http_api = None;
        for (id, resource) in by_type("AWS::Serverless::Function") {
            let binary = resource
                .get("Metadata")
                .and_then(|m| m.get("BuildProperties"))
                .and_then(|b| b.get("Binary"))
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{id} has no Metadata.BuildProperties.Binary"))?;
            let events = resource.get("Properties").and_then(|p| p.get("Events")).and_then(Value::as_mapping);
            let http_event =
                events.into_iter().flatten().find(|(_, e)| e.get("Type").and_then(Value::as_str) == Some("HttpApi"));
            if let Some((_, event)) = http_event {
                http_function = Some(binary.to_string());
                http_api = event.get("Properties").and_then(|p| p.get("ApiId")).and_then(reference);
            }
            functions.insert(id, binary.to_string());
        }
        let function_of = |uri: Option<&Value>, what: &str| -> Result<String, Error> {
            let uri = uri.and_then(sub_string).ok_or_else(|| format!("{what}: URI is not a !Sub string"))?;
            let logical = sub_references(uri)
                .into_iter()
                .find_map(|r| r.strip_suffix(".Arn").map(str::to_string))
                .ok_or_else(|| format!("{what}: URI names no ${{Function.Arn}}"))?;
            let binary = functions.get(&logical).ok_or_else(|| format!("{what}: {logical} is not a function"))?;
            Ok(binary.clone())
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
            let identity_sources = props
                .and_then(|p| p.get("IdentitySource"))
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .map(|s| s.as_str().ok_or_else(|| format!("{id}: IdentitySource entries must be strings")))
                .map(|s| s.and_then(IdentitySource::parse))
                .collect::<Result<Vec<_>, _>>()?;
            authorizers.insert(id, Authorizer { function, identity_sources });
        }

        let mut ws_routes = BTreeMap::new();
        let mut route_keys = BTreeMap::new();
        let mut connect_authorizer = None;
        for (id, resource) in by_type("AWS::ApiGatewayV2::Route") {
            let props = resource.get("Properties").ok_or_else(|| format!("{id} has no Properties"))?;
            let key = props
                .get("RouteKey")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{id}: RouteKey must be a string"))?;
            let target =
                props.get("Target").and_then(sub_string).ok_or_else(|| format!("{id}: Target is not a !Sub string"))?;
            let integration = sub_references(target)
                .into_iter()
                .next()
                .ok_or_else(|| format!("{id}: Target names no integration"))?;
            let function = integrations
                .get(&integration)
                .cloned()
                .ok_or_else(|| format!("{id}: unknown integration {integration}"))?;
            if let Some(auth) = props.get("AuthorizerId").and_then(reference) {
                let auth = authorizers.get(auth).ok_or_else(|| format!("{id}: unknown authorizer {auth}"))?;
                if key == "$connect" {
                    connect_authorizer = Some(auth.clone());
                }
            }
            ws_routes.insert(key.to_string(), function);
            route_keys.insert(id, key.to_string());
        }
        let mut two_way_routes = BTreeSet::new();
        for (id, resource) in by_type("AWS::ApiGatewayV2::RouteResponse") {
            let route = resource.get("Properties").and_then(|p| p.get("RouteId")).and_then(reference);
            let key =
                route.and_then(|r| route_keys.get(r)).ok_or_else(|| format!("{id}: RouteId is not !Ref of a route"))?;
            two_way_routes.insert(key.clone());
        }
        let (ws_api, route_selection_expression) = by_type("AWS::ApiGatewayV2::Api")
            .find_map(|(id, api)| {
                let props = api.get("Properties")?;
                (props.get("ProtocolType")?.as_str()? == "WEBSOCKET")
                    .then(|| Some((id, props.get("RouteSelectionExpression")?.as_str()?.to_string())))?
            })
            .ok_or("template.yaml has no WEBSOCKET API with a RouteSelectionExpression")?;
        let ws_stage = by_type("AWS::ApiGatewayV2::Stage")
            .find_map(|(id, stage)| {
                let props = stage.get("Properties")?;
                (props.get("ApiId").and_then(reference) == Some(ws_api.as_str()))
                    .then(|| props.get("StageName").map(|name| scope.scalar(name, &format!("{id}.StageName"))))?
            })
            .ok_or_else(|| format!("template.yaml has no AWS::ApiGatewayV2::Stage with a StageName for {ws_api}"))??;
        // Locally the WebSocket API's id is a constant: the grants' `${WebSocketApi}` stand for it.
        let api_ids = BTreeMap::from([(ws_api.clone(), crate::account::WEBSOCKET_API_ID.to_string())]);
        let management_grants = policies::management_grants(&doc, &scope, &functions, &api_ids)?;

        let (table_id, table) = by_type("AWS::DynamoDB::Table").next().ok_or("template.yaml has no DynamoDB table")?;
        let table = TableDefinition::parse(&table_id, table.get("Properties").ok_or("table without Properties")?)?;

        let events = EventDefinitions::parse(&doc, &scope, &functions)?;
        let http_cors = Cors::of_api(&doc, http_api, &scope)?;
        let streams = streams::StreamDefinitions::parse(&doc, &scope, &functions, &events.queues)?;
        let bus = bus::BusDefinitions::parse(&doc, &scope, &functions, &events.queues)?;
        let bucket = BucketDefinition::of_template(&doc, &scope)?;
        let function_limits = limits::function_limits(&doc, &scope, &functions)?;
        let throttles = limits::stage_throttles(&doc, &scope)?;
        let variables = environment::variables_of(&doc, &scope, &functions);
        let environment = environment::variable_names(&variables);

        Ok(Self {
            events,
            streams,
            bus,
            ws_routes,
            two_way_routes,
            ws_stage,
            management_grants,
            connect_authorizer,
            route_selection_expression,
            http_function: http_function.ok_or("no function has an HttpApi event")?,
            http_cors,
            table,
            functions,
            bucket,
            function_limits,
            throttles,
            environment,
            variables,
        })
    }

    /// The binaries of every function an API route, authorizer, schedule rule or SQS mapping
    /// invokes.
    pub fn invoked_functions(&self) -> BTreeSet<&str> {
        let mut invoked: BTreeSet<&str> = self.ws_routes.values().map(String::as_str).collect();
        invoked.extend(self.connect_authorizer.iter().map(|a| a.function.as_str()));
        invoked.insert(&self.http_function);
        invoked.extend(self.events.schedules.iter().map(|r| r.function.as_str()));
        invoked.extend(self.events.queue_mappings.iter().map(|m| m.function.as_str()));
        invoked.extend(self.streams.mappings.iter().map(|m| m.function.as_str()));
        for target in self.bus.rules.iter().flat_map(|r| &r.targets) {
            if let bus::TargetKind::Lambda(function) = &target.kind {
                invoked.insert(function);
            }
        }
        invoked
    }

    /// Fails unless every function the template invokes is one of `available` (the binaries the
    /// caller can run), so a template naming a binary nobody built fails at start-up.
    pub fn require_functions<'a>(&self, available: impl IntoIterator<Item = &'a str>) -> Result<(), Error> {
        let available: BTreeSet<&str> = available.into_iter().collect();
        match self.invoked_functions().into_iter().find(|f| !available.contains(f)) {
            Some(missing) => Err(format!("binary {missing} has no handler among the functions this gateway runs")),
            None => Ok(()),
        }
    }
}
