//! Each plugin's configuration as the host hands it over, replaced whole
//! when the configuration changes, and the plugin code to tell.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use abi_stable::std_types::{RString, RVec};
use futures_util::future::join_all;
use greenroom_contract::{ConfigOrigin, ConfigSubscriberBox};
use tracing::Instrument as _;

use crate::{
    boundary::PluginFuture,
    config::{PluginSlice, ValueOrigin},
    resolve::Node,
};

/// One subscriber with the feature that subscribed and its span.
struct Subscriber {
    node: Node,
    callback: Arc<ConfigSubscriberBox>,
    span: tracing::Span,
}

/// Every plugin's configuration and the subscribers to its changes.
#[derive(Default)]
pub struct PluginConfigs {
    slices: RwLock<BTreeMap<String, PluginSlice>>,
    subscribers: Mutex<BTreeMap<String, Vec<Subscriber>>>,
    on_panic: Mutex<Option<crate::services::PanicHandler>>,
}

impl PluginConfigs {
    /// Configurations for the plugins in `slices`, by plugin id.
    pub fn new(slices: BTreeMap<String, PluginSlice>) -> Self {
        Self {
            slices: RwLock::new(slices),
            subscribers: Mutex::default(),
            on_panic: Mutex::default(),
        }
    }

    /// Calls `handler` each time a subscriber panics (after logging it).
    pub(crate) fn on_panic(&self, handler: crate::services::PanicHandler) {
        *self
            .on_panic
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(handler);
    }

    /// The plugin's slice now (`null` when it has none).
    pub fn slice(&self, plugin_id: &str) -> PluginSlice {
        self.slices
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(plugin_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Replaces every slice and returns the ids of the plugins whose slice
    /// changed (in value or in origin).
    pub fn replace(&self, slices: BTreeMap<String, PluginSlice>) -> Vec<String> {
        let mut current = self
            .slices
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let ids: std::collections::BTreeSet<&String> =
            current.keys().chain(slices.keys()).collect();
        let changed = ids
            .into_iter()
            .filter(|id| current.get(*id) != slices.get(*id))
            .cloned()
            .collect();
        *current = slices;
        changed
    }

    /// Remembers plugin code to call when the slice of `node`'s plugin
    /// changes.
    pub(crate) fn subscribe(&self, node: Node, callback: ConfigSubscriberBox, span: tracing::Span) {
        let plugin_id = node.plugin_id().to_string();
        self.subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(plugin_id)
            .or_default()
            .push(Subscriber {
                node,
                callback: Arc::new(callback),
                span,
            });
    }

    /// Calls every subscriber of the plugins `changed` with its new slice,
    /// all at once, each within `timeout`; returns one line per failure.
    pub async fn notify(&self, changed: &[String], timeout: Duration) -> Vec<String> {
        let on_panic = self
            .on_panic
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let calls: Vec<_> = {
            let subscribers = self
                .subscribers
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            changed
                .iter()
                .flat_map(|id| subscribers.get(id).into_iter().flatten())
                .map(|subscriber| {
                    let slice = self.slice(subscriber.node.plugin_id().as_str());
                    let callback = subscriber.callback.clone();
                    let node = subscriber.node.clone();
                    let span = subscriber.span.clone();
                    call(callback, node, slice, timeout, on_panic.clone()).instrument(span)
                })
                .collect()
        };
        join_all(calls).await.into_iter().flatten().collect()
    }
}

async fn call(
    callback: Arc<ConfigSubscriberBox>,
    node: Node,
    slice: PluginSlice,
    timeout: Duration,
    on_panic: Option<crate::services::PanicHandler>,
) -> Option<String> {
    let future = callback.changed(slice.value.to_string().into(), to_abi(&slice.origins));
    let outcome = match tokio::time::timeout(timeout, PluginFuture(future)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!(
            "did not finish within {} s and was cut off",
            timeout.as_secs_f32()
        )),
    };
    let error = outcome.err()?;
    tracing::error!(%error, "{node}'s configuration subscriber failed");
    if crate::boundary::is_panic(&error)
        && let Some(on_panic) = on_panic
    {
        on_panic(
            node.plugin_id().as_str(),
            format!("its configuration subscriber {error}"),
        );
    }
    Some(format!("{node}: configuration subscriber: {error}"))
}

/// The origins as they cross the boundary.
pub(crate) fn to_abi(origins: &[ValueOrigin]) -> RVec<ConfigOrigin> {
    origins
        .iter()
        .map(|origin| ConfigOrigin {
            key: RString::from(origin.key.as_str()),
            origin: RString::from(origin.origin.as_str()),
            secret: origin.secret,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use abi_stable::{sabi_trait::TD_Opaque, std_types::RResult};
    use async_ffi::{FfiFuture, FutureExt as _};
    use greenroom_contract::{
        ErrorCode, PluginError,
        host::{ConfigSubscriber, ConfigSubscriber_TO},
    };

    use super::*;
    use crate::register::PluginId;

    /// A subscriber whose code panics, as the SDK reports it.
    struct Panicking;

    impl ConfigSubscriber for Panicking {
        fn changed(
            &self,
            _config: RString,
            _origins: RVec<ConfigOrigin>,
        ) -> FfiFuture<RResult<(), PluginError>> {
            let error = PluginError::new(ErrorCode::PANICKED, "the new mode is unknown");
            async move { RResult::RErr(error) }.into_ffi()
        }
    }

    fn slice(value: serde_json::Value) -> BTreeMap<String, PluginSlice> {
        let slice = PluginSlice {
            value,
            origins: Vec::new(),
        };
        BTreeMap::from([("tuner".to_string(), slice)])
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_subscriber_that_panics_is_reported_to_the_panic_handler() {
        let configs = PluginConfigs::new(slice(serde_json::json!({"mode": "a"})));
        let node = Node::Plugin(PluginId::parse("plugin id", "tuner").unwrap());
        let subscriber = ConfigSubscriber_TO::from_value(Panicking, TD_Opaque);
        configs.subscribe(node, subscriber, tracing::Span::none());
        let reported: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let into = reported.clone();
        configs.on_panic(Arc::new(move |plugin_id: &str, reason: String| {
            into.lock().unwrap().push((plugin_id.to_string(), reason));
        }));

        let changed = configs.replace(slice(serde_json::json!({"mode": "b"})));
        let failures = configs.notify(&changed, Duration::from_secs(1)).await;

        assert_eq!(
            failures,
            ["plugin `tuner`: configuration subscriber: panicked: the new mode is unknown"]
        );
        assert_eq!(
            *reported.lock().unwrap(),
            [(
                "tuner".to_string(),
                "its configuration subscriber panicked: the new mode is unknown".to_string()
            )]
        );
    }
}
