//! EventBridge cron: plans the day's automated messages (random pairs of active users).

#[tokio::main]
async fn main() -> Result<(), chat_functions::Error> {
    chat_functions::run(chat_functions::scheduler::plan).await
}
