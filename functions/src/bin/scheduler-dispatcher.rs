//! EventBridge rate(1 minute): moves every due scheduled message to SQS.

#[tokio::main]
async fn main() -> Result<(), chat_functions::Error> {
    chat_functions::run(chat_functions::scheduler::dispatch).await
}
