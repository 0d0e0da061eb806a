//! Real reverse proxies in front of Bouncer: Debian's nginx and Caddy, each with a
//! configuration of the test's own in a temporary folder, stopped when dropped. Their output
//! goes nowhere: an orphaned worker must not hold the test runner's pipes.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::helpers::{eventually, skip};

/// Which header family the proxy names the original request with at forward-auth.
#[derive(Clone, Copy)]
pub enum Family {
    /// `X-Forwarded-Method` / `X-Forwarded-Uri` (Bouncer's default).
    Forwarded,
    /// `X-Original-Method` / `X-Original-URI` (`FORWARD_AUTH_HEADERS=original`).
    Original,
}

/// Where the test configurations send a browser to sign in: the test app's `DOMAIN_SERVER`
/// (the default, `http://localhost:3080`) and `PAGES_PREFIX`.
pub const SIGN_IN: &str = "http://localhost:3080/ui/login";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn listening(port: u16) -> bool {
    eventually(|| async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await
}

pub fn quiet(command: &mut Command) -> Child {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the proxy starts")
}

pub fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

pub struct Nginx {
    binary: PathBuf,
    dir: tempfile::TempDir,
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub url: String,
}

impl Nginx {
    /// nginx with `auth_request` to Bouncer's `/api/auth/verify` in front of `upstream`, the
    /// way the README shows it; `None` (with a SKIPPED line) when nginx is not installed, a
    /// failure instead under `CI=true` (see `helpers::skip`).
    pub async fn forward_auth(
        test: &str,
        bouncer: &str,
        upstream: &str,
        family: Family,
    ) -> Option<Self> {
        let Some(binary) = nginx_binary() else {
            skip(test, "nginx is not installed (.ci/run installs it)");
            return None;
        };
        let (uri, method) = match family {
            Family::Forwarded => ("X-Forwarded-Uri", "X-Forwarded-Method"),
            Family::Original => ("X-Original-URI", "X-Original-Method"),
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let port = free_port();
        let conf = format!(
            r#"daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location = /_bouncer {{
      internal;
      proxy_pass {bouncer}/api/auth/verify;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header {uri} $request_uri;
      proxy_set_header {method} $request_method;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
    location / {{
      auth_request /_bouncer;
      error_page 401 =302 {SIGN_IN}?rd=$scheme://$http_host$request_uri;
      auth_request_set $auth_user_id $upstream_http_x_auth_user_id;
      auth_request_set $auth_user_email $upstream_http_x_auth_user_email;
      auth_request_set $auth_user_role $upstream_http_x_auth_user_role;
      auth_request_set $auth_remote_user $upstream_http_remote_user;
      auth_request_set $auth_remote_email $upstream_http_remote_email;
      auth_request_set $auth_remote_name $upstream_http_remote_name;
      auth_request_set $auth_remote_groups $upstream_http_remote_groups;
      proxy_set_header X-Auth-User-Id $auth_user_id;
      proxy_set_header X-Auth-User-Email $auth_user_email;
      proxy_set_header X-Auth-User-Role $auth_user_role;
      proxy_set_header Remote-User $auth_remote_user;
      proxy_set_header Remote-Email $auth_remote_email;
      proxy_set_header Remote-Name $auth_remote_name;
      proxy_set_header Remote-Groups $auth_remote_groups;
      proxy_pass {upstream};
    }}
  }}
}}
"#
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let child = quiet(
            Command::new(&binary)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(dir.path().join("nginx.conf")),
        );
        assert!(listening(port).await, "nginx listens");
        Some(Self {
            binary,
            dir,
            child,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("nginx.conf")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // A fast shutdown through the master, which takes its workers with it.
        let _ = Command::new(&self.binary)
            .arg("-p")
            .arg(self.dir.path())
            .arg("-c")
            .arg(self.conf())
            .args(["-s", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

pub fn caddy_binary() -> Option<PathBuf> {
    ["/usr/bin/caddy", "/usr/local/bin/caddy"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

pub struct Caddy {
    _dir: tempfile::TempDir,
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub url: String,
}

impl Caddy {
    /// Caddy with `forward_auth` to Bouncer in front of `upstream`, as the README shows it;
    /// `None` (with a SKIPPED line) when Caddy is not installed, a failure instead under
    /// `CI=true` (see `helpers::skip`).
    pub async fn forward_auth(test: &str, bouncer: &str, upstream: &str) -> Option<Self> {
        let Some(binary) = caddy_binary() else {
            skip(test, "caddy is not installed (.ci/run installs it)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let bare = |url: &str| url.trim_start_matches("http://").to_string();
        let conf = format!(
            r#"{{
  admin off
  auto_https off
}}
http://:{port} {{
  request_header -X_Auth*
  request_header -Remote_*
  forward_auth {bouncer} {{
    uri /api/auth/verify
    copy_headers X-Auth-User-Id X-Auth-User-Email X-Auth-User-Role Remote-User Remote-Email Remote-Name Remote-Groups
  }}
  reverse_proxy {upstream}
}}
"#,
            bouncer = bare(bouncer),
            upstream = bare(upstream),
        );
        let file = dir.path().join("Caddyfile");
        std::fs::write(&file, conf).unwrap();
        let child = quiet(
            Command::new(binary)
                .args(["run", "--adapter", "caddyfile", "--config"])
                .arg(&file)
                .env("HOME", dir.path())
                .env("XDG_DATA_HOME", dir.path())
                .env("XDG_CONFIG_HOME", dir.path()),
        );
        assert!(listening(port).await, "caddy listens");
        Some(Self {
            _dir: dir,
            child,
            url: format!("http://127.0.0.1:{port}"),
        })
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
