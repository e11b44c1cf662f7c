//! Ordering dependency graphs, finding their cycles, and drawing them.

use std::collections::{BTreeMap, BTreeSet};

use super::{Node, Plan, Source};
use crate::register::DependencyKind;

/// Orders a graph whose edges point from a node to what it needs first,
/// in waves; returns one cycle, as a closed chain, when there is no order.
pub(super) fn waves<T: Ord + Clone>(
    edges: &BTreeMap<T, BTreeSet<T>>,
) -> Result<Vec<Vec<T>>, Vec<T>> {
    let mut done: BTreeSet<T> = BTreeSet::new();
    let mut waves = Vec::new();
    while done.len() < edges.len() {
        let wave: Vec<T> = edges
            .iter()
            .filter(|(node, needs)| {
                !done.contains(*node)
                    && needs
                        .iter()
                        .all(|need| done.contains(need) || !edges.contains_key(need))
            })
            .map(|(node, _)| node.clone())
            .collect();
        if wave.is_empty() {
            return Err(find_cycle(edges, &done));
        }
        done.extend(wave.iter().cloned());
        waves.push(wave);
    }
    Ok(waves)
}

/// Finds a cycle among the nodes not yet ordered.
fn find_cycle<T: Ord + Clone>(edges: &BTreeMap<T, BTreeSet<T>>, done: &BTreeSet<T>) -> Vec<T> {
    let start = edges
        .keys()
        .find(|node| !done.contains(*node))
        .expect("a node is left when no wave can be formed")
        .clone();
    // Every node left has a need that is also left: walk until one repeats.
    let mut path = vec![start];
    loop {
        let current = path.last().expect("the path is never empty");
        let next = edges[current]
            .iter()
            .find(|need| !done.contains(*need) && edges.contains_key(*need))
            .expect("every node left has a need left")
            .clone();
        if let Some(position) = path.iter().position(|node| *node == next) {
            let mut cycle = path.split_off(position);
            cycle.push(next);
            return cycle;
        }
        path.push(next);
    }
}

/// The text formats of [`render_graph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

/// Draws the resolved graph: plugins and modules, and their dependencies.
///
/// Only what the plan initializes is drawn (a module whose plugin is absent
/// is left out); an extension point's edge ends at the plugin or module that
/// provides it. The output does not depend on the order of `sources`.
pub fn render_graph(plan: &Plan, sources: &[Source<'_>], format: GraphFormat) -> String {
    let mut nodes: Vec<Node> = Vec::new();
    let mut edges: BTreeSet<(Node, Node, String)> = BTreeSet::new();
    for (id, plugin) in &plan.plugins {
        let node = Node::Plugin(id.clone());
        nodes.push(node.clone());
        for after in &plugin.after {
            edges.insert((
                node.clone(),
                Node::Plugin(after.clone()),
                "after".to_string(),
            ));
        }
        for module in plugin.module_waves.iter().flatten() {
            let module = Node::Module(id.clone(), module.clone());
            nodes.push(module.clone());
            edges.insert((module, node.clone(), "extends".to_string()));
        }
    }

    let providers = extension_point_providers(sources);
    for source in sources {
        for module in &source.features.modules {
            if !plan.plugins.contains_key(&module.plugin_id) {
                continue;
            }
            let from = Node::Module(module.plugin_id.clone(), module.module_id.clone());
            let points = module
                .features
                .dependencies
                .iter()
                .filter(|dependency| dependency.kind == DependencyKind::ExtensionPoint);
            for point in points {
                if let Some(provider) = providers.get(point.id.as_str()) {
                    edges.insert((from.clone(), provider.clone(), point.id.clone()));
                }
            }
        }
    }
    let edges: Vec<(Node, Node, String)> = edges.into_iter().collect();
    match format {
        GraphFormat::Dot => dot(&nodes, &edges),
        GraphFormat::Mermaid => mermaid(&nodes, &edges),
    }
}

/// Who provides each extension point, by id.
fn extension_point_providers<'a>(sources: &'a [Source<'_>]) -> BTreeMap<&'a str, Node> {
    let mut providers = BTreeMap::new();
    for source in sources {
        for plugin in &source.features.plugins {
            for point in &plugin.features.extension_points {
                providers.insert(point.id.as_str(), Node::Plugin(plugin.id.clone()));
            }
        }
        for module in &source.features.modules {
            let node = Node::Module(module.plugin_id.clone(), module.module_id.clone());
            for point in &module.features.extension_points {
                providers.insert(point.id.as_str(), node.clone());
            }
        }
    }
    providers
}

fn label(node: &Node) -> String {
    match node {
        Node::Plugin(id) => id.to_string(),
        Node::Module(plugin, module) => format!("{plugin}/{module}"),
    }
}

fn key(node: &Node) -> String {
    label(node).replace(['/', '-'], "_")
}

fn dot(nodes: &[Node], edges: &[(Node, Node, String)]) -> String {
    let mut out = String::from("digraph greenroom {\n  rankdir=LR;\n");
    for node in nodes {
        let shape = if matches!(node, Node::Plugin(_)) {
            "box"
        } else {
            "ellipse"
        };
        out.push_str(&format!(
            "  {} [label=\"{}\", shape={shape}];\n",
            key(node),
            label(node)
        ));
    }
    for (from, to, what) in edges {
        out.push_str(&format!(
            "  {} -> {} [label=\"{what}\"];\n",
            key(from),
            key(to)
        ));
    }
    out.push_str("}\n");
    out
}

fn mermaid(nodes: &[Node], edges: &[(Node, Node, String)]) -> String {
    let mut out = String::from("flowchart LR\n");
    for node in nodes {
        let (open, close) = if matches!(node, Node::Plugin(_)) {
            ("[", "]")
        } else {
            ("([", "])")
        };
        out.push_str(&format!(
            "  {}{open}\"{}\"{close}\n",
            key(node),
            label(node)
        ));
    }
    for (from, to, what) in edges {
        out.push_str(&format!("  {} -->|{what}| {}\n", key(from), key(to)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(
        pairs: &[(&'static str, &[&'static str])],
    ) -> BTreeMap<&'static str, BTreeSet<&'static str>> {
        pairs
            .iter()
            .map(|(node, needs)| (*node, needs.iter().copied().collect()))
            .collect()
    }

    #[test]
    fn a_diamond_orders_in_three_waves() {
        let edges = graph(&[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])]);
        assert_eq!(
            waves(&edges).unwrap(),
            vec![vec!["a"], vec!["b", "c"], vec!["d"]]
        );
    }

    #[test]
    fn a_cycle_comes_back_as_a_closed_chain() {
        let edges = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["b"]), ("d", &[])]);
        assert_eq!(waves(&edges).unwrap_err(), vec!["b", "c", "b"]);
    }

    #[test]
    fn needs_outside_the_graph_do_not_block() {
        let edges = graph(&[("a", &["elsewhere"])]);
        assert_eq!(waves(&edges).unwrap(), vec![vec!["a"]]);
    }
}
