//! `lull serve` under a service manager, with this test playing systemd's
//! side of `Type=notify`: a unix datagram socket in `NOTIFY_SOCKET`.
//! `READY=1` arrives once the server answers (migrations ran, the pause
//! state is loaded, the listener is bound) — and never for a server that
//! cannot start; on SIGTERM `STOPPING=1` arrives and the process exits 0
//! promptly even with a dashboard's event stream open.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testkit::{on_both_stores, TestDb};

/// The notify socket: every datagram `lull` sends, as text.
struct Notify {
    sock: UnixDatagram,
    path: std::path::PathBuf,
}

impl Notify {
    fn new(dir: &std::path::Path) -> Notify {
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        Notify { sock, path }
    }

    /// The next datagram, or `None` after `timeout`.
    fn recv(&self, timeout: Duration) -> Option<String> {
        self.sock.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = [0u8; 4096];
        match self.sock.recv(&mut buf) {
            Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => panic!("notify socket: {e}"),
        }
    }
}

fn spawn(db: &TestDb, notify: &Notify, listen: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_lull"))
        .current_dir(&db.dir.0)
        .args(["serve", "--listen", listen, "--database-url", &db.url])
        .args(["--static-dir", "/nonexistent"])
        .env("NOTIFY_SOCKET", &notify.path)
        .env("LULL_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn lull")
}

async fn ready_then_graceful_stop(db: TestDb) {
    let notify = Notify::new(&db.dir.0);
    let mut child = spawn(&db, &notify, "127.0.0.1:0");

    let msg = notify
        .recv(Duration::from_secs(60))
        .expect("READY=1 within 60 s");
    assert!(msg.lines().any(|l| l == "READY=1"), "{msg:?}");
    let addr = msg
        .lines()
        .find_map(|l| l.strip_prefix("STATUS=listening on "))
        .unwrap_or_else(|| panic!("status names the address: {msg:?}"))
        .to_string();

    // Ready means serving: the first request after READY=1 is answered from
    // the loaded pause state, with no retry.
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let status: wire::WorkerPauseStatus = c
        .get(format!("{addr}/api/system/worker-pause"))
        .send()
        .await
        .expect("answers at once after READY=1")
        .json()
        .await
        .unwrap();
    assert!(!status.workers_paused);
    assert!(status.version >= 1);

    // A dashboard's event stream is open when the stop comes.
    let mut stream = c
        .get(format!("{addr}/api/system/worker-pause/stream"))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let first = stream.chunk().await.unwrap().expect("the first event");
    assert!(String::from_utf8_lossy(&first).contains("event: state"));

    let stop = Instant::now();
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let msg = notify
        .recv(Duration::from_secs(10))
        .expect("STOPPING=1 after SIGTERM");
    assert!(msg.lines().any(|l| l == "STOPPING=1"), "{msg:?}");

    // The stream ends (the server closes it) …
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the event stream ends on stop");
    // … and the process exits 0, well within TimeoutStopSec (30 s).
    let code = loop {
        if let Some(code) = child.try_wait().unwrap() {
            break code;
        }
        assert!(
            stop.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "exit status {code}");
}

async fn no_ready_when_it_cannot_start(db: TestDb) {
    let notify = Notify::new(&db.dir.0);
    // The port is taken: binding fails after the store opened.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let mut child = spawn(&db, &notify, &listen);
    let code = child.wait().unwrap();
    assert!(!code.success());
    assert_eq!(notify.recv(Duration::from_millis(300)), None);
}

on_both_stores!(ready_then_graceful_stop, no_ready_when_it_cannot_start);
