//! HTTP API: every REST endpoint behind the `$default` route.

use lambda_http::{Error, Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    chat::telemetry::init_json_logs();
    // Built once per execution environment and kept for its whole life.
    let app: &'static chat::App = Box::leak(Box::new(chat::App::from_env().await?));
    lambda_http::run(service_fn(
        |req: Request| async move { Ok::<_, Error>(chat_functions::http::handle(app, req).await) },
    ))
    .await
}
