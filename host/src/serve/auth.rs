//! Who may call a plugin's routes.
//!
//! In Backstage's spirit, small but real: a plugin route needs a credential
//! unless the plugin marked its path open. Configuration grants static
//! tokens to external callers, each limited to named plugins or not; an
//! explicit development setting opens everything, and the host says so
//! loudly when it starts.

use std::fmt;

use axum::http::{HeaderMap, StatusCode, header::AUTHORIZATION};

/// The policy for plugin routes.
#[derive(Clone, Debug, Default)]
pub struct AuthPolicy {
    /// Every route is open (`backend.auth.dangerouslyDisableDefaultAuthPolicy`).
    pub open: bool,
    /// Tokens external callers may present as `Authorization: Bearer …`.
    pub tokens: Vec<StaticToken>,
}

/// A token granted to an external caller.
#[derive(Clone)]
pub struct StaticToken {
    /// The secret itself.
    pub token: String,
    /// Who presents it, for the log.
    pub subject: String,
    /// The plugins it opens; `None` for every plugin.
    pub plugins: Option<Vec<String>>,
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticToken")
            .field("token", &"<secret>")
            .field("subject", &self.subject)
            .field("plugins", &self.plugins)
            .finish()
    }
}

/// Why a request was not let through.
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) name: &'static str,
    pub(crate) message: String,
}

/// Who is calling: a token's subject, or nobody on an open path.
pub(crate) enum Caller {
    /// An open path or an open policy.
    Anyone,
    /// A static token's subject.
    Subject(String),
}

impl AuthPolicy {
    /// Decides whether a request for `path` below `plugin_id`'s mount point
    /// may reach the plugin.
    pub(crate) fn authorize(
        &self,
        plugin_id: &str,
        path: &str,
        open_paths: &[String],
        headers: &HeaderMap,
    ) -> Result<Caller, Refusal> {
        if self.open || open_paths.iter().any(|open| is_below(path, open)) {
            // A host token sent anyway is still the host's: it is taken off
            // and its subject passed on, never the token itself.
            let known = bearer(headers).and_then(|presented| self.known(presented));
            return Ok(known.map_or(Caller::Anyone, |token| {
                Caller::Subject(token.subject.clone())
            }));
        }
        let Some(presented) = bearer(headers) else {
            return Err(Refusal {
                status: StatusCode::UNAUTHORIZED,
                name: "AuthenticationError",
                message: format!(
                    "plugin `{plugin_id}` needs a credential for {path}: send \
                     `Authorization: Bearer <token>` with a token from backend.auth.externalAccess"
                ),
            });
        };
        let Some(token) = self.known(presented) else {
            return Err(Refusal {
                status: StatusCode::UNAUTHORIZED,
                name: "AuthenticationError",
                message: "the bearer token is not one this host knows".to_string(),
            });
        };
        match &token.plugins {
            Some(plugins) if !plugins.iter().any(|allowed| allowed == plugin_id) => Err(Refusal {
                status: StatusCode::FORBIDDEN,
                name: "NotAllowedError",
                message: format!(
                    "the token of `{}` does not open plugin `{plugin_id}`",
                    token.subject
                ),
            }),
            _ => Ok(Caller::Subject(token.subject.clone())),
        }
    }
}

impl AuthPolicy {
    /// Decides whether a request may read the host's own reports (the
    /// instance endpoint): any known token, or an open policy.
    pub(crate) fn authorize_host(&self, headers: &HeaderMap) -> Result<Caller, Refusal> {
        if self.open {
            return Ok(Caller::Anyone);
        }
        let refusal = |message: &str| Refusal {
            status: StatusCode::UNAUTHORIZED,
            name: "AuthenticationError",
            message: message.to_string(),
        };
        let presented = bearer(headers).ok_or_else(|| {
            refusal(
                "the instance report needs a credential: send `Authorization: Bearer <token>` \
                 with a token from backend.auth.externalAccess",
            )
        })?;
        let token = self
            .known(presented)
            .ok_or_else(|| refusal("the bearer token is not one this host knows"))?;
        if token.plugins.is_some() {
            return Err(Refusal {
                status: StatusCode::FORBIDDEN,
                name: "NotAllowedError",
                message: format!(
                    "the token of `{}` opens only some plugins; the instance report needs a \
                     token without accessRestrictions",
                    token.subject
                ),
            });
        }
        Ok(Caller::Subject(token.subject.clone()))
    }

    /// The configured token `presented` is, compared in constant time.
    fn known(&self, presented: &[u8]) -> Option<&StaticToken> {
        self.tokens
            .iter()
            .find(|token| same(token.token.as_bytes(), presented))
    }
}

/// Whether `path` is `prefix` itself or below it.
fn is_below(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    path == prefix
        || prefix.is_empty()
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    let scheme = value.get(..7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| &value[7..])
        .filter(|token| !token.is_empty())
}

/// Compares two byte strings in time that depends only on their lengths.
fn same(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn policy() -> AuthPolicy {
        AuthPolicy {
            open: false,
            tokens: vec![
                StaticToken {
                    token: "catalog-only".to_string(),
                    subject: "indexer".to_string(),
                    plugins: Some(vec!["catalog".to_string()]),
                },
                StaticToken {
                    token: "everything".to_string(),
                    subject: "admin".to_string(),
                    plugins: None,
                },
            ],
        }
    }

    fn headers(authorization: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn outcome(
        plugin: &str,
        path: &str,
        authorization: Option<&str>,
    ) -> Result<String, (u16, String)> {
        let open = ["/health".to_string()];
        match policy().authorize(plugin, path, &open, &headers(authorization)) {
            Ok(Caller::Anyone) => Ok("anyone".to_string()),
            Ok(Caller::Subject(subject)) => Ok(subject),
            Err(refusal) => Err((refusal.status.as_u16(), refusal.message)),
        }
    }

    #[test]
    fn open_paths_need_no_credential() {
        assert_eq!(
            outcome("catalog", "/health", None),
            Ok("anyone".to_string())
        );
        assert_eq!(
            outcome("catalog", "/health/deep", None),
            Ok("anyone".to_string())
        );
        assert_eq!(outcome("catalog", "/healthz", None).unwrap_err().0, 401);
    }

    #[test]
    fn other_paths_need_a_known_token() {
        assert_eq!(
            outcome("catalog", "/entities", None),
            Err((
                401,
                "plugin `catalog` needs a credential for /entities: send `Authorization: Bearer \
                 <token>` with a token from backend.auth.externalAccess"
                    .to_string()
            ))
        );
        assert_eq!(
            outcome("catalog", "/entities", Some("Bearer wrong")),
            Err((
                401,
                "the bearer token is not one this host knows".to_string()
            ))
        );
        assert_eq!(
            outcome("catalog", "/entities", Some("bearer catalog-only")),
            Ok("indexer".to_string())
        );
    }

    #[test]
    fn a_token_limited_to_plugins_opens_only_those() {
        assert_eq!(
            outcome("search", "/query", Some("Bearer catalog-only")),
            Err((
                403,
                "the token of `indexer` does not open plugin `search`".to_string()
            ))
        );
        assert_eq!(
            outcome("search", "/query", Some("Bearer everything")),
            Ok("admin".to_string())
        );
    }

    #[test]
    fn an_open_policy_lets_everything_through() {
        let open = AuthPolicy {
            open: true,
            tokens: Vec::new(),
        };
        let result = open.authorize("catalog", "/entities", &[], &HeaderMap::new());
        assert!(matches!(result, Ok(Caller::Anyone)));
    }

    #[test]
    fn tokens_never_show_in_debug_output() {
        assert!(!format!("{:?}", policy()).contains("catalog-only"));
    }
}
