//! The client's modules form a DAG and no source file passes 600 lines.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::path::Path;

use testkit::modules;

#[test]
fn the_module_graph_is_a_dag_and_no_file_is_over_600_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = modules::graph(&src);
    assert!(graph["pause"].contains("error"), "{graph:#?}");
    assert_eq!(modules::find_cycle(&graph), None, "{graph:#?}");
    assert_eq!(modules::long_files(&src, 600), vec![]);
}
