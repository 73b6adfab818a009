//! Logging: one JSON object per line on stdout, which CloudWatch Logs indexes as fields.

/// Installs the JSON subscriber once; the level comes from `RUST_LOG` (default `info`).
pub fn init_json_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .without_time() // CloudWatch stamps every line already
        .try_init();
}

/// Human-readable logs on stderr for the local gateway (stdout carries its URLs).
pub fn init_pretty_logs() {
    init_pretty_logs_at("info");
}

/// As [`init_pretty_logs`], at `default` unless `RUST_LOG` says otherwise.
pub fn init_pretty_logs_at(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr).try_init();
}
