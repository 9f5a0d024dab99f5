//! Sections of `BENCHMARKS.md` that a scenario owns between two markers
//! (scenario 7's pause history, scenario 8's peer comparison): a run of that
//! scenario alone (`--only 7`, `--only 8`) replaces just its section, and a
//! run that did not measure it carries the previous file's section over.

/// `previous` with the section between `begin` and `end` replaced by
/// `section` (which carries the markers), or `section` added before the
/// hand-written notes when the file had none — outside their markers, which
/// a full run carries over as they are.
pub fn splice(previous: &str, begin: &str, end: &str, section: &str) -> String {
    if let (Some(b), Some(e)) = (previous.find(begin), previous.find(end)) {
        if b < e {
            let after = &previous[e + end.len()..];
            return format!(
                "{}{}{}",
                &previous[..b],
                section.trim_end_matches('\n'),
                after
            );
        }
    }
    let notes = previous
        .find(crate::report::NOTES_BEGIN)
        .or_else(|| previous.find("\n## Notes").map(|at| at + 1));
    match notes {
        Some(at) => format!("{}{section}\n{}", &previous[..at], &previous[at..]),
        None => format!("{}\n\n{section}", previous.trim_end()),
    }
}

/// The section between `begin` and `end` (markers included) of a previous
/// file, to carry over a run that did not measure it.
pub fn carried<'a>(previous: &'a str, begin: &str, end: &str) -> Option<&'a str> {
    let b = previous.find(begin)?;
    let e = previous.find(end)? + end.len();
    (b < e).then(|| &previous[b..e])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_sections_live_side_by_side_and_are_replaced_alone() {
        let file = "# B\n\nsummary\n\n<!-- notes:begin -->\n## Notes\n<!-- notes:end -->\n";
        let file = splice(
            file,
            "<!-- a:begin -->",
            "<!-- a:end -->",
            "<!-- a:begin -->\nA1\n<!-- a:end -->\n",
        );
        let file = splice(
            &file,
            "<!-- b:begin -->",
            "<!-- b:end -->",
            "<!-- b:begin -->\nB1\n<!-- b:end -->\n",
        );
        assert!(
            file.find("A1").unwrap() < file.find("B1").unwrap(),
            "{file}"
        );
        assert!(
            file.find("B1").unwrap() < file.find("## Notes").unwrap(),
            "{file}"
        );
        let file = splice(
            &file,
            "<!-- b:begin -->",
            "<!-- b:end -->",
            "<!-- b:begin -->\nB2\n<!-- b:end -->\n",
        );
        assert!(
            file.contains("A1") && file.contains("B2") && !file.contains("B1"),
            "{file}"
        );
        assert_eq!(
            carried(&file, "<!-- a:begin -->", "<!-- a:end -->"),
            Some("<!-- a:begin -->\nA1\n<!-- a:end -->")
        );
        assert_eq!(carried(&file, "<!-- c:begin -->", "<!-- c:end -->"), None);
    }
}
