//! The HTTP API (payload 2.0, one `$default` route): a route table over the use cases.
//!
//! [`routes!`] below is the one list of REST routes. Each handler declares its method, path
//! pattern and OpenAPI operation in the `#[utoipa::path]` attribute above it (in the area files
//! beside this one); the router and docs/openapi.json are both built from that list.

mod auth;
mod conversations;
mod devices;
mod docs_page;
mod memberships;
mod messages;
mod meta;
pub mod openapi;
mod planned;
mod request;
mod router;
mod scheduled;
mod users;

use std::sync::LazyLock;

use chat::App;
use chat::error::ChatError;
use futures::future::BoxFuture;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

pub use meta::VERSION;
use request::{Ctx, Reply, error_response};
use router::{Handler, Lookup, Pattern, Route, Router};

/// Lists the handlers once and makes of that list both the OpenAPI operations (utoipa reads each
/// handler's `#[utoipa::path]`) and the handler of each operation, by the handler's name (which is
/// the operation's id until [`openapi`] writes it in camelCase).
macro_rules! routes {
    ($($area:ident :: $handler:ident),+ $(,)?) => {
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($area::$handler),+))]
        pub(crate) struct RouteOperations;

        const HANDLERS: &[(&str, Handler)] = &[$((stringify!($handler), {
            fn call<'a>(ctx: Ctx<'a>) -> BoxFuture<'a, Reply> {
                Box::pin($area::$handler(ctx))
            }
            call
        })),+];
    };
}

routes! {
    auth::register,
    auth::login,
    auth::refresh,
    auth::logout,
    users::get_me,
    users::patch_me,
    users::search_users,
    users::online_users,
    users::get_user,
    conversations::create_conversation,
    conversations::list_conversations,
    conversations::get_conversation,
    conversations::add_member,
    conversations::remove_member,
    messages::list_messages,
    messages::post_message,
    messages::edit_message,
    messages::delete_message,
    messages::mark_read,
    messages::clear_history,
    conversations::unread,
    scheduled::schedule_message,
    scheduled::list_scheduled_messages,
    scheduled::cancel_scheduled_message,
    meta::stats,
    meta::health,
    meta::openapi,
    meta::docs,
    devices::register_device,
    devices::list_devices,
    devices::delete_device,
    memberships::patch_membership,
}

/// The router, built on the first request of a Lambda instance from the operations' methods and
/// paths.
static ROUTER: LazyLock<Router> = LazyLock::new(|| {
    let operations = <RouteOperations as utoipa::OpenApi>::openapi();
    let mut routes = Vec::new();
    for (path, item) in &operations.paths.paths {
        for (method, operation) in openapi::operations_of(item) {
            let name = operation.operation_id.as_deref().unwrap_or_default();
            let handler = HANDLERS
                .iter()
                .find(|(handler, _)| *handler == name)
                .map(|(_, handler)| *handler)
                .unwrap_or_else(|| panic!("{method} {path}: no handler named {name}"));
            routes.push(Route { method, path: path.clone(), pattern: Pattern::parse(path), handler });
        }
    }
    Router::new(routes)
});

/// Every route as (method, path pattern), in the table's order.
pub fn routes() -> Vec<(&'static str, String)> {
    ROUTER.routes().iter().map(|route| (route.method, route.path.clone())).collect()
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let method = req.method().as_str().to_string();
    let path = route_path(&req);
    let result = dispatch(app, &req, &method, &path).await;
    let response = result.unwrap_or_else(|err| error_response(&err));
    tracing::info!(%method, %path, status = response.status().as_u16(), "request");
    response
}

async fn dispatch(app: &App, req: &Request, method: &str, path: &str) -> Reply {
    match ROUTER.find(method, path) {
        Lookup::Route(route, params) => {
            let ctx = Ctx::new(app, req, &params);
            users::refuse_unknown_caller(&ctx, path).await?;
            (route.handler)(ctx).await
        }
        Lookup::WrongMethod(allowed) => Ok(router::method_not_allowed(method, path, &allowed)),
        Lookup::NotFound => Err(ChatError::not_found("route")),
    }
}

/// The path without a stage prefix (HTTP APIs put a named stage in `rawPath`).
fn route_path(req: &Request) -> String {
    let raw = req.raw_http_path();
    let raw = if raw.is_empty() { req.uri().path() } else { raw };
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(stage) = ctx.stage.as_deref().filter(|s| *s != "$default")
        && let Some(rest) = raw.strip_prefix(&format!("/{stage}"))
        && (rest.is_empty() || rest.starts_with('/'))
    {
        return if rest.is_empty() { "/".into() } else { rest.into() };
    }
    raw.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_handler_serves_one_operation() {
        let routes = routes();
        assert_eq!(routes.len(), HANDLERS.len(), "{routes:?}");
        for (method, path) in
            [("GET", "/conversations/{id}/messages"), ("GET", "/openapi.json"), ("GET", "/users/online")]
        {
            assert!(routes.contains(&(method, path.to_string())), "{method} {path} not in {routes:?}");
        }
    }
}
