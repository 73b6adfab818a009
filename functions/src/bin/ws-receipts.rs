//! WebSocket API: the `delivered` and `read` routes (one function).

#[tokio::main]
async fn main() -> Result<(), chat_functions::Error> {
    chat_functions::run(chat_functions::ws::receipt).await
}
