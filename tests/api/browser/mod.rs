//! Real-browser tests: Debian's headless Chromium, driven by WebDriver (fantoccini and one
//! ChromeDriver per test process), walks the sign-in pages under `/ui/` as a person would, runs
//! axe-core on every page it shows, and writes a light and a dark screenshot of each to
//! `target/screenshots/` for a reviewer.

mod axe;
mod harness;
mod harness_checks;
mod pages;
mod portal;
mod walks;
