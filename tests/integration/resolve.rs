//! Resolution over real plugin files: the plan `check` prints, every problem
//! it finds, and the graph `graph` draws, each the same whatever the file
//! names and so the load order.

use std::{fmt::Write as _, os::unix::process::ExitStatusExt, process::Output};

use camino::Utf8PathBuf;
use greenroom_contract as contract;
use greenroom_host::{
    backend::host_services,
    register,
    resolve::{self, ResolveOptions, Source},
};

use crate::{
    artifacts::{Specimen, lay_out, load_orders, run_greenroom_with, scratch, write_specimens},
    bad_files::{assert_exit, assert_ok, stdout},
};

use Specimen::{Module, Plugin};

/// The providers every plan lists first: the host's own services.
const HOST_PROVIDERS: [&str; 8] = [
    "service `core.cache` 1.0.0: the host",
    "service `core.config` 1.0.0: the host",
    "service `core.database` 1.0.0: the host",
    "service `core.discovery` 1.0.0: the host",
    "service `core.lifecycle` 1.0.0: the host",
    "service `core.logger` 1.0.0: the host",
    "service `core.plugin-metadata` 1.0.0: the host",
    "service `core.scheduler` 1.0.0: the host",
];

/// What `check` prints for a plan: the `waves` lines as given, then the
/// host's providers and `providers`, then one line per warning.
fn plan(waves: &[&str], providers: &[&str], warnings: &[&str]) -> String {
    let mut text = String::from("initialization plan (plugins in one wave start in parallel):\n");
    for line in waves {
        let _ = writeln!(text, "{line}");
    }
    text.push_str("providers:\n");
    for provider in HOST_PROVIDERS.iter().chain(providers) {
        let _ = writeln!(text, "  {provider}");
    }
    for warning in warnings {
        let _ = writeln!(text, "warning: {warning}");
    }
    text
}

/// What `check` prints when resolution finds `problems`.
fn problems(problems: &[&str]) -> String {
    let mut text = String::from("the plugins cannot start together:\n");
    for problem in problems {
        let _ = writeln!(text, "  {problem}");
    }
    text
}

/// One run over one load order: the order, the exit code, what it showed.
type Run = (Vec<usize>, i32, String);

/// Runs `greenroom <args> --plugins DIR` with `GREENROOM_SPECIMEN` set to
/// `spec` over copies of `specimens` laid out in every load order, asserts
/// that every run exited by itself with the same code and the same `view` of
/// its output, and returns that code and view.
fn same_in_every_order(
    test: &str,
    specimens: &[Specimen],
    spec: &str,
    args: &[&str],
    view: fn(&Output, &[Utf8PathBuf]) -> String,
) -> (i32, String) {
    let copies = write_specimens(&scratch(test), specimens);
    let runs: Vec<Run> = load_orders(specimens.len())
        .into_iter()
        .map(|order| {
            let dir = scratch(test);
            let files = lay_out(&dir, &copies, &order);
            let mut all_args = args.to_vec();
            all_args.extend(["--plugins", dir.as_str()]);
            let output = run_greenroom_with(&all_args, &[("GREENROOM_SPECIMEN", spec)]);
            let shown = format!(
                "{}\nstderr:\n{}",
                stdout(&output),
                String::from_utf8_lossy(&output.stderr)
            );
            assert_eq!(output.status.signal(), None, "killed by a signal:\n{shown}");
            let code = output.status.code().expect("an exit code when no signal");
            (order, code, view(&output, &files))
        })
        .collect();

    let (first_order, code, first) = &runs[0];
    for (order, other_code, other) in &runs[1..] {
        assert_eq!(
            (other_code, other),
            (code, first),
            "loading in order {order:?} differs from loading in order {first_order:?}"
        );
    }
    (*code, first.clone())
}

/// The part of `check`'s output after the file table (which must show
/// every file as loaded): the plan or the problems.
fn resolution(output: &Output, files: &[Utf8PathBuf]) -> String {
    let text = stdout(output);
    let (table, resolution) = text
        .split_once("\n\n")
        .unwrap_or_else(|| panic!("a blank line between table and resolution in:\n{text}"));
    for file in files {
        assert_ok(table, file);
    }
    resolution.to_string()
}

/// Everything a run printed to stdout.
fn whole_stdout(output: &Output, _files: &[Utf8PathBuf]) -> String {
    stdout(output)
}

/// Runs `check` over `specimens` in every load order; see
/// [`same_in_every_order`].
fn check(test: &str, specimens: &[Specimen], spec: &str) -> (i32, String) {
    same_in_every_order(test, specimens, spec, &["check"], resolution)
}

/// Runs `graph --format <format>` over `specimens` in every load order,
/// asserts that it succeeded, and returns what it drew.
fn graph(test: &str, specimens: &[Specimen], spec: &str, format: &str) -> String {
    let args = ["graph", "--format", format];
    let (code, drawn) = same_in_every_order(test, specimens, spec, &args, whole_stdout);
    assert_eq!(code, 0, "graph failed:\n{drawn}");
    drawn
}

#[test]
fn a_chain_of_plugins_starts_in_one_wave_each_in_dependency_order() {
    let specimens = [
        Plugin("specimen-0001"),
        Plugin("specimen-0002"),
        Plugin("specimen-0003"),
    ];
    let spec = "\
        specimen-0001 needs plugin specimen-0002 ^1\n\
        specimen-0002 needs plugin specimen-0003 ^1.2\n\
        specimen-0003 version 1.2.0\n";

    let (code, printed) = check("chain", &specimens, spec);

    assert_eq!(code, 0, "{printed}");
    assert_eq!(
        printed,
        plan(
            &[
                "  wave 1:",
                "    specimen-0003 1.2.0",
                "  wave 2:",
                "    specimen-0002 1.0.0, after specimen-0003",
                "  wave 3:",
                "    specimen-0001 1.0.0, after specimen-0002",
            ],
            &[],
            &[],
        )
    );
}

#[test]
fn a_diamond_starts_its_two_middle_plugins_in_one_wave() {
    let specimens = [
        Plugin("specimen-0001"),
        Plugin("specimen-0002"),
        Plugin("specimen-0003"),
        Plugin("specimen-0004"),
    ];
    let spec = "\
        specimen-0001 needs plugin specimen-0002 ^1\n\
        specimen-0001 needs plugin specimen-0003 ^1\n\
        specimen-0002 needs plugin specimen-0004 ^1\n\
        specimen-0003 needs service specimen.api ^1.2\n\
        specimen-0004 provides service specimen.api 1.4.0\n";

    let (code, printed) = check("diamond", &specimens, spec);

    assert_eq!(code, 0, "{printed}");
    assert_eq!(
        printed,
        plan(
            &[
                "  wave 1:",
                "    specimen-0004 1.0.0",
                "  wave 2:",
                "    specimen-0002 1.0.0, after specimen-0004",
                "    specimen-0003 1.0.0, after specimen-0004",
                "  wave 3:",
                "    specimen-0001 1.0.0, after specimen-0002, specimen-0003",
            ],
            &["service `specimen.api` 1.4.0: plugin `specimen-0004`"],
            &[],
        )
    );
}

#[test]
fn a_dependency_cycle_is_named_once_from_its_first_plugin() {
    let specimens = [
        Plugin("specimen-0001"),
        Plugin("specimen-0002"),
        Plugin("specimen-0003"),
    ];
    let spec = "\
        specimen-0001 needs plugin specimen-0002 ^1\n\
        specimen-0002 needs plugin specimen-0001 ^1\n\
        specimen-0003 needs plugin specimen-0001 ^1\n";

    let (code, printed) = check("cycle", &specimens, spec);

    assert_eq!(code, 1, "{printed}");
    assert_eq!(
        printed,
        problems(&[
            "dependency cycle: plugin `specimen-0001` -> plugin `specimen-0002` -> plugin \
             `specimen-0001`; remove one of these dependencies"
        ])
    );
}

#[test]
fn a_missing_service_and_a_missing_plugin_are_named_but_an_optional_one_is_not() {
    let specimens = [Plugin("specimen-0001"), Plugin("specimen-0002")];
    let spec = "\
        specimen-0001 needs service specimen.absent ^1\n\
        specimen-0001 needs plugin specimen-0009 ^2\n\
        specimen-0002 needs service specimen.elsewhere ^1 optional\n";

    let (code, printed) = check("missing", &specimens, spec);

    assert_eq!(code, 1, "{printed}");
    assert_eq!(
        printed,
        problems(&[
            "plugin `specimen-0001` needs service `specimen.absent` ^1, which nothing installed \
             provides; install what provides it, or declare the dependency optional",
            "plugin `specimen-0001` needs plugin `specimen-0009` ^2, which nothing installed \
             provides; install what provides it, or declare the dependency optional",
        ])
    );
}

#[test]
fn a_version_conflict_names_the_requirement_and_the_version_provided() {
    let specimens = [
        Plugin("specimen-0001"),
        Plugin("specimen-0002"),
        Plugin("specimen-0003"),
    ];
    let spec = "\
        specimen-0001 needs service specimen.api ^2\n\
        specimen-0001 needs plugin specimen-0003 ^2.1\n\
        specimen-0002 provides service specimen.api 1.4.0\n\
        specimen-0003 version 2.0.7\n";

    let (code, printed) = check("version-conflict", &specimens, spec);

    assert_eq!(code, 1, "{printed}");
    assert_eq!(
        printed,
        problems(&[
            "plugin `specimen-0001` needs service `specimen.api` ^2, but plugin `specimen-0002` \
             provides version 1.4.0; upgrade one side or change the requirement",
            "plugin `specimen-0001` needs plugin `specimen-0003` ^2.1, but plugin \
             `specimen-0003` provides version 2.0.7; upgrade one side or change the requirement",
        ])
    );
}

// Neither provider wins, so neither comes "first": the two are named in id
// order, whatever the file names.
#[test]
fn a_service_provided_by_two_plugins_is_a_duplicate_named_the_same_in_every_order() {
    let specimens = [
        Plugin("specimen-0001"),
        Plugin("specimen-0002"),
        Plugin("specimen-0003"),
    ];
    let spec = "\
        specimen-0001 provides service specimen.api 1.0.0\n\
        specimen-0002 provides service specimen.api 1.1.0\n\
        specimen-0003 needs service specimen.api ^1\n";

    let (code, printed) = check("duplicate-service", &specimens, spec);

    assert_eq!(code, 1, "{printed}");
    assert_eq!(
        printed,
        problems(&[
            "service `specimen.api` is provided twice, by plugin `specimen-0001` and by plugin \
             `specimen-0002`; remove one of them"
        ])
    );
}

#[test]
fn a_plugin_providing_one_of_the_hosts_own_services_is_refused_not_ignored() {
    let specimens = [Plugin("specimen-0001"), Plugin("specimen-0002")];
    let spec = "\
        specimen-0001 provides service core.scheduler 1.0.0\n\
        specimen-0002 needs service core.scheduler ^1\n";

    let (code, printed) = check("host-service", &specimens, spec);

    assert_eq!(code, 1, "{printed}");
    assert_eq!(
        printed,
        problems(&[
            "plugin `specimen-0001` provides service `core.scheduler`, which the host provides \
             itself and keeps; of the host's services only core.cache, core.database, \
             core.discovery, core.logger may be replaced or wrapped (by one plugin each, not \
             as a multiton); give the plugin's service an id of its own"
        ])
    );
}

#[test]
fn a_module_without_its_plugin_is_a_warning_and_the_plan_still_stands() {
    let specimens = [
        Plugin("specimen-0001"),
        Module("specimen-0002", "addition-0001"),
    ];

    let (code, printed) = check("orphan", &specimens, "");

    assert_eq!(code, 0, "{printed}");
    assert_eq!(
        printed,
        plan(
            &["  wave 1:", "    specimen-0001 1.0.0"],
            &[],
            &[
                "module `specimen-0002/addition-0001` extends plugin `specimen-0002`, which is \
                 not installed; the module will not run"
            ],
        )
    );
}

/// A plugin descriptor as a library built without the SDK could register
/// it, with `dependencies` and `points` provided.
fn descriptor(
    id: &str,
    dependencies: Vec<contract::Dependency>,
    points: Vec<contract::ExtensionPointDescriptor>,
) -> contract::PluginDescriptor {
    contract::PluginDescriptor {
        id: id.into(),
        version: "1.0.0".into(),
        dependencies: dependencies.into(),
        extension_points: points.into(),
        services: Vec::new().into(),
        config_schema: "".into(),
    }
}

// The SDK's plugin registrar cannot declare a dependency on an extension
// point, and the specimen kit ignores the directive for plugins, so no
// fixture file can: the registration comes through the contract types, as
// from a library built without the SDK, and goes through the host's own
// validation and resolution.
#[test]
fn a_plugin_that_depends_on_an_extension_point_is_told_to_move_the_code_into_a_module() {
    let uses_point = contract::Dependency {
        kind: contract::DependencyKind::ExtensionPoint,
        id: "specimen.points".into(),
        version_req: "^1".into(),
        optional: false,
    };
    let point = contract::ExtensionPointDescriptor {
        id: "specimen.points".into(),
        version: "1.0.0".into(),
    };
    let registration = contract::Registration {
        plugins: vec![
            descriptor("specimen-0001", Vec::new(), vec![point]),
            descriptor("specimen-0002", vec![uses_point], Vec::new()),
        ]
        .into(),
        modules: Vec::new().into(),
    };
    let features = register::validate(registration).expect("the registration is valid");
    let sources = [Source {
        origin: "hand-made.so",
        features: &features,
    }];

    let found = resolve::resolve(&sources, &host_services(), ResolveOptions::default())
        .expect_err("a plugin may not use an extension point");

    let found: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        [
            "plugin `specimen-0002` depends on extension point `specimen.points`, but only \
             modules may use extension points; move that code into a module"
        ]
    );
}

#[test]
fn a_module_may_not_use_the_extension_point_of_another_plugin() {
    let specimens = [
        Plugin("specimen-0001"),
        Plugin("specimen-0002"),
        Module("specimen-0002", "addition-0001"),
    ];
    let spec = "\
        specimen-0001 provides extension-point specimen.points 1.0.0\n\
        specimen-0002/addition-0001 needs extension-point specimen.points ^1\n";

    let (code, printed) = check("foreign-point", &specimens, spec);

    assert_eq!(code, 1, "{printed}");
    assert_eq!(
        printed,
        problems(&[
            "module `specimen-0002/addition-0001` uses extension point `specimen.points` of \
             plugin `specimen-0001`, but a module may only use its own plugin's extension points"
        ])
    );
}

#[test]
fn a_module_using_a_point_another_module_provides_initializes_before_that_module() {
    let specimens = [
        Plugin("specimen-0001"),
        Module("specimen-0001", "addition-0001"),
        Module("specimen-0001", "addition-0002"),
        Module("specimen-0001", "addition-0003"),
    ];
    let spec = "\
        specimen-0001 provides extension-point specimen.points 1.0.0\n\
        specimen-0001/addition-0001 needs extension-point specimen.points ^1\n\
        specimen-0001/addition-0001 provides extension-point specimen.more 1.2.0\n\
        specimen-0001/addition-0002 needs extension-point specimen.more ^1.1\n";

    let (code, printed) = check("module-order", &specimens, spec);

    assert_eq!(code, 0, "{printed}");
    assert_eq!(
        printed,
        plan(
            &[
                "  wave 1:",
                "    specimen-0001 1.0.0, modules first: addition-0002 + addition-0003 then \
                 addition-0001",
            ],
            &[
                "extension point `specimen.more` 1.2.0: module `specimen-0001/addition-0001`",
                "extension point `specimen.points` 1.0.0: plugin `specimen-0001`",
            ],
            &[],
        )
    );
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let specimens = [
        Plugin("specimen-0001"),
        Plugin("specimen-0002"),
        Plugin("specimen-0003"),
        Plugin("specimen-0004"),
        Module("specimen-0003", "addition-0001"),
        Module("specimen-0009", "addition-0002"),
    ];
    let spec = "\
        specimen-0001 needs plugin specimen-0002 ^1\n\
        specimen-0002 needs plugin specimen-0001 ^1\n\
        specimen-0003 needs service specimen.absent ^1\n\
        specimen-0003 needs service specimen.api ^2\n\
        specimen-0004 provides service specimen.api 1.4.0\n\
        specimen-0004 provides extension-point specimen.points 1.0.0\n\
        specimen-0003/addition-0001 needs extension-point specimen.points ^1\n";

    let (code, printed) = check("every-problem", &specimens, spec);

    assert_eq!(code, 1, "{printed}");
    assert_eq!(
        printed,
        problems(&[
            "module `specimen-0009/addition-0002` extends plugin `specimen-0009`, which is not \
             installed; the module will not run",
            "plugin `specimen-0003` needs service `specimen.absent` ^1, which nothing installed \
             provides; install what provides it, or declare the dependency optional",
            "plugin `specimen-0003` needs service `specimen.api` ^2, but plugin `specimen-0004` \
             provides version 1.4.0; upgrade one side or change the requirement",
            "module `specimen-0003/addition-0001` uses extension point `specimen.points` of \
             plugin `specimen-0004`, but a module may only use its own plugin's extension points",
            "dependency cycle: plugin `specimen-0001` -> plugin `specimen-0002` -> plugin \
             `specimen-0001`; remove one of these dependencies",
        ])
    );
}

/// A plugin after another, whose module uses its extension point.
const SMALL_GRAPH: [Specimen; 3] = [
    Plugin("specimen-0001"),
    Plugin("specimen-0002"),
    Module("specimen-0002", "addition-0001"),
];

/// What [`SMALL_GRAPH`] needs and provides.
const SMALL_GRAPH_SPEC: &str = "\
    specimen-0001 needs plugin specimen-0002 ^1\n\
    specimen-0002 provides extension-point specimen.points 1.0.0\n\
    specimen-0002/addition-0001 needs extension-point specimen.points ^1\n";

#[test]
fn the_dot_graph_draws_plugins_as_boxes_modules_as_ellipses_and_labels_every_edge() {
    let drawn = graph("graph-dot", &SMALL_GRAPH, SMALL_GRAPH_SPEC, "dot");

    assert_eq!(
        drawn,
        "\
digraph greenroom {
  rankdir=LR;
  specimen_0001 [label=\"specimen-0001\", shape=box];
  specimen_0002 [label=\"specimen-0002\", shape=box];
  specimen_0002_addition_0001 [label=\"specimen-0002/addition-0001\", shape=ellipse];
  specimen_0001 -> specimen_0002 [label=\"after\"];
  specimen_0002_addition_0001 -> specimen_0002 [label=\"extends\"];
  specimen_0002_addition_0001 -> specimen_0002 [label=\"specimen.points\"];
}
"
    );
}

#[test]
fn the_mermaid_graph_draws_the_same_nodes_and_edges_as_a_flowchart() {
    let drawn = graph("graph-mermaid", &SMALL_GRAPH, SMALL_GRAPH_SPEC, "mermaid");

    assert_eq!(
        drawn,
        "\
flowchart LR
  specimen_0001[\"specimen-0001\"]
  specimen_0002[\"specimen-0002\"]
  specimen_0002_addition_0001([\"specimen-0002/addition-0001\"])
  specimen_0001 -->|after| specimen_0002
  specimen_0002_addition_0001 -->|extends| specimen_0002
  specimen_0002_addition_0001 -->|specimen.points| specimen_0002
"
    );
}

/// A plugin with two modules, one using a point the other provides.
const MODULE_CHAIN: [Specimen; 3] = [
    Plugin("specimen-0001"),
    Module("specimen-0001", "addition-0001"),
    Module("specimen-0001", "addition-0002"),
];

/// What [`MODULE_CHAIN`] needs and provides.
const MODULE_CHAIN_SPEC: &str = "\
    specimen-0001 provides extension-point specimen.points 1.0.0\n\
    specimen-0001/addition-0001 needs extension-point specimen.points ^1\n\
    specimen-0001/addition-0001 provides extension-point specimen.more 1.0.0\n\
    specimen-0001/addition-0002 needs extension-point specimen.more ^1\n";

// The plan does not depend on file names, so neither may its drawing.
#[test]
fn the_graph_is_drawn_the_same_whatever_the_file_names() {
    graph("graph-order", &MODULE_CHAIN, MODULE_CHAIN_SPEC, "dot");
}

// The edge is what orders the two modules: it must join them, not point at
// the plugin, which does not provide `specimen.more`.
#[test]
fn an_extension_point_edge_ends_at_the_module_that_provides_the_point() {
    let dir = scratch("graph-provider");
    write_specimens(&dir, &MODULE_CHAIN);

    let output = run_greenroom_with(
        &["graph", "--plugins", dir.as_str()],
        &[("GREENROOM_SPECIMEN", MODULE_CHAIN_SPEC)],
    );

    assert_exit(&output, 0);
    let drawn = stdout(&output);
    let mut edges: Vec<&str> = drawn
        .lines()
        .filter(|line| line.contains("[label=\"specimen."))
        .collect();
    edges.sort_unstable();
    assert_eq!(
        edges,
        [
            "  specimen_0001_addition_0001 -> specimen_0001 [label=\"specimen.points\"];",
            "  specimen_0001_addition_0002 -> specimen_0001_addition_0001 \
             [label=\"specimen.more\"];",
        ],
        "{drawn}"
    );
}

// An orphan module does not run and is not in the plan; an edge from it
// would name two nodes the graph never declares.
#[test]
fn a_module_without_its_plugin_is_left_out_of_the_graph() {
    let specimens = [
        Plugin("specimen-0001"),
        Module("specimen-0002", "addition-0001"),
    ];
    let spec = "specimen-0002/addition-0001 needs extension-point specimen.points ^1\n";

    let drawn = graph("graph-orphan", &specimens, spec, "dot");

    assert_eq!(
        drawn,
        "\
digraph greenroom {
  rankdir=LR;
  specimen_0001 [label=\"specimen-0001\", shape=box];
}
"
    );
}

#[test]
fn graph_names_a_refused_file_it_leaves_out_and_fails() {
    let dir = scratch("graph-refused");
    let file = dir.join("broken.so");
    std::fs::write(&file, b"not an ELF file at all").expect("written");

    let output = run_greenroom_with(
        &["graph", "--format", "mermaid", "--plugins", dir.as_str()],
        &[],
    );

    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "flowchart LR\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "greenroom: {file} was refused and is not in the graph: "
        )),
        "{stderr}"
    );
}
