//! The resolver: indexes every feature, checks every dependency, orders
//! what remains.

use std::collections::{BTreeMap, BTreeSet};

use semver::Version;

use super::{
    HostService, Node, Plan, PluginPlan, Problem, Provider, ResolveOptions, Severity, Source, graph,
};
use crate::register::{Dependency, DependencyKind, FeatureSet, Module, Plugin, PluginId};

/// A provided service or extension point.
#[derive(Clone, Debug)]
struct Provision {
    provider: Provider,
    version: Version,
    multiton: bool,
}

#[derive(Default)]
pub(super) struct Resolver<'a> {
    plugins: BTreeMap<PluginId, (&'a str, &'a Plugin)>,
    modules: BTreeMap<(PluginId, PluginId), (&'a str, &'a FeatureSet)>,
    extension_points: BTreeMap<String, (Node, Version)>,
    services: BTreeMap<String, Vec<Provision>>,
    /// Wrappers of services, by service id: at most one each.
    wrappers: BTreeMap<String, Provision>,
    /// The version of each service the host provides, by id.
    host_versions: BTreeMap<String, Version>,
    plugin_edges: BTreeMap<PluginId, BTreeSet<PluginId>>,
    module_edges: BTreeMap<PluginId, BTreeMap<PluginId, BTreeSet<PluginId>>>,
    problems: Vec<Problem>,
}

impl<'a> Resolver<'a> {
    pub(super) fn index(
        &mut self,
        sources: &[Source<'a>],
        host: &[HostService],
        options: ResolveOptions,
    ) {
        for service in host {
            self.host_versions
                .insert(service.id.to_string(), service.version.clone());
            self.services
                .entry(service.id.to_string())
                .or_default()
                .push(Provision {
                    provider: Provider::Host,
                    version: service.version.clone(),
                    multiton: false,
                });
        }
        // Index in id order, not file order, so that every problem reads the
        // same whatever the files are called.
        let mut plugins: Vec<(&'a str, &'a Plugin)> = sources
            .iter()
            .flat_map(|source| {
                source
                    .features
                    .plugins
                    .iter()
                    .map(|plugin| (source.origin, plugin))
            })
            .collect();
        plugins.sort_by(|left, right| (&left.1.id, left.0).cmp(&(&right.1.id, right.0)));
        for (origin, plugin) in plugins {
            self.add_plugin(origin, plugin);
        }
        let mut modules: Vec<(&'a str, &'a Module)> = sources
            .iter()
            .flat_map(|source| {
                source
                    .features
                    .modules
                    .iter()
                    .map(|module| (source.origin, module))
            })
            .collect();
        modules.sort_by(|left, right| {
            let key = |(origin, module): &(&'a str, &'a Module)| {
                (module.plugin_id.clone(), module.module_id.clone(), *origin)
            };
            key(left).cmp(&key(right))
        });
        for (origin, module) in modules {
            let key = (module.plugin_id.clone(), module.module_id.clone());
            let node = Node::Module(key.0.clone(), key.1.clone());
            if !self.plugins.contains_key(&key.0) {
                let severity = if options.orphan_modules_are_errors {
                    Severity::Error
                } else {
                    Severity::Warning
                };
                self.problems.push(Problem::OrphanModule {
                    module: node,
                    severity,
                });
                continue;
            }
            if let Some((first, _)) = self.modules.get(&key) {
                self.problems.push(Problem::Duplicate {
                    what: node.to_string(),
                    first: first.to_string(),
                    second: origin.to_string(),
                });
                continue;
            }
            self.modules.insert(key, (origin, &module.features));
            self.add_provisions(&node, &module.features);
        }
    }

    fn add_plugin(&mut self, origin: &'a str, plugin: &'a Plugin) {
        if let Some((first, _)) = self.plugins.get(&plugin.id) {
            self.problems.push(Problem::Duplicate {
                what: Node::Plugin(plugin.id.clone()).to_string(),
                first: first.to_string(),
                second: origin.to_string(),
            });
            return;
        }
        self.plugins.insert(plugin.id.clone(), (origin, plugin));
        self.add_provisions(&Node::Plugin(plugin.id.clone()), &plugin.features);
    }

    fn add_provisions(&mut self, node: &Node, features: &FeatureSet) {
        for point in &features.extension_points {
            if let Some((first, _)) = self.extension_points.get(point.id.as_str()) {
                self.problems.push(Problem::Duplicate {
                    what: format!("extension point `{}`", point.id),
                    first: first.to_string(),
                    second: node.to_string(),
                });
                continue;
            }
            self.extension_points
                .insert(point.id.to_string(), (node.clone(), point.version.clone()));
        }
        for service in &features.services {
            let provision = Provision {
                provider: Provider::Feature(node.clone()),
                version: service.version.clone(),
                multiton: service.multiton,
            };
            let host_provides = self
                .services
                .get(service.id.as_str())
                .is_some_and(|existing| {
                    existing
                        .iter()
                        .any(|other| other.provider == Provider::Host)
                });
            let replaceable = greenroom_contract::REPLACEABLE_SERVICES
                .contains(&service.id.as_str())
                && !service.multiton;
            if host_provides && !replaceable {
                self.problems.push(Problem::HostService {
                    provider: node.clone(),
                    id: service.id.to_string(),
                });
                continue;
            }
            if let Some(host) = self.host_versions.get(service.id.as_str())
                && host.major != service.version.major
            {
                self.problems.push(Problem::HostServiceVersion {
                    provider: node.clone(),
                    id: service.id.to_string(),
                    declared: service.version.clone(),
                    host: host.clone(),
                });
                continue;
            }
            if service.wraps {
                if let Some(other) = self.wrappers.get(service.id.as_str()) {
                    self.problems.push(Problem::Duplicate {
                        what: format!("a wrapper of service `{}`", service.id),
                        first: other.provider.to_string(),
                        second: node.to_string(),
                    });
                } else {
                    self.wrappers.insert(service.id.to_string(), provision);
                }
                continue;
            }
            let existing = self.services.entry(service.id.to_string()).or_default();
            // A plugin's replacement takes the host's place.
            existing.retain(|other| !(replaceable && other.provider == Provider::Host));
            let clash = existing.iter().find(|other| {
                other.provider != Provider::Host && !(other.multiton && provision.multiton)
            });
            if let Some(other) = clash {
                self.problems.push(Problem::Duplicate {
                    what: format!("service `{}`", service.id),
                    first: other.provider.to_string(),
                    second: node.to_string(),
                });
                continue;
            }
            existing.push(provision);
        }
    }

    pub(super) fn check_dependencies(&mut self) {
        let mut nodes: Vec<(Node, &'a FeatureSet)> = self
            .plugins
            .iter()
            .map(|(id, (_, plugin))| (Node::Plugin(id.clone()), &plugin.features))
            .collect();
        nodes.extend(
            self.modules
                .iter()
                .map(|((plugin, module), (_, features))| {
                    (Node::Module(plugin.clone(), module.clone()), *features)
                }),
        );
        for (node, features) in nodes {
            self.plugin_edges
                .entry(node.plugin_id().clone())
                .or_default();
            if let Node::Module(plugin, module) = &node {
                self.module_edges
                    .entry(plugin.clone())
                    .or_default()
                    .entry(module.clone())
                    .or_default();
            }
            for dependency in &features.dependencies {
                self.check_dependency(&node, dependency);
            }
        }
    }

    fn check_dependency(&mut self, node: &Node, dependency: &Dependency) {
        match dependency.kind {
            DependencyKind::Plugin => self.check_plugin_dependency(node, dependency),
            DependencyKind::Service => self.check_service_dependency(node, dependency),
            DependencyKind::ExtensionPoint => self.check_extension_point(node, dependency),
        }
    }

    fn check_plugin_dependency(&mut self, node: &Node, dependency: &Dependency) {
        let target = self
            .plugins
            .get_key_value(dependency.id.as_str())
            .map(|(id, _)| id.clone());
        let Some(target) = target else {
            if !dependency.optional {
                self.problems.push(Problem::missing(node, dependency));
            }
            return;
        };
        let version = self.plugins[&target].1.version.clone();
        let provider = Provider::Feature(Node::Plugin(target.clone()));
        if self.version_ok(node, dependency, &provider, &version) {
            self.add_plugin_edge(node, &target);
        }
    }

    fn check_service_dependency(&mut self, node: &Node, dependency: &Dependency) {
        let provisions = self
            .services
            .get(&dependency.id)
            .cloned()
            .unwrap_or_default();
        if provisions.is_empty() {
            if !dependency.optional {
                self.problems.push(Problem::missing(node, dependency));
            }
            return;
        }
        // A wrapper stands between the implementation and everyone else:
        // it depends on the implementation, the others on the wrapper.
        let wrapper = self
            .wrappers
            .get(&dependency.id)
            .filter(|wrapper| wrapper.provider != Provider::Feature(node.clone()))
            .cloned();
        let provisions = match wrapper {
            Some(wrapper) => vec![wrapper],
            None => provisions,
        };
        for provision in provisions {
            if !self.version_ok(node, dependency, &provision.provider, &provision.version) {
                continue;
            }
            if let Provider::Feature(provider) = &provision.provider {
                self.add_feature_edge(node, provider);
            }
        }
    }

    fn check_extension_point(&mut self, node: &Node, dependency: &Dependency) {
        let Node::Module(plugin, module) = node else {
            self.problems.push(Problem::PluginUsesExtensionPoint {
                plugin: node.clone(),
                id: dependency.id.clone(),
            });
            return;
        };
        let Some((provider, version)) = self.extension_points.get(&dependency.id).cloned() else {
            if !dependency.optional {
                self.problems.push(Problem::missing(node, dependency));
            }
            return;
        };
        if provider.plugin_id() != plugin {
            self.problems.push(Problem::ForeignExtensionPoint {
                module: node.clone(),
                id: dependency.id.clone(),
                owner: provider.plugin_id().clone(),
            });
            return;
        }
        let provider_ref = Provider::Feature(provider.clone());
        if !self.version_ok(node, dependency, &provider_ref, &version) {
            return;
        }
        if let Node::Module(_, provider_module) = &provider {
            // The provider reads what consumers registered: it runs after them.
            self.module_edges
                .entry(plugin.clone())
                .or_default()
                .entry(provider_module.clone())
                .or_default()
                .insert(module.clone());
        }
    }

    fn version_ok(
        &mut self,
        node: &Node,
        dependency: &Dependency,
        provider: &Provider,
        found: &Version,
    ) -> bool {
        if dependency.version_req.matches(found) {
            return true;
        }
        self.problems.push(Problem::VersionMismatch {
            who: node.clone(),
            kind: dependency.kind,
            id: dependency.id.clone(),
            requirement: dependency.version_req.clone(),
            provider: provider.clone(),
            found: found.clone(),
        });
        false
    }

    /// Records that `node` needs `provider` initialized first.
    fn add_feature_edge(&mut self, node: &Node, provider: &Node) {
        if node.plugin_id() != provider.plugin_id() {
            let target = provider.plugin_id().clone();
            self.add_plugin_edge(node, &target);
            return;
        }
        match (node, provider) {
            // Within one plugin: modules run before their plugin, so a
            // module may use what another module provides, and the plugin
            // may use what its modules provide.
            (Node::Module(plugin, consumer), Node::Module(_, producer)) => {
                self.module_edges
                    .entry(plugin.clone())
                    .or_default()
                    .entry(consumer.clone())
                    .or_default()
                    .insert(producer.clone());
            }
            (Node::Plugin(_), Node::Module(..)) => {}
            (Node::Module(..), Node::Plugin(_)) => {
                self.problems.push(Problem::Cycle {
                    chain: vec![node.clone(), provider.clone(), node.clone()],
                });
            }
            (Node::Plugin(_), Node::Plugin(_)) => {}
        }
    }

    fn add_plugin_edge(&mut self, node: &Node, target: &PluginId) {
        if node.plugin_id() != target {
            self.plugin_edges
                .entry(node.plugin_id().clone())
                .or_default()
                .insert(target.clone());
        }
    }

    pub(super) fn order(mut self) -> Result<Plan, Vec<Problem>> {
        let plugin_waves = graph::waves(&self.plugin_edges);
        let plugin_waves = match plugin_waves {
            Ok(waves) => waves,
            Err(cycle) => {
                self.problems.push(Problem::Cycle {
                    chain: cycle.into_iter().map(Node::Plugin).collect(),
                });
                Vec::new()
            }
        };
        let mut plugins = BTreeMap::new();
        for (id, (_, plugin)) in &self.plugins {
            let edges = self.module_edges.get(id).cloned().unwrap_or_default();
            let module_waves = match graph::waves(&edges) {
                Ok(waves) => waves,
                Err(cycle) => {
                    let chain = cycle
                        .into_iter()
                        .map(|module| Node::Module(id.clone(), module))
                        .collect();
                    self.problems.push(Problem::Cycle { chain });
                    Vec::new()
                }
            };
            plugins.insert(
                id.clone(),
                PluginPlan {
                    version: plugin.version.clone(),
                    after: self.plugin_edges.get(id).cloned().unwrap_or_default(),
                    module_waves,
                },
            );
        }

        if self
            .problems
            .iter()
            .any(|problem| problem.severity() == Severity::Error)
        {
            return Err(self.problems);
        }
        Ok(Plan {
            waves: plugin_waves,
            plugins,
            providers: self.providers(),
            warnings: self.problems.iter().map(ToString::to_string).collect(),
        })
    }

    fn providers(&self) -> Vec<(String, String)> {
        let services = self.services.iter().flat_map(|(id, provisions)| {
            let wrapper = self.wrappers.get(id);
            provisions.iter().map(move |provision| {
                let provider = match wrapper {
                    Some(wrapper) => {
                        format!("{}, wrapped by {}", provision.provider, wrapper.provider)
                    }
                    None => provision.provider.to_string(),
                };
                (format!("service `{id}` {}", provision.version), provider)
            })
        });
        let points = self.extension_points.iter().map(|(id, (node, version))| {
            (
                format!("extension point `{id}` {version}"),
                node.to_string(),
            )
        });
        services.chain(points).collect()
    }
}
