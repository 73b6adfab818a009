//! Path patterns and the choice of a route: which handler answers a method and path, and whether
//! an unserved method meets a path some route knows (405 with `Allow`, as HTTP says) or nothing
//! knows the path (404).

use futures::future::BoxFuture;

use super::request::{Ctx, Reply};

/// A route handler: one async function per route.
pub type Handler = for<'a> fn(Ctx<'a>) -> BoxFuture<'a, Reply>;

/// A path pattern such as `/conversations/{id}/messages`: literal segments and `{params}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param,
}

impl Pattern {
    pub fn parse(pattern: &str) -> Self {
        let segments = split(pattern)
            .map(|s| if s.starts_with('{') && s.ends_with('}') { Segment::Param } else { Segment::Literal(s.into()) })
            .collect();
        Self { segments }
    }

    /// The values of the `{params}` when `segments` (a split request path) fit the pattern. A
    /// parameter takes any one segment, even an empty one (`/conversations//messages`).
    pub fn capture<'p>(&self, segments: &[&'p str]) -> Option<Vec<&'p str>> {
        if segments.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (pattern, segment) in self.segments.iter().zip(segments) {
            match pattern {
                Segment::Literal(literal) if literal != segment => return None,
                Segment::Literal(_) => {}
                Segment::Param => params.push(*segment),
            }
        }
        Some(params)
    }

    /// How many segments are literal: the more, the more specific (`/users/online` over `/users/{id}`).
    fn literals(&self) -> usize {
        self.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count()
    }
}

/// A request path as segments: surrounding slashes do not count (`/me/` is `/me`).
pub fn split(path: &str) -> impl Iterator<Item = &str> {
    path.trim_matches('/').split('/')
}

pub struct Route {
    /// Upper case, as `Request::method` spells it.
    pub method: &'static str,
    pub path: String,
    pub pattern: Pattern,
    pub handler: Handler,
}

/// What a request path and method come to.
pub enum Lookup<'r, 'p> {
    Route(&'r Route, Vec<&'p str>),
    /// Some route serves this path, with another method: these, sorted.
    WrongMethod(Vec<&'static str>),
    NotFound,
}

pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    pub fn new(routes: Vec<Route>) -> Self {
        Self { routes }
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn find<'r, 'p>(&'r self, method: &str, path: &'p str) -> Lookup<'r, 'p> {
        let segments: Vec<&str> = split(path).collect();
        let mut allowed = Vec::new();
        let mut best: Option<(&Route, Vec<&str>)> = None;
        for route in &self.routes {
            let Some(params) = route.pattern.capture(&segments) else { continue };
            allowed.push(route.method);
            let better = best.as_ref().is_none_or(|(b, _)| route.pattern.literals() > b.pattern.literals());
            if route.method == method && better {
                best = Some((route, params));
            }
        }
        match best {
            Some((route, params)) => Lookup::Route(route, params),
            None if allowed.is_empty() => Lookup::NotFound,
            None => {
                allowed.sort_unstable();
                allowed.dedup();
                Lookup::WrongMethod(allowed)
            }
        }
    }
}

/// 405 with the `Allow` header; the body is the usual error (`invalid_input`).
pub fn method_not_allowed(method: &str, path: &str, allowed: &[&str]) -> lambda_http::Response<lambda_http::Body> {
    let err = chat::error::ChatError::invalid(format!("method {method} is not allowed on {path}"));
    let mut response = super::request::error_response(&err);
    *response.status_mut() = lambda_http::http::StatusCode::METHOD_NOT_ALLOWED;
    if let Ok(value) = allowed.join(", ").parse() {
        response.headers_mut().insert("allow", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never(_: Ctx<'_>) -> BoxFuture<'_, Reply> {
        unreachable!("the router tests never call a handler")
    }

    fn router() -> Router {
        let route =
            |method, path: &str| Route { method, path: path.into(), pattern: Pattern::parse(path), handler: never };
        Router::new(vec![
            route("GET", "/users/{id}"),
            route("GET", "/users/online"),
            route("DELETE", "/conversations/{id}/members/{userId}"),
            route("GET", "/me"),
        ])
    }

    fn found(router: &Router, method: &str, path: &str) -> String {
        match router.find(method, path) {
            Lookup::Route(route, params) => format!("{} {} {params:?}", route.method, route.path),
            Lookup::WrongMethod(allowed) => format!("wrong method, allow {}", allowed.join(", ")),
            Lookup::NotFound => "not found".into(),
        }
    }

    #[test]
    fn literal_segments_win_over_parameters_whatever_the_order() {
        let router = router();
        assert_eq!(found(&router, "GET", "/users/online"), "GET /users/online []");
        assert_eq!(found(&router, "GET", "/users/u1"), "GET /users/{id} [\"u1\"]");
    }

    #[test]
    fn parameters_are_captured_in_order_and_may_be_empty() {
        let router = router();
        assert_eq!(
            found(&router, "DELETE", "/conversations/c1/members/u2"),
            "DELETE /conversations/{id}/members/{userId} [\"c1\", \"u2\"]"
        );
        assert_eq!(
            found(&router, "DELETE", "/conversations//members/u2"),
            "DELETE /conversations/{id}/members/{userId} [\"\", \"u2\"]"
        );
    }

    #[test]
    fn surrounding_slashes_do_not_count() {
        let router = router();
        assert_eq!(found(&router, "GET", "/me/"), "GET /me []");
        assert_eq!(found(&router, "GET", "//me"), "GET /me []");
    }

    #[test]
    fn a_known_path_with_another_method_is_a_wrong_method_else_not_found() {
        let router = router();
        assert_eq!(found(&router, "POST", "/me"), "wrong method, allow GET");
        assert_eq!(found(&router, "GET", "/conversations/c1/members/u2"), "wrong method, allow DELETE");
        assert_eq!(found(&router, "POST", "/users/online"), "wrong method, allow GET");
        assert_eq!(found(&router, "GET", "/auth/anything"), "not found");
        assert_eq!(found(&router, "GET", "/nope"), "not found");
        assert_eq!(found(&router, "GET", "/"), "not found");
        assert_eq!(found(&router, "GET", "/me/more"), "not found");
    }
}
