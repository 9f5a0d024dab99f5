//! The offline spool: result envelopes the server could not take, one file
//! each, named `<payload_type>-<timestamp>-<task_id>.json` with a UTC
//! timestamp that sorts as text (`20260301T120000123Z`). Files are written
//! atomically (temp file, fsync, rename), so a reader never sees half an
//! envelope and a crash leaves either the whole file or none. Refused
//! envelopes go to `rejected/` beside them, kept for an operator.

use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
use uuid::Uuid;
use wire::ResultEnvelope;

const TIMESTAMP: &str = "%Y%m%dT%H%M%S%3fZ";
pub const REJECTED_DIR: &str = "rejected";

/// A spool directory.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

/// The parts of a spool file's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolName {
    pub payload_type: String,
    pub at: DateTime<Utc>,
    pub task_id: String,
}

/// `<payload_type>-<timestamp>-<task_id>.json`.
pub fn file_name(payload_type: &str, at: DateTime<Utc>, task_id: &str) -> String {
    format!("{payload_type}-{}-{task_id}.json", at.format(TIMESTAMP))
}

/// Reads a spool file name back; `None` for anything else in the folder.
pub fn parse_file_name(name: &str) -> Option<SpoolName> {
    let stem = name.strip_suffix(".json")?;
    // Payload types have no `-`; the task id (a UUID) does, so split twice
    // from the left.
    let (payload_type, rest) = stem.split_once('-')?;
    let (stamp, task_id) = rest.split_once('-')?;
    let at = NaiveDateTime::parse_from_str(stamp, TIMESTAMP)
        .ok()?
        .and_utc();
    if payload_type.is_empty() || task_id.is_empty() {
        return None;
    }
    Some(SpoolName {
        payload_type: payload_type.to_string(),
        at,
        task_id: task_id.to_string(),
    })
}

/// Newest first; equal timestamps by name, so the order is total.
pub fn sort_newest_first(names: &mut [(SpoolName, PathBuf)]) {
    names.sort_by(|(a, pa), (b, pb)| b.at.cmp(&a.at).then_with(|| pb.cmp(pa)));
}

impl Spool {
    /// Opens (creating) the directory and its `rejected/` folder.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Spool> {
        let dir = dir.into();
        std::fs::create_dir_all(dir.join(REJECTED_DIR))?;
        Ok(Spool { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes an envelope; returns its path. A name already taken (two
    /// results of one task in one millisecond) moves on by a millisecond,
    /// keeping the name's shape.
    pub async fn write(&self, env: &ResultEnvelope, now: DateTime<Utc>) -> io::Result<PathBuf> {
        let payload_type = env.payload_type.as_deref().unwrap_or("unknown");
        let task = env
            .task_id
            .map_or_else(|| "none".to_string(), |t: Uuid| t.to_string());
        let body = serde_json::to_vec_pretty(env).map_err(io::Error::other)?;
        let mut at = now;
        let path = loop {
            let p = self.dir.join(file_name(payload_type, at, &task));
            if !tokio::fs::try_exists(&p).await? {
                break p;
            }
            at += chrono::Duration::milliseconds(1);
        };
        let tmp = self.dir.join(format!(".{}.tmp", Uuid::new_v4().simple()));
        write_synced(&tmp, &body).await?;
        tokio::fs::rename(&tmp, &path).await?;
        sync_dir(&self.dir).await;
        Ok(path)
    }

    /// The waiting envelopes, newest first (temp files, `rejected/` and
    /// foreign files are left out).
    pub fn list_newest_first(&self) -> io::Result<Vec<PathBuf>> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_file() {
                continue;
            }
            let name = entry.file_name();
            if let Some(parsed) = name.to_str().and_then(parse_file_name) {
                found.push((parsed, entry.path()));
            }
        }
        sort_newest_first(&mut found);
        Ok(found.into_iter().map(|(_, p)| p).collect())
    }

    /// How many envelopes wait (the `offlineBacklog` of heartbeats).
    pub fn backlog(&self) -> u32 {
        self.list_newest_first()
            .map_or(0, |v| u32::try_from(v.len()).unwrap_or(u32::MAX))
    }

    pub async fn read(path: &Path) -> io::Result<ResultEnvelope> {
        let bytes = tokio::fs::read(path).await?;
        serde_json::from_slice(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Deletes an acknowledged envelope (already gone is fine: another
    /// worker sharing the folder may have sent it).
    pub async fn remove(path: &Path) -> io::Result<()> {
        match tokio::fs::remove_file(path).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Moves a refused envelope to `rejected/`.
    pub async fn reject(&self, path: &Path) -> io::Result<PathBuf> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::other("no file name"))?;
        let to = self.dir.join(REJECTED_DIR).join(name);
        tokio::fs::rename(path, &to).await?;
        Ok(to)
    }

    /// Writes a refused envelope straight to `rejected/` (a live submission
    /// refused: kept for an operator, never retried).
    pub async fn write_rejected(
        &self,
        env: &ResultEnvelope,
        now: DateTime<Utc>,
    ) -> io::Result<PathBuf> {
        let rejected = Spool {
            dir: self.dir.join(REJECTED_DIR),
        };
        rejected.write(env, now).await
    }
}

async fn write_synced(path: &Path, body: &[u8]) -> io::Result<()> {
    let (path, body) = (path.to_path_buf(), body.to_vec());
    // Blocking std I/O off the runtime threads: fsync may take a while.
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut f = std::fs::File::create(path)?;
        f.write_all(&body)?;
        f.sync_all()
    })
    .await
    .map_err(io::Error::other)?
}

/// Makes the rename durable; best effort (not every filesystem allows it).
async fn sync_dir(dir: &Path) {
    if let Ok(d) = tokio::fs::File::open(dir).await {
        let _ = d.sync_all().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_772_366_400_000 + ms).unwrap()
    }

    fn env(task: Uuid) -> ResultEnvelope {
        ResultEnvelope {
            idempotency_key: Some(format!("{task}:t")),
            payload_type: Some("execution_result".into()),
            task_id: Some(task),
            worker_id: Some("w".into()),
            payload: Some(serde_json::json!({"status": "succeeded"})),
        }
    }

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn temp() -> Dir {
        Dir(std::env::temp_dir().join(format!("lull-spool-{}", Uuid::new_v4().simple())))
    }

    #[test]
    fn names_round_trip_and_sort_as_text() {
        let id = "6f1c1f8e-1d1e-4c44-9a55-0d7c8b7f1a22";
        let n = file_name("execution_result", at(123), id);
        assert_eq!(n, format!("execution_result-20260301T120000123Z-{id}.json"));
        let p = parse_file_name(&n).unwrap();
        assert_eq!(
            (p.payload_type.as_str(), p.at, p.task_id.as_str()),
            ("execution_result", at(123), id)
        );
        assert!(file_name("logs", at(1), id) < file_name("logs", at(1000), id));
        for bad in [
            "x.json",
            ".abc.tmp",
            "logs-notatime-1.json",
            "logs-20260301T120000123Z-1.txt",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn envelopes_list_newest_first_and_skip_foreign_files() {
        let d = temp();
        let spool = Spool::open(&d.0).unwrap();
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        spool.write(&env(b), at(2000)).await.unwrap();
        spool.write(&env(a), at(1000)).await.unwrap();
        spool.write(&env(c), at(3000)).await.unwrap();
        std::fs::write(d.0.join("notes.txt"), "x").unwrap();
        std::fs::write(d.0.join(".x.tmp"), "x").unwrap();
        let listed = spool.list_newest_first().unwrap();
        let tasks: Vec<Uuid> = futures::future::join_all(listed.iter().map(|p| Spool::read(p)))
            .await
            .into_iter()
            .map(|e| e.unwrap().task_id.unwrap())
            .collect();
        assert_eq!(tasks, vec![c, b, a]);
        assert_eq!(spool.backlog(), 3);
    }

    #[tokio::test]
    async fn a_taken_name_moves_on_a_millisecond() {
        let d = temp();
        let spool = Spool::open(&d.0).unwrap();
        let t = Uuid::new_v4();
        let p1 = spool.write(&env(t), at(5)).await.unwrap();
        let p2 = spool.write(&env(t), at(5)).await.unwrap();
        assert_ne!(p1, p2);
        let n2 = parse_file_name(p2.file_name().unwrap().to_str().unwrap()).unwrap();
        assert_eq!(n2.at, at(6));
    }

    #[tokio::test]
    async fn rejected_files_leave_the_backlog() {
        let d = temp();
        let spool = Spool::open(&d.0).unwrap();
        let p = spool.write(&env(Uuid::new_v4()), at(0)).await.unwrap();
        let moved = spool.reject(&p).await.unwrap();
        assert!(moved.starts_with(d.0.join(REJECTED_DIR)) && moved.exists());
        assert_eq!(spool.backlog(), 0);
        spool
            .write_rejected(&env(Uuid::new_v4()), at(0))
            .await
            .unwrap();
        assert_eq!(spool.backlog(), 0);
        assert_eq!(
            std::fs::read_dir(d.0.join(REJECTED_DIR)).unwrap().count(),
            2
        );
        Spool::remove(&moved).await.unwrap();
        Spool::remove(&moved).await.unwrap(); // already gone: fine
    }
}
