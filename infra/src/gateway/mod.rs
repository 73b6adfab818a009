//! A local API Gateway: the WebSocket API (`websocket.rs`) with its Management API
//! (`connections.rs`) on one port, and the HTTP API (`http_api.rs`) on another, built from
//! template.yaml's routes. It knows API Gateway's behaviour and event shapes, nothing of chat:
//! every request becomes the JSON event AWS would send, handed to an [`Invoke`] by function name.

mod authorizer;
mod connections;
mod header_case;
mod http_api;
mod route;
mod sigv4;
mod socket;
mod state;
mod throttle;
mod web_app;
mod websocket;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::any;
use tokio::net::TcpListener;

pub use sigv4::{LocalCredentials, Principal};
pub use socket::{ConnectionLimits, MAX_FRAME_BYTES};
pub use state::{CallCounts, MAX_MESSAGE_BYTES};
use state::{GatewayState, Outbound};

use crate::invoke::Invoke;
use crate::template::Template;

/// The stage is the template's (`Template::ws_stage`), the API id `account::WEBSOCKET_API_ID`.
pub struct GatewayOptions {
    /// Extra routes on the HTTP port, ahead of the HTTP API (`/_local/schedules/{name}/run`).
    pub admin: Option<Router>,
    /// Idle timeout and maximum duration of a WebSocket connection.
    pub limits: ConnectionLimits,
    /// The web client's folder, served on the HTTP port for paths that are not the API's.
    pub web_root: Option<std::path::PathBuf>,
    /// The access keys `@connections` accepts signatures of: the developer's, and each
    /// function's own (`LocalCredentials::with_functions`).
    pub credentials: LocalCredentials,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            admin: None,
            limits: ConnectionLimits::default(),
            web_root: None,
            credentials: LocalCredentials::new([crate::account::local_credentials()]),
        }
    }
}

/// A running gateway; dropping it stops both servers.
pub struct RunningGateway {
    pub http_addr: SocketAddr,
    pub ws_addr: SocketAddr,
    state: Arc<GatewayState>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningGateway {
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.ws_addr)
    }
    /// Connection ids the gateway holds open (for tests of `@connections` and `$disconnect`).
    pub fn open_connections(&self) -> Vec<String> {
        self.state.connections.lock().expect("connections lock").keys().cloned().collect()
    }
    /// The stage every `@connections` path starts with (the template's).
    pub fn stage(&self) -> &str {
        &self.state.stage
    }
    /// The `@connections` calls each function signed: (logical id, method) → how many its
    /// template policy allowed and refused.
    pub fn management_calls(&self) -> BTreeMap<(String, String), CallCounts> {
        self.state.management_calls.lock().expect("calls lock").clone()
    }
    /// Drops a connection's socket without telling the backend, like a network failure that API
    /// Gateway has noticed but whose `$disconnect` never reached the backend.
    pub fn drop_silently(&self, connection_id: &str) -> bool {
        let removed = self.state.connections.lock().expect("connections lock").remove(connection_id);
        match removed {
            Some(conn) => {
                conn.silent.store(1, Ordering::SeqCst);
                let _ = conn.outbound.send(Outbound::Close(1006, String::new()));
                true
            }
            None => false,
        }
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Serves the template's WebSocket API (and `@connections`) on `ws_listener` and its HTTP API on
/// `http_listener`, invoking functions through `invoker`.
pub async fn serve(
    invoker: Arc<dyn Invoke>,
    template: Template,
    options: GatewayOptions,
    ws_listener: TcpListener,
    http_listener: TcpListener,
) -> std::io::Result<RunningGateway> {
    let route_path =
        route::parse_selection_expression(&template.route_selection_expression).map_err(std::io::Error::other)?;
    let GatewayOptions { admin, limits, web_root, credentials } = options;
    let stage = template.ws_stage.clone();
    let api_id = crate::account::WEBSOCKET_API_ID.to_string();
    let ws_addr = ws_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;
    let web =
        web_root.map(|root| web_app::WebApp::new(root, &format!("http://{http_addr}"), &format!("ws://{ws_addr}")));
    let buckets = throttle::StageBuckets::new(&template.throttles, template.ws_routes.keys());
    let state = Arc::new(GatewayState {
        invoker,
        template,
        stage,
        api_id,
        route_path,
        limits,
        buckets,
        credentials,
        web,
        connections: Mutex::new(HashMap::new()),
        management_calls: Mutex::new(BTreeMap::new()),
    });

    let ws_router = Router::new()
        .route("/@connections/{id}", any(connections::management_without_stage))
        .route("/{stage}/@connections/{id}", any(connections::management))
        .fallback(websocket::websocket_handshake)
        .with_state(state.clone());
    let mut http_router = Router::new().fallback(http_api::http_api).with_state(state.clone());
    if let Some(admin) = admin {
        http_router = admin.merge(http_router);
    }

    let ws_task = tokio::spawn(async move {
        let service = ws_router.into_make_service_with_connect_info::<header_case::Peer>();
        if let Err(e) = axum::serve(header_case::CaseKeepingListener(ws_listener), service).await {
            tracing::error!(error = %e, "WebSocket server stopped");
        }
    });
    let http_task = tokio::spawn(async move {
        let service = http_router.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(http_listener, service).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok(RunningGateway { http_addr, ws_addr, state, tasks: vec![ws_task, http_task] })
}
