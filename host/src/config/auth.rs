//! The HTTP auth policy from `backend.auth`, in Backstage's key names:
//!
//! ```yaml
//! backend:
//!   auth:
//!     dangerouslyDisableDefaultAuthPolicy: false   # true opens every route
//!     externalAccess:
//!       - type: static
//!         options:
//!           token: ${INDEXER_TOKEN}
//!           subject: indexer
//!         accessRestrictions:       # optional: only these plugins
//!           - plugin: catalog
//! ```

use super::{
    Config, ConfigError,
    access::wrong_type,
    key::KeyPath,
    tree::{Node, Value},
};
use crate::serve::{AuthPolicy, Cors, StaticToken, Tls};

/// Reads `backend.https.certificate` (`cert` and `key`, PEM text, usually
/// through `$file`); `None` when HTTPS is not configured.
pub(crate) fn tls(config: &Config) -> Result<Option<Tls>, Vec<ConfigError>> {
    let certificate = config
        .optional_string("backend.https.certificate.cert")
        .map_err(|error| vec![error])?;
    let key = config
        .optional_string("backend.https.certificate.key")
        .map_err(|error| vec![error])?;
    match (certificate, key) {
        (None, None) => Ok(None),
        (Some(certificate), Some(key)) => Ok(Some(Tls { certificate, key })),
        _ => {
            let (node, path) = config
                .lookup("backend.https.certificate")
                .map_err(|error| vec![error])?
                .expect("one of the two keys was just read");
            Err(vec![wrong_type(
                node,
                &path,
                "object with both cert and key",
            )])
        }
    }
}

/// Reads `backend.cors` (Backstage's keys: `origin` as one origin or a list,
/// `methods`, `credentials`); `None` when it is not set.
pub(crate) fn cors(config: &Config) -> Result<Option<Cors>, Vec<ConfigError>> {
    let Some((node, path)) = config.lookup("backend.cors").map_err(|error| vec![error])? else {
        return Ok(None);
    };
    let origin_path = path.child("origin");
    let origins = match node.get("origin") {
        None => Vec::new(),
        Some(Node {
            value: Value::String(origin),
            ..
        }) => vec![origin.clone()],
        Some(Node {
            value: Value::List(items),
            ..
        }) => items
            .iter()
            .enumerate()
            .map(|(index, item)| match &item.value {
                Value::String(origin) => Ok(origin.clone()),
                _ => Err(wrong_type(item, &origin_path.item(index), "origin string")),
            })
            .collect::<Result<_, _>>()
            .map_err(|error| vec![error])?,
        Some(other) => {
            return Err(vec![wrong_type(
                other,
                &origin_path,
                "origin or list of origins",
            )]);
        }
    };
    for (index, origin) in origins.iter().enumerate() {
        let valid = origin == "*"
            || axum::http::HeaderValue::from_str(origin).is_ok() && origin.contains("://");
        if !valid {
            let item = node.get("origin").expect("the origins were just read");
            return Err(vec![wrong_type(
                item,
                &origin_path.item(index),
                "origin such as https://host",
            )]);
        }
    }
    let methods = match node.get("methods") {
        None => Vec::new(),
        Some(Node {
            value: Value::List(items),
            ..
        }) => items
            .iter()
            .filter_map(|item| match &item.value {
                Value::String(method) => Some(method.to_ascii_uppercase()),
                _ => None,
            })
            .collect(),
        Some(other) => {
            return Err(vec![wrong_type(
                other,
                &path.child("methods"),
                "list of methods",
            )]);
        }
    };
    let credentials = match node.get("credentials") {
        None => false,
        Some(Node {
            value: Value::Boolean(flag),
            ..
        }) => *flag,
        Some(other) => {
            return Err(vec![wrong_type(
                other,
                &path.child("credentials"),
                "boolean",
            )]);
        }
    };
    if credentials && origins.iter().any(|origin| origin == "*") {
        let item = node.get("credentials").expect("credentials were just read");
        return Err(vec![wrong_type(
            item,
            &path.child("credentials"),
            "false when origin is `*` (browsers refuse credentials for any origin)",
        )]);
    }
    Ok(Some(Cors {
        origins,
        methods,
        credentials,
    }))
}

/// Reads `backend.auth`.
pub(crate) fn auth_policy(config: &Config) -> Result<AuthPolicy, Vec<ConfigError>> {
    let open = config
        .optional_boolean("backend.auth.dangerouslyDisableDefaultAuthPolicy")
        .map_err(|error| vec![error])?
        .unwrap_or(false);
    let mut policy = AuthPolicy {
        open,
        tokens: Vec::new(),
    };
    let Some((node, path)) = config
        .lookup("backend.auth.externalAccess")
        .map_err(|error| vec![error])?
    else {
        return Ok(policy);
    };
    let Value::List(entries) = &node.value else {
        return Err(vec![wrong_type(
            node,
            &path,
            "list of external access entries",
        )]);
    };
    let mut errors = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        match static_token(entry, &path.item(index)) {
            Ok(token) => policy.tokens.push(token),
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        Ok(policy)
    } else {
        Err(errors)
    }
}

fn static_token(entry: &Node, path: &KeyPath) -> Result<StaticToken, ConfigError> {
    let kind = string(entry, path, "type")?;
    if kind != "static" {
        let node = entry.get("type").expect("the type was just read");
        return Err(wrong_type(node, &path.child("type"), "`static`"));
    }
    let options_path = path.child("options");
    let options = entry
        .get("options")
        .ok_or_else(|| wrong_type(entry, &options_path, "object with token and subject"))?;
    let token = string(options, &options_path, "token")?;
    if token.len() < 8 {
        let node = options.get("token").expect("the token was just read");
        return Err(wrong_type(
            node,
            &options_path.child("token"),
            "token of at least 8 characters",
        ));
    }
    let subject = string(options, &options_path, "subject")?;
    let plugins = match entry.get("accessRestrictions") {
        None => None,
        Some(node) => Some(restrictions(node, &path.child("accessRestrictions"))?),
    };
    Ok(StaticToken {
        token,
        subject,
        plugins,
    })
}

fn restrictions(node: &Node, path: &KeyPath) -> Result<Vec<String>, ConfigError> {
    let Value::List(items) = &node.value else {
        return Err(wrong_type(node, path, "list of `plugin: <id>` entries"));
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| string(item, &path.item(index), "plugin"))
        .collect()
}

/// The string under `name` in the mapping `node`.
fn string(node: &Node, path: &KeyPath, name: &str) -> Result<String, ConfigError> {
    let child_path = path.child(name);
    match node.get(name) {
        Some(Node {
            value: Value::String(text),
            ..
        }) => Ok(text.clone()),
        Some(other) => Err(wrong_type(other, &child_path, "string")),
        None => Err(wrong_type(node, &child_path, "object with this key")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigLoader;

    fn policy(yaml: &str) -> Result<AuthPolicy, Vec<String>> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("greenroom-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = camino::Utf8PathBuf::from_path_buf(dir.join(format!("{number}.yaml"))).unwrap();
        std::fs::write(&file, yaml).unwrap();
        let config = ConfigLoader::new()
            .file(&file)
            .load()
            .map_err(|errors| errors.0.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        auth_policy(&config).map_err(|errors| errors.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn nothing_set_requires_credentials_and_knows_no_token() {
        let policy = policy("backend: {}\n").unwrap();
        assert!(!policy.open);
        assert!(policy.tokens.is_empty());
    }

    #[test]
    fn static_tokens_are_read_with_their_restrictions() {
        let policy = policy(
            "backend:\n  auth:\n    externalAccess:\n      - type: static\n        options:\n          \
             token: abcdefgh12\n          subject: indexer\n        accessRestrictions:\n          \
             - plugin: catalog\n      - type: static\n        options:\n          token: zyxwvuts98\n          \
             subject: admin\n",
        )
        .unwrap();
        let read: Vec<(String, Option<Vec<String>>)> = policy
            .tokens
            .iter()
            .map(|token| (token.subject.clone(), token.plugins.clone()))
            .collect();
        assert_eq!(
            read,
            [
                ("indexer".to_string(), Some(vec!["catalog".to_string()])),
                ("admin".to_string(), None)
            ]
        );
    }

    fn cors_of(yaml: &str) -> Result<Option<Cors>, Vec<String>> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("greenroom-cors-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = camino::Utf8PathBuf::from_path_buf(dir.join(format!("{number}.yaml"))).unwrap();
        std::fs::write(&file, yaml).unwrap();
        let config = ConfigLoader::new().file(&file).load().unwrap();
        cors(&config).map_err(|errors| errors.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn cors_takes_one_origin_or_a_list() {
        let one = cors_of("backend:\n  cors:\n    origin: https://a.example\n")
            .unwrap()
            .unwrap();
        assert_eq!(one.origins, ["https://a.example"]);
        let many = cors_of(
            "backend:\n  cors:\n    origin: [https://a.example, https://b.example]\n    \
             methods: [get, post]\n    credentials: true\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(many.origins, ["https://a.example", "https://b.example"]);
        assert_eq!(many.methods, ["GET", "POST"]);
        assert!(many.credentials);
        assert_eq!(cors_of("backend: {}\n").unwrap(), None);
    }

    #[test]
    fn cors_refuses_credentials_for_any_origin_and_origins_without_a_scheme() {
        let any =
            cors_of("backend:\n  cors:\n    origin: '*'\n    credentials: true\n").unwrap_err();
        assert!(
            any[0].contains("backend.cors.credentials: expected false when origin is `*`"),
            "{any:?}"
        );
        let bare = cors_of("backend:\n  cors:\n    origin: [example.com]\n").unwrap_err();
        assert!(
            bare[0].contains("backend.cors.origin[0]: expected origin such as https://host"),
            "{bare:?}"
        );
    }

    #[test]
    fn a_bad_entry_names_its_key_and_line() {
        let errors = policy(
            "backend:\n  auth:\n    externalAccess:\n      - type: jwks\n        options: {}\n",
        )
        .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].contains(":4: backend.auth.externalAccess[0].type: expected `static`"),
            "{errors:?}"
        );
    }
}
