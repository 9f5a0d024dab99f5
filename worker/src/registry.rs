//! The registry (the seed's plugin registry): job type → [`Handler`]. It
//! sits above both the handler contract ([`crate::handler`]) and the
//! built-in handlers ([`crate::builtin`], which implement it): only the
//! registry knows them both.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::builtin::{ExecuteScript, Sleep};
use crate::handler::Handler;

/// Job type → handler.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: BTreeMap<String, Arc<dyn Handler>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.handlers.keys()).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// `execute_script` and `sleep` (see [`crate::builtin`]).
    pub fn with_builtins() -> Registry {
        let mut r = Registry::new();
        r.register("execute_script", ExecuteScript);
        r.register("sleep", Sleep);
        r
    }

    /// Adds (or replaces) the handler of a job type.
    pub fn register(&mut self, job_type: impl Into<String>, handler: impl Handler) -> &mut Self {
        self.handlers.insert(job_type.into(), Arc::new(handler));
        self
    }

    pub fn get(&self, job_type: &str) -> Option<Arc<dyn Handler>> {
        self.handlers.get(job_type).cloned()
    }

    /// The registered types, sorted.
    pub fn types(&self) -> Vec<String> {
        self.handlers.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::JobContext;
    use serde_json::{json, Value};

    #[tokio::test]
    async fn closures_register_as_handlers() {
        let mut r = Registry::with_builtins();
        r.register("echo", |_ctx: JobContext, p: Value| async move { Ok(p) });
        assert_eq!(r.types(), vec!["echo", "execute_script", "sleep"]);
        let out = r
            .get("echo")
            .unwrap()
            .run(JobContext::detached("echo"), json!({"a": 1}))
            .await
            .unwrap();
        assert_eq!(out, json!({"a": 1}));
    }
}
