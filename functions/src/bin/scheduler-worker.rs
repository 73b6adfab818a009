//! SQS event source: sends scheduled messages, reporting partial batch failures.

#[tokio::main]
async fn main() -> Result<(), chat_functions::Error> {
    chat_functions::run(chat_functions::scheduler::work).await
}
