//! The real router served over TCP in this process (for clients that
//! speak HTTP themselves: the MCP client, a Prometheus scrape).

use std::net::SocketAddr;
use std::sync::Arc;

use server::service::{Service, ServiceConfig};

use super::TestDb;

pub struct Served {
    pub svc: Arc<Service>,
    pub db: TestDb,
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Served {
    /// A started service (background tasks running) over `db`, listening
    /// on a free loopback port.
    pub async fn start(db: TestDb, cfg: ServiceConfig) -> Served {
        let svc = Service::new(db.store.clone(), cfg).await.unwrap();
        svc.start().await.unwrap();
        let app = super::router(svc.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Served {
            svc,
            db,
            addr,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}
