//! EventBridge rule on message.created: mobile push to offline members' devices.

#[tokio::main]
async fn main() -> Result<(), chat_functions::Error> {
    chat_functions::run(chat_functions::push::handle).await
}
