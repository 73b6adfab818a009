//! Baseline of `make bench`'s init measurement: an empty `lambda_runtime` function, built with the
//! same profile as the functions.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(lambda_runtime::service_fn(|_: lambda_runtime::LambdaEvent<serde_json::Value>| async {
        Ok::<_, lambda_runtime::Error>(serde_json::Value::Null)
    }))
    .await
}
