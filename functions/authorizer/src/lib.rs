//! The `$connect` authorizer, on its own: a token in, an IAM policy with the user id out. It needs
//! the token service and nothing else, so it is built from `chat` without the AWS adapters and
//! reads its keys with one signed SSM call (`keys.rs`, `ssm.rs`): no AWS SDK to load at init
//! (docs/architecture.md, "Init"). The local gateway calls the same [`authorize`] through
//! `chat_functions::registry` with the App's token service.

mod https;
pub mod keys;
pub mod ssm;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::http::HeaderMap;
use aws_lambda_events::http::header::SEC_WEBSOCKET_PROTOCOL;
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use chat::auth::TokenService;
use chat::service::connections;
use lambda_runtime::Error;
use serde_json::json;

/// The authorizer's context key that carries the user id into every later event of a connection,
/// so no message handler reads the database to learn who is speaking.
pub const USER_ID_KEY: &str = "userId";

/// The subprotocol a client offers to say it speaks this protocol; the token rides beside it as
/// `token.<access token>` (docs/protocol.md), which keeps it out of URLs and access logs.
pub const SUBPROTOCOL: &str = "chat";
const TOKEN_SUBPROTOCOL_PREFIX: &str = "token.";

/// The subprotocols a handshake offers (`Sec-WebSocket-Protocol: chat, token.<jwt>`), in order.
pub fn offered_subprotocols(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// Lambda REQUEST authorizer on `$connect`. The token comes from `?token=` or from the
/// subprotocol `token.<jwt>`; the template declares no identity source so that either works
/// (API Gateway would refuse a handshake missing a declared one before calling this).
/// A refused or missing token is the error `Unauthorized`, which API Gateway turns into HTTP 401.
pub async fn authorize(
    tokens: &TokenService,
    event: ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> Result<ApiGatewayCustomAuthorizerResponse, Error> {
    let token = event.query_string_parameters.first("token").filter(|t| !t.is_empty()).or_else(|| {
        offered_subprotocols(&event.headers).into_iter().find_map(|p| p.strip_prefix(TOKEN_SUBPROTOCOL_PREFIX))
    });
    let user_id = match connections::authorize(tokens, token) {
        Ok(user_id) => user_id,
        Err(_) => return Err("Unauthorized".into()),
    };
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".into()];
    statement.effect = IamPolicyEffect::Allow;
    statement.resource = vec![event.method_arn.unwrap_or_else(|| "*".into())];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".into());
    policy.statement = vec![statement];
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    response.principal_id = Some(user_id.clone());
    response.policy_document = policy;
    response.context = json!({ USER_ID_KEY: user_id });
    Ok(response)
}
