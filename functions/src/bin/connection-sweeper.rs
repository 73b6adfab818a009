//! EventBridge `rate(2 minutes)`: removes dead connections, announces `offline` for them.

#[tokio::main]
async fn main() -> Result<(), chat_functions::Error> {
    chat_functions::run(chat_functions::sweep::sweep).await
}
