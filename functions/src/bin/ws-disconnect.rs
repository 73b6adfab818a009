//! WebSocket API: the `$disconnect` route.

#[tokio::main]
async fn main() -> Result<(), chat_functions::Error> {
    chat_functions::run(chat_functions::ws::disconnect).await
}
