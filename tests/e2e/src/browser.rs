//! A real headless Chromium, driven over WebDriver by chromedriver (Debian's packages).
//! The API is blocking, so tests stay plain `#[test]`s; it owns a small runtime for WebDriver.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

/// chromedriver, ended by PID when dropped, even when starting the session panics.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Browser {
    _driver: Driver,
    client: Client,
    runtime: tokio::runtime::Runtime,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Browser {
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        // Two TLS back ends are linked in the workspace; WebDriver is plain HTTP, but rustls
        // still wants one chosen.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let port = free_port();
        let driver = Driver(
            Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver (apt-get install chromium-driver)"),
        );
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = serde_json::json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-quic",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        });
        let caps = caps.as_object().cloned().unwrap_or_default();
        let mut last_error = String::new();
        for _ in 0..100 {
            let connected = runtime.block_on(async {
                ClientBuilder::rustls()
                    .expect("tls")
                    .capabilities(caps.clone())
                    .connect(&format!("http://127.0.0.1:{port}"))
                    .await
            });
            match connected {
                Ok(client) => {
                    return Self {
                        _driver: driver,
                        client,
                        runtime,
                        _profile: profile,
                    };
                }
                Err(e) => last_error = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("chromedriver did not start a session: {last_error}");
    }

    pub fn goto(&self, url: &str) {
        self.runtime
            .block_on(self.client.goto(url))
            .expect("navigate");
    }

    /// The element, once it is there (bounded wait).
    async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
    }

    pub fn click(&self, css: &str) {
        self.runtime.block_on(async {
            self.element(css)
                .await
                .click()
                .await
                .unwrap_or_else(|e| panic!("click {css}: {e}"));
        })
    }

    pub fn text(&self, css: &str) -> String {
        self.runtime
            .block_on(async { self.element(css).await.text().await.unwrap_or_default() })
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let client = self.client.clone();
        let _ = self
            .runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), client.close()).await });
    }
}
