//! The limit on failed authentications (issue 15), on both stores: it is
//! charged only after a credential fails, so no number of anonymous or
//! failed requests from an address can get a valid credential from that
//! address refused; behind a trusted proxy it is kept per forwarded client,
//! and `X-Forwarded-For` from anyone else is ignored.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use axum::http::{HeaderMap, Method, StatusCode};
use common::token_api::{api_with, Api, Req};
use common::TestDb;
use serde_json::{json, Value};
use server::auth::TrustedProxies;
use server::domain::Role;
use server::service::ServiceConfig;

const BAD: &str =
    "lull_abcdef123456_0000000000000000000000000000000000000000000000000000000000000000";
const PROXY: &str = "10.0.0.5:40000";

/// Token mode with a burst of 10 failures and the proxy trusted; the
/// worker `w1` registered with its token.
async fn limited(db: TestDb) -> (Api, String) {
    let a = api_with(
        db,
        ServiceConfig {
            auth_failure_burst: 10,
            trusted_proxies: TrustedProxies::parse(&["10.0.0.0/8"]).unwrap(),
            ..Default::default()
        },
    )
    .await;
    let worker = a.token("w1", Role::Worker).await;
    let (s, v, _) = a
        .send(
            Method::POST,
            "/api/workers/register",
            Some(json!({"workerId": "w1", "bootId": "b1"})),
            Req {
                bearer: Some(&worker),
                from: Some("192.0.2.200:1"),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    (a, worker)
}

/// A worker's heartbeat (what a limited worker would miss first).
async fn heartbeat(
    a: &Api,
    bearer: Option<&str>,
    from: &'static str,
    xff: Option<&str>,
) -> (StatusCode, Value, HeaderMap) {
    a.send(
        Method::POST,
        "/api/workers/w1/heartbeat",
        Some(json!({"bootId": "b1", "state": "running"})),
        Req {
            bearer,
            from: Some(from),
            headers: xff
                .map(|v| vec![("x-forwarded-for", v)])
                .unwrap_or_default(),
            ..Default::default()
        },
    )
    .await
}

async fn sign_in(a: &Api, token: &str, from: &'static str) -> (StatusCode, Value, HeaderMap) {
    let body = json!({ "token": token });
    let req = Req {
        from: Some(from),
        ..Default::default()
    };
    a.send(Method::POST, "/auth/login", Some(body), req).await
}

fn assert_rate_limited((s, v, h): (StatusCode, Value, HeaderMap)) {
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["error"]["code"], "rate_limited");
    let retry: u64 = h
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
}

/// The scenario: anonymous requests, then the worker's heartbeat
/// from the same address — directly, and from behind the load balancer.
async fn anonymous_requests_never_lock_out_a_valid_token(db: TestDb) {
    let (a, worker) = limited(db).await;
    for (from, xff) in [("192.0.2.1:5000", None), (PROXY, Some("203.0.113.9"))] {
        for _ in 0..11 {
            let (s, _, _) = heartbeat(&a, None, from, xff).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED);
        }
        let (s, v, _) = heartbeat(&a, Some(&worker), from, xff).await;
        assert_eq!(s, StatusCode::OK, "{from} {xff:?}: {v}");
    }
}

/// Failed tokens are limited (429 with Retry-After), but a valid token
/// from the same address is never refused: the limit is consulted only
/// once a credential has failed.
async fn failures_are_limited_but_a_valid_token_never_is(db: TestDb) {
    let (a, worker) = limited(db).await;
    let from = "198.51.100.7:1";
    for _ in 0..10 {
        assert_eq!(
            heartbeat(&a, Some(BAD), from, None).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_rate_limited(heartbeat(&a, Some(BAD), from, None).await);
    let (s, v, _) = heartbeat(&a, Some(&worker), from, None).await;
    assert_eq!(s, StatusCode::OK, "a valid token is never limited: {v}");
    // Sign-in is limited the same way, and a valid sign-in still passes.
    assert_rate_limited(sign_in(&a, BAD, from).await);
    assert_eq!(sign_in(&a, &worker, from).await.0, StatusCode::OK);
    // Another address is not limited; public routes stay public.
    assert_eq!(
        heartbeat(&a, Some(BAD), "198.51.100.8:1", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, _, _) = a
        .send(
            Method::GET,
            "/livez",
            None,
            Req {
                from: Some(from),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(s, StatusCode::OK);
}

/// Behind a trusted proxy each forwarded client has its own bucket: one
/// client guessing does not lock out the others behind the same proxy.
async fn clients_behind_a_trusted_proxy_are_limited_separately(db: TestDb) {
    let (a, _) = limited(db).await;
    for _ in 0..10 {
        let (s, _, _) = heartbeat(&a, Some(BAD), PROXY, Some("203.0.113.9")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    // Spoofed entries on the left do not make it another client.
    assert_rate_limited(heartbeat(&a, Some(BAD), PROXY, Some("6.6.6.6, 203.0.113.9")).await);
    let (s, v, _) = heartbeat(&a, Some(BAD), PROXY, Some("203.0.113.10")).await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "another client behind the proxy: {v}"
    );
    // The client's address through two trusted hops.
    assert_rate_limited(heartbeat(&a, Some(BAD), PROXY, Some("203.0.113.9, 10.0.0.7")).await);
}

/// From a peer that is not a trusted proxy, `X-Forwarded-For` is ignored:
/// a guesser cannot spread its failures over invented addresses.
async fn forwarded_for_from_an_untrusted_peer_is_ignored(db: TestDb) {
    let (a, _) = limited(db).await;
    let from = "198.51.100.20:1";
    for i in 0..10 {
        let spoofed = format!("203.0.113.{i}");
        let (s, _, _) = heartbeat(&a, Some(BAD), from, Some(&spoofed)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    assert_rate_limited(heartbeat(&a, Some(BAD), from, Some("203.0.113.200")).await);
}

on_both_stores!(
    anonymous_requests_never_lock_out_a_valid_token,
    failures_are_limited_but_a_valid_token_never_is,
    clients_behind_a_trusted_proxy_are_limited_separately,
    forwarded_for_from_an_untrusted_peer_is_ignored,
);
