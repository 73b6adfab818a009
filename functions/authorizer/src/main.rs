//! WebSocket API: the `$connect` authorizer. Init reads the token settings and, when a parameter
//! is named, the JWT keys from SSM; nothing else (no AWS SDK, no table, no clients).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    chat::telemetry::init_json_logs();
    let tokens = chat_authorizer::keys::token_service().await?;
    let tokens = &tokens;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<_>| {
        chat_authorizer::authorize(tokens, event.payload)
    }))
    .await
}
