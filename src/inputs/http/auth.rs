//! Who may send: `auth: {bearer_token: …}` or `auth: {username: …, password: …}` (HTTP Basic). A
//! request without the right credentials is answered 401 and nothing of it is read.

use base64::Engine as _;
use hyper::HeaderMap;
use hyper::header;
use serde::Deserialize;

/// A secret that never shows in logs or `Debug` output.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `auth:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Requests must carry `Authorization: Bearer <token>`.
    #[serde(default)]
    pub bearer_token: Option<Secret>,
    /// With `password`: requests must carry `Authorization: Basic …` with these.
    #[serde(default)]
    pub username: Option<String>,
    /// The Basic password.
    #[serde(default)]
    pub password: Option<Secret>,
}

impl AuthConfig {
    /// What is wrong with the section: `(key under auth, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let basic = self.username.is_some() || self.password.is_some();
        if self.bearer_token.is_some() && basic {
            out.push(("bearer_token", "choose one way to authenticate: `bearer_token`, or `username` with `password`".to_string()));
        }
        if self.username.is_some() != self.password.is_some() {
            out.push(("username", "`username` and `password` go together: set both, or neither".to_string()));
        }
        if self.bearer_token.as_ref().is_some_and(|t| t.0.is_empty()) {
            out.push(("bearer_token", "`bearer_token` is empty: set a token, or remove `auth`".to_string()));
        }
        out
    }

    /// Whether any credentials are required.
    pub fn required(&self) -> bool {
        self.bearer_token.is_some() || self.username.is_some()
    }

    /// Whether the request presents the configured credentials (always true when none are configured).
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        if !self.required() {
            return true;
        }
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        if let Some(token) = &self.bearer_token {
            return given
                .strip_prefix("Bearer ")
                .is_some_and(|g| same_secret(g.trim().as_bytes(), token.expose().as_bytes()));
        }
        let (Some(user), Some(password)) = (&self.username, &self.password) else {
            return false;
        };
        let Some(encoded) = given.strip_prefix("Basic ") else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let expected = format!("{user}:{}", password.expose());
        same_secret(&decoded, expected.as_bytes())
    }

    /// The `WWW-Authenticate` challenge of a 401.
    pub fn challenge(&self) -> &'static str {
        if self.bearer_token.is_some() {
            "Bearer realm=\"logward\""
        } else {
            "Basic realm=\"logward\""
        }
    }
}

/// Compares without stopping at the first difference, so response times do not reveal the secret.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, auth.parse().unwrap());
        h
    }

    #[test]
    fn bearer_and_basic_credentials_are_checked() {
        let bearer = AuthConfig {
            bearer_token: Some(Secret("s3cret".into())),
            ..AuthConfig::default()
        };
        assert!(bearer.allows(&headers("Bearer s3cret")));
        assert!(!bearer.allows(&headers("Bearer s3cre")));
        assert!(!bearer.allows(&HeaderMap::new()));
        let basic = AuthConfig {
            username: Some("app".into()),
            password: Some(Secret("pw".into())),
            ..AuthConfig::default()
        };
        let good = base64::engine::general_purpose::STANDARD.encode("app:pw");
        assert!(basic.allows(&headers(&format!("Basic {good}"))));
        assert!(!basic.allows(&headers("Basic !!!notbase64")));
        assert!(!basic.allows(&headers("Bearer pw")));
        assert!(AuthConfig::default().allows(&HeaderMap::new()));
        assert_eq!(format!("{:?}", bearer.bearer_token), "Some(<redacted>)");
    }
}
