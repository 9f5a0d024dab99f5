//! The packaging around the `lull` binary, checked with the tools that
//! consume it: both systemd units pass `systemd-analyze verify` with no
//! warning, `install-service` writes them (and never overwrites the
//! environment file), the completion scripts parse in bash, zsh and fish,
//! the man pages render in groff without a warning, and `--version` names
//! the commit. The tools come from `scripts/setup.sh --service-tools`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::path::Path;
use std::process::{Command, Output};

use testkit::TempDir;

fn lull(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_lull"))
        .args(args)
        .output()
        .expect("run lull");
    assert!(
        out.status.success(),
        "lull {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `tool` must be installed: these checks are the point of the test.
fn require(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is missing: install it with `bash scripts/setup.sh --service-tools`"
    );
}

/// `systemd-analyze verify` on `unit`: it reports bad settings as
/// warnings on stderr and still exits 0, so any stderr is a failure.
fn verify(unit: &Path, user: bool) -> Result<(), String> {
    require("systemd-analyze");
    let runtime = TempDir::new();
    let mut cmd = Command::new("systemd-analyze");
    if user {
        cmd.arg("--user");
    }
    let out = cmd
        .args(["verify", "--man=no"])
        .arg(unit)
        // A user manager needs a runtime directory; there is no login
        // session here.
        .env("XDG_RUNTIME_DIR", &runtime.0)
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if out.status.success() && stderr.trim().is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {stderr}", out.status))
    }
}

/// The unit `install-service --print` gives, saved as `lull.service`.
fn printed_unit(dir: &Path, user: bool) -> std::path::PathBuf {
    let mut args = vec!["install-service", "--print"];
    if user {
        args.push("--user");
    }
    let path = dir.join("lull.service");
    std::fs::write(&path, lull(&args).stdout).unwrap();
    path
}

#[test]
fn both_units_verify_without_warnings() {
    for user in [false, true] {
        let dir = TempDir::new();
        let unit = printed_unit(&dir.0, user);
        let text = std::fs::read_to_string(&unit).unwrap();
        assert!(
            text.contains(&format!(
                "\nExecStart={} serve\n",
                env!("CARGO_BIN_EXE_lull")
            )),
            "ExecStart runs this binary: {text}"
        );
        for line in [
            "Type=notify",
            "StateDirectory=lull",
            "KillSignal=SIGTERM",
            "TimeoutStopSec=30",
            "NoNewPrivileges=yes",
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line} in {text}");
        }
        if !user {
            for line in ["ProtectSystem=strict", "PrivateTmp=yes", "ProtectHome=yes"] {
                assert!(text.contains(&format!("\n{line}\n")), "{line}");
            }
        }
        verify(&unit, user).unwrap_or_else(|e| panic!("user={user}: {e}"));

        // The check is real: a bad setting in the same unit is reported.
        let broken = dir.0.join("broken");
        std::fs::create_dir_all(&broken).unwrap();
        std::fs::write(
            broken.join("lull.service"),
            text.replace("NoNewPrivileges=yes", "NoNewPrivileges=perhaps"),
        )
        .unwrap();
        assert!(verify(&broken.join("lull.service"), user).is_err());
    }
}

#[test]
fn the_shipped_files_are_what_install_service_writes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (user, shipped) in [
        (false, "packaging/systemd/lull.service"),
        (true, "packaging/systemd/lull-user.service"),
    ] {
        let dir = TempDir::new();
        let printed = std::fs::read_to_string(printed_unit(&dir.0, user)).unwrap();
        let shipped = std::fs::read_to_string(root.join(shipped)).unwrap();
        assert_eq!(
            printed.replace(env!("CARGO_BIN_EXE_lull"), "/usr/local/bin/lull"),
            shipped
        );
    }
}

#[test]
fn install_service_writes_the_unit_and_keeps_the_env_file() {
    let dir = TempDir::new();
    let units = dir.0.join("units");
    let conf = dir.0.join("conf");
    let args = [
        "install-service",
        "--user",
        "--no-enable",
        "--binary",
        "/opt/lull/bin/lull",
        "--unit-dir",
        units.to_str().unwrap(),
        "--config-dir",
        conf.to_str().unwrap(),
    ];
    let out = String::from_utf8(lull(&args).stdout).unwrap();
    assert!(
        out.contains("systemctl --user enable --now lull.service"),
        "{out}"
    );
    let unit = std::fs::read_to_string(units.join("lull.service")).unwrap();
    assert!(unit.contains("\nExecStart=/opt/lull/bin/lull serve\n"));
    let env_file = conf.join("lull.env");
    assert!(std::fs::read_to_string(&env_file)
        .unwrap()
        .contains("#LULL_AUTH=token"));

    // The operator's configuration survives a re-install.
    std::fs::write(&env_file, "LULL_AUTH=token\n").unwrap();
    let out = String::from_utf8(lull(&args).stdout).unwrap();
    assert!(out.contains("kept"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap(),
        "LULL_AUTH=token\n"
    );
}

#[test]
fn completions_parse_in_each_shell() {
    for (shell, check) in [
        ("bash", &["bash", "-n"][..]),
        ("zsh", &["zsh", "-n"][..]),
        ("fish", &["fish", "--no-execute"][..]),
    ] {
        require(check[0]);
        let script = lull(&["completions", shell]).stdout;
        let text = String::from_utf8(script.clone()).unwrap();
        for sub in [
            "install-service",
            "rolling-restart",
            "check-config",
            "completions",
        ] {
            assert!(text.contains(sub), "{shell} completion names {sub}");
        }
        let dir = TempDir::new();
        let file = dir.0.join(format!("lull.{shell}"));
        std::fs::write(&file, &script).unwrap();
        let out = Command::new(check[0])
            .args(&check[1..])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A broken script is caught by the same checks.
    let dir = TempDir::new();
    let file = dir.0.join("broken.bash");
    std::fs::write(&file, "_lull() {\n  case x in\n}\n").unwrap();
    assert!(!Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap()
        .status
        .success());
}

/// Renders a man page with groff, warnings on: the text, or the warnings.
fn render(page: &[u8]) -> String {
    require("groff");
    let dir = TempDir::new();
    let file = dir.0.join("page.1");
    std::fs::write(&file, page).unwrap();
    let out = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-P-cbou"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "groff: {stderr}"
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn man_pages_render() {
    let text = render(&lull(&["man"]).stdout);
    for want in [
        "NAME",
        "SYNOPSIS",
        "SUBCOMMANDS",
        "install-service",
        "completions",
    ] {
        assert!(text.contains(want), "lull(1) shows {want}:\n{text}");
    }
    assert!(text.contains(env!("CARGO_PKG_VERSION")));

    let dir = TempDir::new();
    lull(&["man", "--out-dir", dir.0.to_str().unwrap()]);
    let mut pages: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for want in [
        "lull.1",
        "lull-serve.1",
        "lull-queues-pause.1",
        "lull-token-create.1",
    ] {
        assert!(pages.iter().any(|p| p == want), "{want} in {pages:?}");
    }
    for page in &pages {
        let text = render(&std::fs::read(dir.0.join(page)).unwrap());
        assert!(text.contains("Example"), "{page} carries the example");
    }
}

#[test]
fn version_names_the_commit() {
    let out = String::from_utf8(lull(&["--version"]).stdout).unwrap();
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8(o.stdout).unwrap().trim().to_string());
    match (std::env::var("LULL_GIT_COMMIT"), head) {
        (Ok(c), _) if !c.is_empty() => assert!(out.contains(&c), "{out}"),
        (_, Some(head)) => assert!(
            out.starts_with(&format!("lull {} ({head}", env!("CARGO_PKG_VERSION"))),
            "{out} names {head}"
        ),
        // A source tree without git: says so instead of inventing one.
        (_, None) => assert!(out.contains("(unknown)"), "{out}"),
    }
}
