//! HTTP API: every REST endpoint behind the `$default` route.

#[tokio::main]
async fn main() -> Result<(), chat_functions::Error> {
    chat_functions::run_http(chat_functions::http::handle).await
}
