//! The reference for the reverse proxy: Debian's nginx with `proxy_pass` and upstream
//! keep-alive to the same upstream Bouncer's gateway proxies to, started for the run.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;

pub struct Nginx {
    child: Child,
    binary: PathBuf,
    dir: tempfile::TempDir,
    pub base: String,
}

fn binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// nginx proxying every request to `upstream` (`http://127.0.0.1:<port>`), one worker per core
/// as nginx's `auto` does; `None` when nginx is not installed.
pub async fn start(upstream: &str, port: u16) -> anyhow::Result<Option<Nginx>> {
    let Some(binary) = binary() else {
        return Ok(None);
    };
    let dir = tempfile::tempdir()?;
    let d = dir.path().display();
    let upstream = upstream.trim_start_matches("http://");
    let conf = format!(
        r#"daemon off;
worker_processes auto;
pid {d}/nginx.pid;
error_log {d}/error.log error;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  upstream backend {{
    server {upstream};
    keepalive 256;
  }}
  server {{
    listen 127.0.0.1:{port};
    keepalive_requests 100000;
    location / {{
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}
}}
"#
    );
    let file = dir.path().join("nginx.conf");
    std::fs::write(&file, conf)?;
    let child = Command::new(&binary)
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting nginx")?;
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(Some(Nginx {
                child,
                binary,
                dir,
                base: format!("http://127.0.0.1:{port}"),
            }));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    anyhow::bail!("nginx did not listen on {port}")
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new(&self.binary)
            .arg("-p")
            .arg(self.dir.path())
            .arg("-c")
            .arg(self.dir.path().join("nginx.conf"))
            .args(["-s", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}
