//! Baseline of `make bench`'s init measurement: an empty `lambda_runtime` function that also loads
//! the AWS SDK's config and builds a DynamoDB client with the SDK's default HTTPS client, as the
//! functions did before `chat::aws::sdk_config`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let client = &client;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |_: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            let _ = client;
            Ok::<_, lambda_runtime::Error>(serde_json::Value::Null)
        },
    ))
    .await
}
