//! Every function of template.yaml by its cargo binary name, callable with the JSON event Lambda
//! would deliver. The local gateway invokes functions only through here, so what it runs is
//! exactly what the binaries run, including the event (de)serialisation.

use aws_lambda_events::apigw::{ApiGatewayV2httpResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body as EventBody;
use chat::App;
use lambda_http::Body;
use lambda_runtime::Error;
use serde_json::Value;

use crate::{events, http, push, scheduler, sweep, ws};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    WsAuthorizer,
    WsConnect,
    WsDisconnect,
    WsSend,
    WsReceipts,
    WsTyping,
    WsDefault,
    HttpApi,
    SchedulerPlanner,
    SchedulerDispatcher,
    SchedulerWorker,
    Events,
    Push,
    ConnectionSweeper,
}

impl Function {
    pub const ALL: [Function; 14] = [
        Function::WsAuthorizer,
        Function::WsConnect,
        Function::WsDisconnect,
        Function::WsSend,
        Function::WsReceipts,
        Function::WsTyping,
        Function::WsDefault,
        Function::HttpApi,
        Function::SchedulerPlanner,
        Function::SchedulerDispatcher,
        Function::SchedulerWorker,
        Function::Events,
        Function::Push,
        Function::ConnectionSweeper,
    ];

    /// The cargo binary (and the `BuildProperties.Binary` in template.yaml).
    pub fn binary(self) -> &'static str {
        match self {
            Function::WsAuthorizer => "ws-authorizer",
            Function::WsConnect => "ws-connect",
            Function::WsDisconnect => "ws-disconnect",
            Function::WsSend => "ws-send",
            Function::WsReceipts => "ws-receipts",
            Function::WsTyping => "ws-typing",
            Function::WsDefault => "ws-default",
            Function::HttpApi => "http-api",
            Function::SchedulerPlanner => "scheduler-planner",
            Function::SchedulerDispatcher => "scheduler-dispatcher",
            Function::SchedulerWorker => "scheduler-worker",
            Function::Events => "events",
            Function::Push => "push",
            Function::ConnectionSweeper => "connection-sweeper",
        }
    }

    pub fn from_binary(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.binary() == name)
    }
}

/// Runs `function` on a JSON event and returns its JSON answer, as the Lambda runtime would.
pub async fn invoke(app: &App, function: Function, event: Value) -> Result<Value, Error> {
    let answer = match function {
        Function::WsAuthorizer => {
            serde_json::to_value(ws::authorize(&app.tokens, serde_json::from_value(event)?).await?)?
        }
        Function::WsConnect => serde_json::to_value(ws::connect(app, websocket(event)?).await?)?,
        Function::WsDisconnect => serde_json::to_value(ws::disconnect(app, websocket(event)?).await?)?,
        Function::WsSend => serde_json::to_value(ws::send(app, websocket(event)?).await?)?,
        Function::WsReceipts => serde_json::to_value(ws::receipt(app, websocket(event)?).await?)?,
        Function::WsTyping => serde_json::to_value(ws::typing(app, websocket(event)?).await?)?,
        Function::WsDefault => serde_json::to_value(ws::default(app, websocket(event)?).await?)?,
        Function::HttpApi => {
            let request: lambda_http::request::LambdaRequest = serde_json::from_value(event)?;
            let response = http::handle(app, request.into()).await;
            serde_json::to_value(http_response(response))?
        }
        Function::SchedulerPlanner => {
            serde_json::to_value(scheduler::plan(app, serde_json::from_value(event)?).await?)?
        }
        Function::SchedulerDispatcher => {
            serde_json::to_value(scheduler::dispatch(app, serde_json::from_value(event)?).await?)?
        }
        Function::SchedulerWorker => serde_json::to_value(scheduler::work(app, serde_json::from_value(event)?).await?)?,
        Function::Events => events::handle(app, serde_json::from_value(event)?).await?,
        Function::Push => push::handle(app, serde_json::from_value(event)?).await?,
        Function::ConnectionSweeper => serde_json::to_value(sweep::sweep(app, serde_json::from_value(event)?).await?)?,
    };
    Ok(answer)
}

fn websocket(event: Value) -> Result<ApiGatewayWebsocketProxyRequest, Error> {
    Ok(serde_json::from_value(event)?)
}

/// The payload-2.0 answer lambda_http would serialise for this response.
fn http_response(response: lambda_http::Response<Body>) -> ApiGatewayV2httpResponse {
    let (parts, body) = response.into_parts();
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = parts.status.as_u16() as i64;
    out.headers = parts.headers;
    match body {
        Body::Text(text) => out.body = Some(EventBody::Text(text)),
        Body::Binary(bytes) => {
            out.body = Some(EventBody::Binary(bytes));
            out.is_base64_encoded = true;
        }
        _ => {}
    }
    out
}
