//! The runtime's shape stays simple: its modules form a DAG (no module
//! reaches back up into one that uses it) and no source file passes 600
//! lines.

use std::path::Path;

#[test]
fn the_module_graph_is_a_dag_and_no_file_is_over_600_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = testkit::modules::assert_dag_and_short(&src, 600);
    // It read the crate: the claim loop runs jobs over the shared state.
    assert!(graph["runtime"].contains("job"), "{graph:#?}");
    assert!(graph["job"].contains("shared"), "{graph:#?}");
}
