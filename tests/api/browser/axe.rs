//! Accessibility: axe-core (`tests/peers/browser/`, installed by `npm ci`) run inside the
//! browser on a page; a serious or critical violation fails the test with a readable list.
//! Every page a walk shows goes through [`Browser::check_page`]: axe in light and in dark mode,
//! and a screenshot of each under `target/screenshots/`.

use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;

use super::harness::Browser;

/// axe.min.js, read once per process.
fn axe_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/peers/browser/node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!(
                "{} is missing ({e}): run `npm ci --prefix tests/peers/browser` (.ci/run does)",
                file.display()
            )
        })
    })
}

/// One axe violation, as the test reports it.
#[derive(Debug)]
pub struct Violation {
    pub id: String,
    pub impact: String,
    pub help: String,
    /// The CSS targets of the offending nodes.
    pub targets: Vec<String>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{}] {}: {} (at {})",
            self.impact,
            self.id,
            self.help,
            self.targets.join(", ")
        )
    }
}

impl Browser {
    /// axe-core's violations on the current page (every impact). The script is injected by
    /// WebDriver, which the page's Content-Security-Policy does not govern.
    pub async fn axe(&self) -> Vec<Violation> {
        let present = self
            .eval("return typeof window.axe === 'object';")
            .await
            .as_bool()
            .unwrap();
        if !present {
            self.client
                .execute(axe_source(), vec![])
                .await
                .expect("axe-core loads into the page");
        }
        let answer = self
            .client
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                   axe.run(document, { resultTypes: ['violations'] })
                     .then(r => done(JSON.stringify(r.violations)))
                     .catch(e => done(JSON.stringify({ error: String(e) })));"#,
                vec![],
            )
            .await
            .expect("axe.run answers");
        let parsed: Value = serde_json::from_str(answer.as_str().unwrap()).unwrap();
        if let Some(error) = parsed.get("error") {
            panic!("axe.run failed: {error}");
        }
        parsed
            .as_array()
            .unwrap()
            .iter()
            .map(|v| Violation {
                id: v["id"].as_str().unwrap_or_default().into(),
                impact: v["impact"].as_str().unwrap_or("unknown").into(),
                help: v["help"].as_str().unwrap_or_default().into(),
                targets: v["nodes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|n| n["target"].to_string())
                    .collect(),
            })
            .collect()
    }

    /// The serious and critical violations on the current page.
    pub async fn serious_violations(&self) -> Vec<Violation> {
        self.axe()
            .await
            .into_iter()
            .filter(|v| v.impact == "serious" || v.impact == "critical")
            .collect()
    }

    /// The page as a person sees it, in light and dark mode: a screenshot of each
    /// (`target/screenshots/{name}-light.png`, `-dark.png`) and axe in each (colour contrast
    /// differs); fails when either has a serious or critical violation. Leaves the page light.
    pub async fn check_page(&self, name: &str) {
        let mut failures = Vec::new();
        for dark in [false, true] {
            self.set_dark(dark).await;
            let mode = if dark { "dark" } else { "light" };
            self.screenshot(&format!("{name}-{mode}")).await;
            for violation in self.serious_violations().await {
                failures.push(format!("  {mode}: {violation}"));
            }
        }
        self.set_dark(false).await;
        assert!(
            failures.is_empty(),
            "axe found serious or critical violations on the {name} page ({}):\n{}",
            self.url().await,
            failures.join("\n")
        );
    }
}
