//! Real-browser tests: Debian's headless Chromium, driven by WebDriver (fantoccini and one
//! ChromeDriver per test process), walks the sign-in pages under `/ui/` as a person would, runs
//! axe-core on every page it shows, and writes a light and a dark screenshot of each to
//! `target/screenshots/{page}-light.png` / `-dark.png` for a reviewer.
//!
//! Needs `chromium` and `chromium-driver` (Debian), nginx and Caddy for the portal, and
//! `npm ci --prefix tests/peers/browser` for axe-core; `.ci/run` sets all of them up. Run them
//! alone with `cargo test --test api browser::`. Missing programs skip locally and fail under
//! `CI=true` (`helpers::skip`). The PostgreSQL pass runs one walk only (`pages::runs_in_this_pass`).

mod admin;
mod axe;
mod harness;
mod harness_checks;
mod pages;
mod passkeys;
mod portal;
mod walks;
