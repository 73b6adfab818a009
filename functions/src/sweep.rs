//! `connection-sweeper` (EventBridge `rate(2 minutes)`): removes the connections that have been
//! silent past API Gateway's idle timeout and announces `offline` for the users they leave
//! without one — the repair of the `$disconnect`s that failed, which API Gateway never retries
//! (chat::service::connections).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chat::App;
use chat::domain::time;
use chat::protocol::directory::SweepReport;
use chat::service::{connections, push};
use lambda_runtime::Error;

pub async fn sweep(app: &App, _event: EventBridgeEvent) -> Result<SweepReport, Error> {
    let (report, pushes) = connections::sweep(app, time::now().timestamp()).await?;
    push::deliver(app, pushes).await.log("sweep");
    tracing::info!(
        expired = report.expired,
        removed = report.removed,
        failed = report.failed,
        offline = report.offline,
        more = report.more,
        "connections swept"
    );
    Ok(report)
}
