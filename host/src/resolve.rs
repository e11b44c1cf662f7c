//! Stage five: resolve every library's features into one plan before
//! anything initializes.
//!
//! Resolution looks at what every plugin and module declared and finds every
//! problem at once: duplicates, missing dependencies, versions that do not
//! match, cycles, modules whose plugin is absent, and extension points used
//! where they may not be. When there is no error it returns a [`Plan`]: who
//! provides what, and the order of initialization (a plugin after what it
//! depends on; a plugin's modules before the plugin, a module that consumes
//! an extension point before the module that provides it).

mod graph;
mod problem;

use std::collections::{BTreeMap, BTreeSet};

use semver::Version;

pub use graph::{GraphFormat, render_graph};
pub use problem::{Problem, Provider, Severity};

use crate::register::{
    Dependency, DependencyKind, FeatureId, FeatureSet, Features, Module, Plugin, PluginId,
    ServiceScope,
};

/// A plugin or a module: something that initializes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(untagged)]
pub enum Node {
    /// A plugin, by id.
    Plugin(PluginId),
    /// A module, by plugin id and module id.
    Module(PluginId, PluginId),
}

impl Node {
    /// The plugin this node is or extends.
    pub fn plugin_id(&self) -> &PluginId {
        match self {
            Self::Plugin(id) | Self::Module(id, _) => id,
        }
    }
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Plugin(id) => write!(f, "plugin `{id}`"),
            Self::Module(plugin, module) => write!(f, "module `{plugin}/{module}`"),
        }
    }
}

/// A service the host itself provides.
#[derive(Clone, Debug)]
pub struct HostService {
    /// Its id, such as `core.logger`.
    pub id: FeatureId,
    /// Its interface version.
    pub version: Version,
    /// Whether there is one instance or one per plugin.
    pub scope: ServiceScope,
}

/// One library's features, with where they came from.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// The file, or the name of a statically linked library.
    pub origin: &'a str,
    /// What it registered.
    pub features: &'a Features,
}

/// Settings of resolution.
#[derive(Clone, Copy, Debug, Default)]
pub struct ResolveOptions {
    /// Whether a module whose plugin is absent is an error (by default a
    /// warning, and the module does not run).
    pub orphan_modules_are_errors: bool,
}

/// The outcome of a successful resolution.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Plan {
    /// Plugins in initialization waves: every plugin of a wave depends only
    /// on plugins of earlier waves, so a wave can initialize in parallel.
    pub waves: Vec<Vec<PluginId>>,
    /// Each plugin's place in the plan.
    pub plugins: BTreeMap<PluginId, PluginPlan>,
    /// Who provides each service and extension point, for people.
    pub providers: Vec<(String, String)>,
    /// Problems that do not stop the start, such as orphan modules.
    pub warnings: Vec<String>,
}

/// What initializing one plugin involves.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PluginPlan {
    /// The plugin's version.
    pub version: Version,
    /// The plugins that must be initialized first.
    pub after: BTreeSet<PluginId>,
    /// The plugin's modules in waves; every module runs before the plugin.
    pub module_waves: Vec<Vec<PluginId>>,
}

/// Resolves the features of every source against the host's services.
///
/// # Errors
///
/// Returns every error found, each one line; warnings are only returned
/// when there are errors too.
pub fn resolve(
    sources: &[Source<'_>],
    host_services: &[HostService],
    options: ResolveOptions,
) -> Result<Plan, Vec<Problem>> {
    let mut resolver = Resolver::default();
    resolver.index(sources, host_services, options);
    resolver.check_dependencies();
    resolver.order()
}

/// A provided service or extension point.
#[derive(Clone, Debug)]
struct Provision {
    provider: Provider,
    version: Version,
    multiton: bool,
}

#[derive(Default)]
struct Resolver<'a> {
    plugins: BTreeMap<PluginId, (&'a str, &'a Plugin)>,
    modules: BTreeMap<(PluginId, PluginId), (&'a str, &'a FeatureSet)>,
    extension_points: BTreeMap<String, (Node, Version)>,
    services: BTreeMap<String, Vec<Provision>>,
    plugin_edges: BTreeMap<PluginId, BTreeSet<PluginId>>,
    module_edges: BTreeMap<PluginId, BTreeMap<PluginId, BTreeSet<PluginId>>>,
    problems: Vec<Problem>,
}

impl<'a> Resolver<'a> {
    fn index(&mut self, sources: &[Source<'a>], host: &[HostService], options: ResolveOptions) {
        for service in host {
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
            let existing = self.services.entry(service.id.to_string()).or_default();
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
            // A plugin's single implementation replaces the host's default.
            if !provision.multiton {
                existing.retain(|other| other.provider != Provider::Host);
            }
            existing.push(provision);
        }
    }

    fn check_dependencies(&mut self) {
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

    fn order(mut self) -> Result<Plan, Vec<Problem>> {
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
            provisions.iter().map(move |provision| {
                (
                    format!("service `{id}` {}", provision.version),
                    provision.provider.to_string(),
                )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::{Module, Provided, Service};

    fn plugin(id: &str, dependencies: Vec<Dependency>) -> Plugin {
        Plugin {
            id: PluginId::parse("plugin id", id).unwrap(),
            version: Version::new(1, 0, 0),
            config_schema: None,
            features: FeatureSet {
                dependencies,
                ..FeatureSet::default()
            },
        }
    }

    fn module(plugin: &str, id: &str, dependencies: Vec<Dependency>) -> Module {
        Module {
            plugin_id: PluginId::parse("plugin id", plugin).unwrap(),
            module_id: PluginId::parse("module id", id).unwrap(),
            features: FeatureSet {
                dependencies,
                ..FeatureSet::default()
            },
        }
    }

    fn needs(kind: DependencyKind, id: &str, requirement: &str) -> Dependency {
        Dependency {
            kind,
            id: id.to_string(),
            version_req: requirement.parse().unwrap(),
            optional: false,
        }
    }

    fn needs_plugin(id: &str) -> Dependency {
        needs(DependencyKind::Plugin, id, "*")
    }

    fn provided(id: &str, version: &str) -> Provided {
        Provided {
            id: FeatureId::parse("extension point id", id).unwrap(),
            version: version.parse().unwrap(),
        }
    }

    fn service(id: &str, version: &str) -> Service {
        Service {
            id: FeatureId::parse("service id", id).unwrap(),
            version: version.parse().unwrap(),
            scope: ServiceScope::Plugin,
            multiton: false,
        }
    }

    fn logger() -> HostService {
        HostService {
            id: FeatureId::parse("service id", "core.logger").unwrap(),
            version: Version::new(1, 0, 0),
            scope: ServiceScope::Plugin,
        }
    }

    fn run(libraries: &[Features]) -> Result<Plan, Vec<String>> {
        let origins: Vec<String> = (0..libraries.len())
            .map(|index| format!("lib{index}.so"))
            .collect();
        let sources: Vec<Source<'_>> = libraries
            .iter()
            .zip(&origins)
            .map(|(features, origin)| Source { origin, features })
            .collect();
        resolve(&sources, &[logger()], ResolveOptions::default())
            .map_err(|problems| problems.iter().map(ToString::to_string).collect())
    }

    fn plugins(list: Vec<Plugin>) -> Features {
        Features {
            plugins: list,
            modules: Vec::new(),
        }
    }

    fn ids(waves: &[Vec<PluginId>]) -> Vec<Vec<&str>> {
        waves
            .iter()
            .map(|wave| wave.iter().map(PluginId::as_str).collect())
            .collect()
    }

    #[test]
    fn a_chain_initializes_in_order() {
        let plan = run(&[plugins(vec![
            plugin("c", vec![needs_plugin("b")]),
            plugin("b", vec![needs_plugin("a")]),
            plugin(
                "a",
                vec![needs(DependencyKind::Service, "core.logger", "^1")],
            ),
        ])])
        .unwrap();
        assert_eq!(ids(&plan.waves), [["a"], ["b"], ["c"]]);
    }

    #[test]
    fn a_diamond_runs_its_middle_in_parallel() {
        let plan = run(&[
            plugins(vec![plugin(
                "top",
                vec![needs_plugin("left"), needs_plugin("right")],
            )]),
            plugins(vec![
                plugin("left", vec![needs_plugin("base")]),
                plugin("base", vec![]),
            ]),
            plugins(vec![plugin("right", vec![needs_plugin("base")])]),
        ])
        .unwrap();
        assert_eq!(
            ids(&plan.waves),
            vec![vec!["base"], vec!["left", "right"], vec!["top"]]
        );
    }

    #[test]
    fn the_plan_is_the_same_for_every_order_of_libraries() {
        let libraries = vec![
            plugins(vec![plugin(
                "top",
                vec![needs_plugin("left"), needs_plugin("right")],
            )]),
            plugins(vec![plugin("left", vec![needs_plugin("base")])]),
            plugins(vec![plugin("right", vec![needs_plugin("base")])]),
            plugins(vec![plugin("base", vec![])]),
        ];
        let plan = run(&libraries).unwrap();
        let expected = ids(&plan.waves);
        for rotation in 1..libraries.len() {
            let mut rotated = libraries.clone();
            rotated.rotate_left(rotation);
            rotated.swap(0, 1);
            assert_eq!(ids(&run(&rotated).unwrap().waves), expected);
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut consumer = plugin(
            "consumer",
            vec![
                needs(DependencyKind::Service, "catalog.entities", "^1"),
                needs(DependencyKind::Service, "core.logger", "^2"),
                needs(DependencyKind::ExtensionPoint, "catalog.processing", "^1"),
            ],
        );
        consumer
            .features
            .services
            .push(service("consumer.api", "1.0.0"));
        let errors = run(&[
            plugins(vec![
                consumer,
                plugin("a", vec![needs_plugin("b")]),
                plugin("b", vec![needs_plugin("a")]),
            ]),
            plugins(vec![plugin("a", vec![])]),
        ])
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "plugin `a` is provided twice, by lib0.so and by lib1.so; remove one of them",
                "plugin `consumer` needs service `catalog.entities` ^1, which nothing installed \
                 provides; install what provides it, or declare the dependency optional",
                "plugin `consumer` needs service `core.logger` ^2, but the host provides version \
                 1.0.0; upgrade one side or change the requirement",
                "plugin `consumer` depends on extension point `catalog.processing`, but only \
                 modules may use extension points; move that code into a module",
                "dependency cycle: plugin `a` -> plugin `b` -> plugin `a`; remove one of these \
                 dependencies",
            ]
        );
    }

    #[test]
    fn an_optional_dependency_may_be_absent() {
        let mut dependency = needs(DependencyKind::Service, "search.index", "^1");
        dependency.optional = true;
        assert!(run(&[plugins(vec![plugin("a", vec![dependency])])]).is_ok());
    }

    #[test]
    fn an_orphan_module_warns_by_default_and_fails_when_configured() {
        let features = Features {
            plugins: vec![plugin("other", vec![])],
            modules: vec![module("catalog", "files", vec![])],
        };
        let plan = run(std::slice::from_ref(&features)).unwrap();
        assert_eq!(
            plan.warnings,
            [
                "module `catalog/files` extends plugin `catalog`, which is not installed; the \
              module will not run"
            ]
        );

        let sources = [Source {
            origin: "x.so",
            features: &features,
        }];
        let options = ResolveOptions {
            orphan_modules_are_errors: true,
        };
        assert_eq!(resolve(&sources, &[], options).unwrap_err().len(), 1);
    }

    #[test]
    fn modules_run_consumers_before_the_provider_of_an_extension_point() {
        let mut catalog = plugin("catalog", vec![]);
        catalog
            .features
            .extension_points
            .push(provided("catalog.processing", "1.2.0"));
        let mut rules = module(
            "catalog",
            "rules",
            vec![needs(
                DependencyKind::ExtensionPoint,
                "catalog.processing",
                "^1",
            )],
        );
        rules
            .features
            .extension_points
            .push(provided("catalog.rules", "1.0.0"));
        let extra = module(
            "catalog",
            "extra-rule",
            vec![needs(DependencyKind::ExtensionPoint, "catalog.rules", "^1")],
        );
        let plan = run(&[Features {
            plugins: vec![catalog],
            modules: vec![rules, extra],
        }])
        .unwrap();

        let waves = &plan.plugins[&PluginId::parse("plugin id", "catalog").unwrap()].module_waves;
        assert_eq!(ids(waves), [["extra-rule"], ["rules"]]);
    }

    #[test]
    fn a_module_cannot_use_another_plugins_extension_point() {
        let mut catalog = plugin("catalog", vec![]);
        catalog
            .features
            .extension_points
            .push(provided("catalog.processing", "1.0.0"));
        let errors = run(&[Features {
            plugins: vec![catalog, plugin("search", vec![])],
            modules: vec![module(
                "search",
                "sneaky",
                vec![needs(
                    DependencyKind::ExtensionPoint,
                    "catalog.processing",
                    "^1",
                )],
            )],
        }])
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "module `search/sneaky` uses extension point `catalog.processing` of plugin \
              `catalog`, but a module may only use its own plugin's extension points"
            ]
        );
    }

    #[test]
    fn a_plugin_service_orders_its_consumers_after_it() {
        let mut catalog = plugin("catalog", vec![]);
        catalog
            .features
            .services
            .push(service("catalog.entities", "1.4.0"));
        let search = plugin(
            "search",
            vec![needs(DependencyKind::Service, "catalog.entities", "^1.2")],
        );
        let plan = run(&[plugins(vec![search, catalog])]).unwrap();
        assert_eq!(ids(&plan.waves), [["catalog"], ["search"]]);
        assert!(plan.providers.contains(&(
            "service `catalog.entities` 1.4.0".to_string(),
            "plugin `catalog`".to_string()
        )));
    }

    #[test]
    fn two_singletons_of_one_service_are_a_duplicate() {
        let mut first = plugin("first", vec![]);
        first
            .features
            .services
            .push(service("shared.thing", "1.0.0"));
        let mut second = plugin("second", vec![]);
        second
            .features
            .services
            .push(service("shared.thing", "1.0.0"));
        assert_eq!(
            run(&[plugins(vec![first, second])]).unwrap_err(),
            [
                "service `shared.thing` is provided twice, by plugin `first` and by plugin \
              `second`; remove one of them"
            ]
        );
    }
}
