//! Decides at compile time whether the PostgreSQL halves of `backend_tests!` run: with
//! `POSTERN_TEST_POSTGRES_URL` (or under CI, where they must run) the tests get `cfg(postern_pg)`;
//! without it they are `#[ignore]`d, so the test runner counts them as ignored rather than passed.
//! The macro expands in the test crates of `app` and `server`, so both packages use this script
//! (server/Cargo.toml: `build = "../app/build.rs"`).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postern_pg)");
    // Only these are watched (a build script that names none would rerun on every file change).
    println!("cargo::rerun-if-env-changed=POSTERN_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=CI");
    let configured = std::env::var_os("POSTERN_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty());
    if configured || std::env::var_os("CI").is_some() {
        println!("cargo::rustc-cfg=postern_pg");
    }
}
