//! EventBridge cron: plans the day's automated messages (random pairs of active users).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    chat::telemetry::init_json_logs();
    // Built once per execution environment and kept for its whole life.
    let app: &'static chat::App = Box::leak(Box::new(chat::App::from_env().await?));
    lambda_runtime::run(service_fn(|event: LambdaEvent<EventBridgeEvent>| {
        chat_functions::scheduler::plan(app, event.payload)
    }))
    .await
}
