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
mod resolver;

use std::collections::{BTreeMap, BTreeSet};

use semver::Version;

pub use graph::{GraphFormat, render_graph};
pub use problem::{Problem, Provider, Severity};

use crate::register::{FeatureId, Features, PluginId, ServiceScope};

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
    let mut resolver = resolver::Resolver::default();
    resolver.index(sources, host_services, options);
    resolver.check_dependencies();
    resolver.order()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::{Dependency, DependencyKind, FeatureSet, Module, Plugin};
    use crate::register::{Provided, Service};

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
            wraps: false,
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

    #[test]
    fn the_plan_names_the_wrapper_of_a_host_service_beside_its_provider() {
        let mut wrapper = plugin(
            "redacting",
            vec![needs(DependencyKind::Service, "core.logger", "^1")],
        );
        wrapper.features.services.push(Service {
            wraps: true,
            ..service("core.logger", "1.0.0")
        });
        let user = plugin(
            "user",
            vec![needs(DependencyKind::Service, "core.logger", "^1")],
        );

        let plan = run(&[plugins(vec![user, wrapper])]).unwrap();

        assert_eq!(ids(&plan.waves), [["redacting"], ["user"]]);
        assert!(
            plan.providers.contains(&(
                "service `core.logger` 1.0.0".to_string(),
                "the host, wrapped by plugin `redacting`".to_string()
            )),
            "{:?}",
            plan.providers
        );
    }
}
