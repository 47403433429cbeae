//! The benchmark's control: a bare axum "hello" with nothing in front of it (no middleware, no
//! state, no database), so that `/healthz` and the poll can be reported as ratios to what this
//! machine, this HTTP stack and this load generator allow in the same run (bench/bench.py).
//! Usage: bare-hello ADDR (e.g. 127.0.0.1:3999).

use axum::{routing::get, Router};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3999".into());
    let app = Router::new().route("/healthz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("bare-hello listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}
