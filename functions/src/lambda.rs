//! What every binary in `src/bin/` does: JSON logs, one [`App`] built for the whole life of the
//! execution environment, then the runtime loop handing each event to one handler. The App lives
//! on `main`'s stack and the handler borrows it, as in the aws-lambda-rust-runtime examples.

use std::future::Future;

use chat::App;
use lambda_runtime::{Error, LambdaEvent};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An `async fn(&App, E) -> Output` whose future may borrow the App (what every handler of this
/// crate is). Spelled as a trait so the future's type can depend on the borrow's lifetime.
pub trait Handler<'a, E>: Fn(&'a App, E) -> Self::Future {
    type Future: Future<Output = Self::Answer> + Send + 'a;
    type Answer;
}

impl<'a, E, F, Fut> Handler<'a, E> for F
where
    F: Fn(&'a App, E) -> Fut,
    Fut: Future + Send + 'a,
{
    type Future = Fut;
    type Answer = Fut::Output;
}

async fn start() -> Result<App, Error> {
    chat::telemetry::init_json_logs();
    Ok(App::from_env().await?)
}

/// Serves `handler` with `lambda_runtime`: events arrive as JSON and answers leave as JSON.
pub async fn run<E, R, H>(handler: H) -> Result<(), Error>
where
    E: DeserializeOwned,
    R: Serialize,
    H: for<'a> Handler<'a, E, Answer = Result<R, Error>>,
{
    let app = start().await?;
    let (app, handler) = (&app, &handler);
    lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<E>| handler(app, event.payload))).await
}

/// Serves `handler` with `lambda_http`, which turns the HTTP API's payload into a request and the
/// response back into the payload API Gateway expects.
pub async fn run_http<H>(handler: H) -> Result<(), Error>
where
    H: for<'a> Handler<'a, lambda_http::Request, Answer = lambda_http::Response<lambda_http::Body>>,
{
    let app = start().await?;
    let (app, handler) = (&app, &handler);
    lambda_http::run(lambda_http::service_fn(move |request| {
        let response = handler(app, request);
        async move { Ok::<_, Error>(response.await) }
    }))
    .await
}
