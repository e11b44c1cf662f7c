//! The schema of the host's own keys, under `backend`.

use serde_json::{Value, json};

/// The top-level key holding the host's own configuration.
pub const HOST_KEY: &str = "backend";

/// The JSON Schema of the host's keys: where to listen, where plugins are
/// and which to load, how long each step may take, the HTTP server's
/// limits, and what to do when a plugin fails to start. Their meanings and
/// defaults are listed in [`super::HostSettings`].
pub fn host_schema() -> Value {
    let policy = json!({"enum": ["abort", "continue"]});
    let duration = json!({
        "type": ["number", "string"],
        "description": "seconds, or a number with a unit: 500ms, 30s, 2m, 1h",
    });
    let plugin_ids = json!({"type": "array", "items": {"type": "string", "minLength": 1}});
    let module_startup = json!({
        "type": "object",
        "properties": {"onPluginModuleBootFailure": policy},
    });
    let plugin_startup = json!({
        "type": "object",
        "properties": {
            "onPluginBootFailure": policy,
            "modules": {"type": "object", "additionalProperties": module_startup},
        },
    });
    json!({
        "type": "object",
        "properties": {
            "listen": {
                "type": "object",
                "properties": {
                    "host": {"type": "string", "description": "default 127.0.0.1"},
                    "port": {
                        "type": "integer", "minimum": 0, "maximum": 65535,
                        "description": "default 7007; 0 picks a free port",
                    },
                },
            },
            "database": {
                "type": "object",
                "properties": {
                    "client": {"enum": ["sqlite", "postgres", "pg"]},
                    "directory": {"type": "string"},
                    "connection": {"type": "string", "visibility": "secret"},
                },
            },
            "https": {
                "type": "object",
                "properties": {
                    "certificate": {
                        "type": "object",
                        "properties": {
                            "cert": {"type": "string"},
                            "key": {"type": "string", "visibility": "secret"},
                        },
                    },
                },
            },
            "cors": {
                "type": "object",
                "properties": {
                    "origin": {
                        "anyOf": [
                            {"type": "string"},
                            {"type": "array", "items": {"type": "string"}},
                        ],
                    },
                    "methods": {"type": "array", "items": {"type": "string"}},
                    "credentials": {"type": "boolean"},
                },
            },
            "auth": {
                "type": "object",
                "properties": {
                    "dangerouslyDisableDefaultAuthPolicy": {"type": "boolean"},
                    "externalAccess": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "type": {"enum": ["static"]},
                                "options": {
                                    "type": "object",
                                    "properties": {
                                        "token": {"type": "string", "visibility": "secret"},
                                        "subject": {"type": "string"},
                                    },
                                },
                                "accessRestrictions": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {"plugin": {"type": "string"}},
                                    },
                                },
                            },
                        },
                    },
                },
            },
            "http": {
                "type": "object",
                "properties": {
                    "bodyLimit": {
                        "type": "integer", "minimum": 0,
                        "description": "largest request body in bytes, default 10485760",
                    },
                    "requestTimeout": duration,
                    "drainTimeout": duration,
                },
            },
            "resolve": {
                "type": "object",
                "properties": {"orphanModules": {"enum": ["warn", "error"]}},
            },
            "plugins": {
                "type": "object",
                "properties": {
                    "dir": {"type": "string"},
                    "include": plugin_ids,
                    "exclude": plugin_ids,
                    "sha256": {
                        "type": "object",
                        "description": "the SHA-256 each file name or plugin id must have",
                        "additionalProperties": {"type": "string"},
                    },
                },
            },
            "startup": {
                "type": "object",
                "properties": {
                    "initTimeout": duration,
                    "hookTimeout": duration,
                    "default": {
                        "type": "object",
                        "properties": {
                            "onPluginBootFailure": policy,
                            "onPluginModuleBootFailure": policy,
                        },
                    },
                    "plugins": {"type": "object", "additionalProperties": plugin_startup},
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_schema_is_valid_json_schema() {
        assert!(jsonschema::meta::is_valid(&host_schema()));
    }
}
