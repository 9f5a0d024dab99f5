//! The module graph of a crate, read from its source: which top-level
//! module names which (`crate::x`, `use crate::{x, y::z}`), so a test can
//! assert the graph has no cycle and no file has grown too long.
//!
//! A module is a file `src/x.rs` or a folder `src/x/`; `lib.rs`/`main.rs`
//! is the root, not a node, but its re-exports (`pub use x::Item;`) count
//! as the module they come from, so `crate::Item` is an edge to `x`.
//! Comments are skipped (a doc link is not a dependency). It reads text, not
//! Rust: good for this workspace's code, not a general tool.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module name → the modules it names.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// The graph of the crate whose sources are in `src`.
pub fn graph(src: &Path) -> Graph {
    let files = rust_files(src);
    let module_of = |path: &Path| -> Option<String> {
        let rel = path.strip_prefix(src).ok()?;
        let first = rel.components().next()?.as_os_str().to_str()?.to_string();
        match first.strip_suffix(".rs") {
            Some("lib" | "main") => None,
            Some(stem) => Some(stem.to_string()),
            None => Some(first),
        }
    };
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(f)).collect();
    // The root's re-exports: `pub use x::{A, B}` makes `crate::A` mean `x`.
    let mut reexports = BTreeMap::new();
    for root in ["lib.rs", "main.rs"] {
        if let Ok(text) = std::fs::read_to_string(src.join(root)) {
            for (module, item) in root_reexports(&code_of(&text)) {
                if modules.contains(&module) {
                    reexports.insert(item, module);
                }
            }
        }
    }
    let mut graph: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for file in &files {
        let Some(from) = module_of(file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for name in crate_paths(&code_of(&text)) {
            let to = if modules.contains(&name) {
                Some(name)
            } else {
                reexports.get(&name).cloned()
            };
            if let Some(to) = to.filter(|to| *to != from) {
                graph.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    graph
}

/// Asserts the crate in `src` keeps its shape: no import cycle between its
/// modules, and no source file over `max_lines`. Returns the graph, for
/// further checks.
pub fn assert_dag_and_short(src: &Path, max_lines: usize) -> Graph {
    let graph = graph(src);
    assert!(!graph.is_empty(), "no modules read under {}", src.display());
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle {}: {graph:#?}", cycle.join(" → "));
    }
    let long = long_files(src, max_lines);
    assert!(long.is_empty(), "files over {max_lines} lines: {long:?}");
    graph
}

/// A cycle, as the modules along it (first repeated last), if there is one.
pub fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, done, path) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut done, &mut Vec::new()))
}

/// The `.rs` files under `src` longer than `max_lines`, with their length.
pub fn long_files(src: &Path, max_lines: usize) -> Vec<(PathBuf, usize)> {
    rust_files(src)
        .into_iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(&f).ok()?.lines().count();
            (n > max_lines).then_some((f, n))
        })
        .collect()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The text without `//` comments (line and doc comments).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            if trimmed.starts_with("//") {
                ""
            } else {
                // A trailing comment starts at `//` after white space (a
                // URL's `://` in a string does not).
                line.find(" //").map_or(line, |i| &line[..i])
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segment after every `crate::` (each item of a
/// `crate::{…}` group).
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            for item in top_level_items(group) {
                out.extend(ident(item.trim_start()));
            }
        } else {
            out.extend(ident(rest));
        }
    }
    out
}

/// The comma-separated items of a `{…}` group (given what follows its
/// `{`), up to its matching `}`; nested groups stay inside their item.
fn top_level_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
}

/// `pub use x::{A, B};` / `pub use x::A;` in the root: (x, item) pairs.
fn root_reexports(code: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for stmt in code.split(';') {
        let Some(path) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let path = path.trim();
        let Some((module, items)) = path.split_once("::") else {
            continue;
        };
        let items = items.trim();
        let items: Vec<&str> = match items.strip_prefix('{') {
            Some(group) => top_level_items(group),
            None => vec![items],
        };
        for item in items {
            // `a::B` re-exports B; `B as C` names C.
            let item = item.trim();
            let name = item
                .rsplit_once(" as ")
                .map_or_else(|| item.rsplit("::").next().unwrap_or(item), |(_, n)| n)
                .trim();
            if !name.is_empty() {
                out.push((module.trim().to_string(), name.to_string()));
            }
        }
    }
    out
}

fn ident(s: &str) -> Option<String> {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (end > 0).then(|| s[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_groups_name_their_first_segment() {
        let code = code_of(
            "use crate::a::X;\nuse crate::{b, c::{D, E}, F};\n// crate::ignored\nlet x = crate::g::h(); // crate::also_ignored\nlet u = \"http://x\";",
        );
        assert_eq!(crate_paths(&code), ["a", "b", "c", "F", "g"]);
    }

    #[test]
    fn root_reexports_map_items_to_their_module() {
        let code = "pub use a::{B, C as D};\npub use e::f::G;\nmod h;";
        assert_eq!(
            root_reexports(code),
            [
                ("a".to_string(), "B".to_string()),
                ("a".to_string(), "D".to_string()),
                ("e".to_string(), "G".to_string())
            ]
        );
    }

    #[test]
    fn a_cycle_is_found_and_a_dag_passes() {
        let g = |edges: &[(&str, &str)]| {
            let mut g = Graph::new();
            for (a, b) in edges {
                g.entry(a.to_string()).or_default().insert(b.to_string());
                g.entry(b.to_string()).or_default();
            }
            g
        };
        assert_eq!(find_cycle(&g(&[("a", "b"), ("b", "c"), ("a", "c")])), None);
        assert_eq!(
            find_cycle(&g(&[("a", "b"), ("b", "c"), ("c", "b")])),
            Some(vec!["b".to_string(), "c".to_string(), "b".to_string()])
        );
    }
}
