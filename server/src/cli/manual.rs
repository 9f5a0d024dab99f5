//! `lull completions SHELL` and `lull man`: generated from the clap
//! definitions themselves (`clap_complete`, `clap_mangen`), so they never
//! drift from the commands.

use std::io::Write;
use std::path::Path;

use clap::Command;

/// Writes the completion script for `shell` to `out`.
pub fn completions(cmd: &mut Command, shell: clap_complete::Shell, out: &mut dyn Write) {
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, cmd, name, out);
}

/// `lull(1)` (roff) to `out`; it lists the subcommands.
pub fn man_page(cmd: Command, out: &mut dyn Write) -> std::io::Result<()> {
    clap_mangen::Man::new(cmd).render(out)
}

/// `lull.1` and one `lull-SUBCOMMAND.1` per subcommand (nested ones too:
/// `lull-queues-pause.1`) into `dir`.
pub fn man_pages(cmd: Command, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(cmd, dir)
}
