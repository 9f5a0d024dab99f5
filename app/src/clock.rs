//! The wall clock, in the browser and on the host.

/// Milliseconds since the Unix epoch.
#[cfg(feature = "csr")]
pub fn now_ms() -> i64 {
    // `SystemTime::now` panics on wasm32-unknown-unknown.
    js_sys::Date::now() as i64
}

/// Milliseconds since the Unix epoch.
#[cfg(not(feature = "csr"))]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
