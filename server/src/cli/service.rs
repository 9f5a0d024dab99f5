//! `lull install-service [--user] [--print]`: the systemd unit from
//! `packaging/systemd/`, with `ExecStart=` pointing at this binary, written
//! where systemd looks for it, with its environment file (never
//! overwritten) and, for the system unit, its user (sysusers.d); then
//! `systemctl daemon-reload` and `enable`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Args;

const SYSTEM_UNIT: &str = include_str!("../../../packaging/systemd/lull.service");
const USER_UNIT: &str = include_str!("../../../packaging/systemd/lull-user.service");
const SYSUSERS: &str = include_str!("../../../packaging/systemd/lull.sysusers");
const ENV_FILE: &str = include_str!("../../../packaging/lull.env");
/// The `ExecStart=` binary in the unit files as shipped.
const SHIPPED_BINARY: &str = "/usr/local/bin/lull";

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    sudo lull install-service              # /etc/systemd/system/lull.service, enabled\n  \
    lull install-service --user            # ~/.config/systemd/user/lull.service, enabled\n  \
    lull install-service --user --print    # only print the unit")]
pub struct InstallService {
    /// A user unit (`systemctl --user`) instead of the system unit.
    #[arg(long)]
    user: bool,
    /// Print the unit to stdout; write and enable nothing.
    #[arg(long)]
    print: bool,
    /// The binary `ExecStart=` runs [default: this `lull`].
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Write the unit here instead of /etc/systemd/system (system) or
    /// ~/.config/systemd/user (--user).
    #[arg(long)]
    unit_dir: Option<PathBuf>,
    /// Write the environment file here instead of /etc/lull (system) or
    /// ~/.config/lull (--user).
    #[arg(long)]
    config_dir: Option<PathBuf>,
    /// Write the files but run no systemctl (nor systemd-sysusers).
    #[arg(long)]
    no_enable: bool,
}

pub fn run(args: InstallService) -> ExitCode {
    match install(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lull install-service: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The unit text with `ExecStart=` running `binary`.
pub fn unit(user: bool, binary: &Path) -> Result<String, String> {
    let path = binary
        .to_str()
        .filter(|p| !p.chars().any(char::is_whitespace))
        .ok_or_else(|| {
            format!(
                "{}: use a binary path without spaces (or pass --binary)",
                binary.display()
            )
        })?;
    let template = if user { USER_UNIT } else { SYSTEM_UNIT };
    Ok(template.replace(
        &format!("ExecStart={SHIPPED_BINARY} "),
        &format!("ExecStart={path} "),
    ))
}

fn install(a: &InstallService) -> Result<(), String> {
    let binary = match &a.binary {
        Some(b) => b.clone(),
        None => std::env::current_exe()
            .map_err(|e| format!("cannot tell where this binary is ({e}): pass --binary"))?,
    };
    let binary = std::path::absolute(&binary).map_err(|e| e.to_string())?;
    let text = unit(a.user, &binary)?;
    if a.print {
        print!("{text}");
        return Ok(());
    }
    let home = || {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .ok_or("HOME is not set: pass --unit-dir and --config-dir")
    };
    let (unit_dir, config_dir) = if a.user {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .map_or_else(|| home().map(|h| h.join(".config")), Ok)?;
        (config.join("systemd/user"), config.join("lull"))
    } else {
        (
            PathBuf::from("/etc/systemd/system"),
            PathBuf::from("/etc/lull"),
        )
    };
    let unit_dir = a.unit_dir.clone().unwrap_or(unit_dir);
    let config_dir = a.config_dir.clone().unwrap_or(config_dir);
    let unit_path = unit_dir.join("lull.service");
    write(&unit_path, &text)?;
    println!("wrote {}", unit_path.display());
    let env_path = config_dir.join("lull.env");
    if env_path.exists() {
        println!("kept {} (it exists)", env_path.display());
    } else {
        write(&env_path, ENV_FILE)?;
        println!("wrote {}", env_path.display());
    }
    let sysusers = (!a.user).then(|| PathBuf::from("/etc/sysusers.d/lull.conf"));
    let systemctl: &[&str] = if a.user {
        &["systemctl", "--user"]
    } else {
        &["systemctl"]
    };
    if a.no_enable {
        println!("not enabled (--no-enable); to finish:");
        if let Some(s) = &sysusers {
            println!(
                "  install packaging/systemd/lull.sysusers as {} and run systemd-sysusers",
                s.display()
            );
        }
        println!("  {} daemon-reload", systemctl.join(" "));
        println!("  {} enable --now lull.service", systemctl.join(" "));
        return Ok(());
    }
    if let Some(s) = &sysusers {
        write(s, SYSUSERS)?;
        println!("wrote {}", s.display());
        run_cmd(&["systemd-sysusers", &s.display().to_string()])?;
    }
    run_cmd(&[systemctl, &["daemon-reload"]].concat())?;
    run_cmd(&[systemctl, &["enable", "lull.service"]].concat())?;
    println!(
        "enabled lull.service; start it with: {} start lull.service",
        systemctl.join(" ")
    );
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn run_cmd(argv: &[&str]) -> Result<(), String> {
    println!("$ {}", argv.join(" "));
    let status = Command::new(argv[0])
        .args(&argv[1..])
        .status()
        .map_err(|e| format!("{}: {e}", argv[0]))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", argv.join(" ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_start_runs_the_given_binary() {
        for user in [false, true] {
            let text = unit(user, Path::new("/opt/lull/bin/lull")).unwrap();
            assert!(
                text.contains("\nExecStart=/opt/lull/bin/lull serve\n"),
                "{text}"
            );
            assert!(!text.contains(SHIPPED_BINARY));
            assert!(text.contains("\nType=notify\n"));
        }
        assert!(unit(false, Path::new("/opt/my lull/lull")).is_err());
    }
}
