//! The HTTP API's `CorsConfiguration` (template.yaml's `HttpApi`, or `Globals.HttpApi`), which
//! the local HTTP API answers with as API Gateway does.

use serde_yaml_ng::Value;

use super::intrinsics::{Error, Scope};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_headers: Vec<String>,
    pub allow_methods: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<i64>,
    pub allow_credentials: bool,
}

impl Cors {
    /// The configuration of the API named by `api` (a logical id), else of `Globals.HttpApi`
    /// (SAM applies it to every HTTP API); `None` when neither configures CORS.
    pub fn of_api(doc: &Value, api: Option<&str>, scope: &Scope) -> Result<Option<Self>, Error> {
        let own = api.and_then(|id| doc.get("Resources")?.get(id)?.get("Properties")?.get("CorsConfiguration"));
        let global = || doc.get("Globals")?.get("HttpApi")?.get("CorsConfiguration");
        match own.or_else(global) {
            None => Ok(None),
            Some(config) => Self::parse(config, scope).map(Some),
        }
    }

    fn parse(config: &Value, scope: &Scope) -> Result<Self, Error> {
        if !config.is_mapping() {
            return Err("CorsConfiguration: only the mapping form (AllowOrigins, ...) is emulated".into());
        }
        let list = |key: &str| match config.get(key) {
            None => Ok(Vec::new()),
            Some(v) => scope.strings(v, &format!("CorsConfiguration.{key}")),
        };
        let allow_credentials = match config.get("AllowCredentials") {
            None => false,
            Some(v) => scope.scalar(v, "CorsConfiguration.AllowCredentials")? == "true",
        };
        Ok(Cors {
            allow_origins: list("AllowOrigins")?,
            allow_headers: list("AllowHeaders")?,
            allow_methods: list("AllowMethods")?,
            expose_headers: list("ExposeHeaders")?,
            max_age: scope.number(config.get("MaxAge"), "CorsConfiguration.MaxAge")?,
            allow_credentials,
        })
    }

    /// The `access-control-*` headers for a request from `origin`: `*` when every origin is
    /// allowed, the request's own origin when it is listed, and none for any other origin.
    pub fn headers(&self, origin: Option<&str>) -> Vec<(&'static str, String)> {
        let allowed = if self.allow_origins.iter().any(|o| o == "*") {
            "*".to_string()
        } else {
            match origin.filter(|o| self.allow_origins.iter().any(|allowed| allowed == o)) {
                Some(origin) => origin.to_string(),
                None => return Vec::new(),
            }
        };
        let mut headers = vec![("access-control-allow-origin", allowed)];
        let mut add = |name, values: &[String]| {
            if !values.is_empty() {
                headers.push((name, values.join(",")));
            }
        };
        add("access-control-allow-headers", &self.allow_headers);
        add("access-control-allow-methods", &self.allow_methods);
        add("access-control-expose-headers", &self.expose_headers);
        if let Some(max_age) = self.max_age {
            headers.push(("access-control-max-age", max_age.to_string()));
        }
        if self.allow_credentials {
            headers.push(("access-control-allow-credentials", "true".into()));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_origins_are_echoed_and_others_get_no_headers() {
        let cors = Cors {
            allow_origins: vec!["https://a.example".into(), "https://b.example".into()],
            allow_methods: vec!["GET".into(), "POST".into()],
            allow_credentials: true,
            ..Cors::default()
        };
        assert_eq!(
            cors.headers(Some("https://b.example")),
            vec![
                ("access-control-allow-origin", "https://b.example".to_string()),
                ("access-control-allow-methods", "GET,POST".to_string()),
                ("access-control-allow-credentials", "true".to_string()),
            ]
        );
        assert!(cors.headers(Some("https://evil.example")).is_empty());
        assert!(cors.headers(None).is_empty());
    }
}
