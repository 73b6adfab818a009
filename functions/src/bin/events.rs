//! DynamoDB stream source: domain events to the bus, reporting partial batch failures.

#[tokio::main]
async fn main() -> Result<(), chat_functions::Error> {
    chat_functions::run(chat_functions::events::handle).await
}
