//! The schema of the host's own keys, under `backend`.

use serde_json::{Value, json};

/// The top-level key holding the host's own configuration.
pub const HOST_KEY: &str = "backend";

/// The JSON Schema of the host's keys: where to listen, where plugins are
/// and which to load, and what to do when one fails to start.
pub fn host_schema() -> Value {
    let policy = json!({"enum": ["abort", "continue"]});
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
                    "host": {"type": "string"},
                    "port": {"type": "integer", "minimum": 0, "maximum": 65535},
                },
            },
            "plugins": {
                "type": "object",
                "properties": {
                    "dir": {"type": "string"},
                    "include": plugin_ids,
                    "exclude": plugin_ids,
                },
            },
            "startup": {
                "type": "object",
                "properties": {
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
