//! `nadhir serve --tls-cert --tls-key`: HTTPS with rustls, checked with Python `requests`
//! verifying the certificate. The certificate is made with the
//! `openssl` command; without it (or without the Python oracle) the test skips.

// Helpers outside #[test] functions: a failed setup step should panic.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_nadhir");

fn skip(why: &str) {
    assert!(std::env::var_os("CI").is_none(), "CI is set but {why}");
    eprintln!("skipping: {why}");
}

fn python() -> Option<PathBuf> {
    let p = std::env::var_os("NADHIR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"));
    p.exists().then_some(p)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn admin(data: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .arg("admin")
        .args(args)
        .env_remove("NADHIR_DATABASE_URL")
        .env("TLS_TEST_PW", "tls test password")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "admin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn serves_https_with_the_given_certificate() {
    let Some(py) = python() else {
        return skip("no Python interpreter with taxii2-client (set NADHIR_PYTHON)");
    };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !matches!(made, Ok(s) if s.success()) {
        return skip("the openssl command is not available to make a test certificate");
    }
    let data = dir.path().join("data");
    admin(
        &data,
        &[
            "org",
            "add",
            "--name",
            "centre",
            "--kind",
            "national-centre",
        ],
    );
    let user = [
        "user",
        "add",
        "--org",
        "centre",
        "--username",
        "tls",
        "--role",
        "reader",
    ];
    admin(
        &data,
        &[&user[..], &["--password-env", "TLS_TEST_PW"]].concat(),
    );
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .env_remove("NADHIR_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let _server = Server(child);
    let url = url.trim();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let script = "import sys, requests\n\
                  r = requests.get(sys.argv[1], verify=sys.argv[2], auth=('tls', 'tls test password'),\n\
                                   headers={'Accept': 'application/taxii+json;version=2.1'})\n\
                  r.raise_for_status()\n\
                  print(r.json()['title'], '|', r.json()['default'])\n";
    let out = Command::new(&py)
        .args(["-c", script, url])
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Nadhir TAXII 2.1 server | https://127.0.0.1:"),
        "{stdout}"
    );
    // Without trusting the certificate the client refuses the connection.
    let script = "import sys, requests\n\
                  try:\n    requests.get(sys.argv[1])\nexcept requests.exceptions.SSLError:\n    print('refused')\n";
    let out = Command::new(&py)
        .args(["-c", script, url])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "refused");
}
