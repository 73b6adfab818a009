//! WebSocket API: the `$default` route.

#[tokio::main]
async fn main() -> Result<(), chat_functions::Error> {
    chat_functions::run(chat_functions::ws::default).await
}
