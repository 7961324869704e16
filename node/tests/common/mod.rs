//! Helpers shared by the process tests: running `aether` commands and nodes.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// A running node process.
pub struct Node {
    child: Child,
    /// The RPC URL.
    pub rpc: String,
    /// The metrics address (none with `--no-metrics`).
    pub metrics: Option<String>,
    /// The line that announced the RPC address, as logged.
    pub rpc_log_line: String,
    /// Every line the node logged so far.
    logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Node {
    /// `aether run --dev` on `base`.
    pub fn start(base: &Path) -> Node {
        Node::start_with(&["--dev", "--base-path", base.to_str().unwrap()])
    }

    /// `aether run` with `args`, on free loopback ports, sealing every 100 ms.
    pub fn start_with(args: &[&str]) -> Node {
        Node::launch(&[], args, "127.0.0.1")
    }

    /// `aether run` with `args` started through `wrapper` (such as `ip netns exec NS`, which
    /// execs the node, so the child is the node itself), with RPC and metrics on free ports of
    /// `host`, sealing every 100 ms.
    pub fn launch(wrapper: &[&str], args: &[&str], host: &str) -> Node {
        let aether = env!("CARGO_BIN_EXE_aether");
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(aether);
                c
            }
            None => Command::new(aether),
        };
        let any_port = format!("{host}:0");
        let metrics = ["--metrics-addr", any_port.as_str()];
        let mut child = command
            .arg("run")
            .args(args)
            .args(["--rpc-addr", &any_port, "--block-time-ms", "100"])
            .args(if args.contains(&"--no-metrics") {
                &[][..]
            } else {
                &metrics[..]
            })
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start aether run --dev");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let want_metrics = !args.contains(&"--no-metrics");
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        let (mut rpc, mut metrics, mut rpc_log_line) = (None, None, String::new());
        let mut seen = Vec::new();
        let addr_in = |rest: &str| -> String {
            rest.chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                .collect()
        };
        while rpc.is_none() || (want_metrics && metrics.is_none()) {
            assert!(
                std::time::Instant::now() < deadline,
                "the node did not log its addresses in time"
            );
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|e| {
                    panic!(
                        "the node did not log its addresses ({e}); it said:\n{}",
                        seen.join("\n")
                    )
                });
            seen.push(line.clone());
            if let Some(rest) = line.split("RPC listening on ").nth(1) {
                rpc = Some(format!("http://{}", addr_in(rest)));
                rpc_log_line = line.clone();
            }
            if let Some(rest) = line.split("metrics on http://").nth(1) {
                metrics = Some(addr_in(rest));
            }
        }
        // Keep draining the log so the node never blocks on a full pipe.
        let logs = std::sync::Arc::new(std::sync::Mutex::new(seen));
        let keep = logs.clone();
        std::thread::spawn(move || {
            for line in rx {
                keep.lock().unwrap().push(line);
            }
        });
        Node {
            child,
            rpc: rpc.unwrap(),
            metrics,
            rpc_log_line,
            logs,
        }
    }

    /// Waits up to `secs` seconds for a log line containing `needle`.
    pub fn wait_for_log(&self, needle: &str, secs: u64) -> Option<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(line) = self
                .logs
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
            {
                return Some(line.clone());
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last `n` lines the node logged, for failure messages.
    pub fn log_tail(&self, n: usize) -> String {
        let logs = self.logs.lock().unwrap();
        logs[logs.len().saturating_sub(n)..].join("\n")
    }

    /// Writes every line the node logged so far to `path`.
    pub fn save_log(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.logs.lock().unwrap().join("\n"))
    }

    /// SIGTERM, and the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        let status = self.child.wait().expect("wait for the node");
        if !status.success() {
            // Give the reader of a failing test the node's last words.
            std::thread::sleep(Duration::from_millis(100));
            eprintln!(
                "the node exited with {status}; its last lines:\n{}",
                self.log_tail(40)
            );
        }
        status
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the `aether` binary.
pub fn aether(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aether"))
        .args(args)
        .output()
        .expect("run aether")
}

/// The JSON a successful command printed.
pub fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// A JSON-RPC call over HTTP; panics on an error answer.
pub fn rpc(url: &str, method: &str, params: Vec<Value>) -> Value {
    try_rpc(url, method, params).unwrap_or_else(|e| panic!("{e}"))
}

/// A JSON-RPC call over HTTP; the error (naming the method and the URL) when it fails.
pub fn try_rpc(url: &str, method: &str, params: Vec<Value>) -> Result<Value, String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use jsonrpsee_core::client::ClientT;
        let c = jsonrpsee_http_client::HttpClientBuilder::default()
            .build(url)
            .unwrap();
        let mut p = jsonrpsee_core::params::ArrayParams::new();
        for v in params {
            p.insert(v).unwrap();
        }
        c.request::<Value, _>(method, p)
            .await
            .map_err(|e| format!("{method} at {url}: {e}"))
    })
}

/// A plain HTTP GET (the metrics endpoint), the whole answer with its headers.
pub fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect over HTTP");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

/// A loopback port free (TCP and UDP) at the time of the call, below Linux's ephemeral range
/// (32768 and up): a port handed out for `:0` elsewhere (another test's RPC server, an outgoing
/// connection) cannot take it between this call and the node binding it.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    loop {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let port = 20_000 + (h.finish() % 12_000) as u16;
        let tcp = std::net::TcpListener::bind(("127.0.0.1", port));
        let udp = std::net::UdpSocket::bind(("127.0.0.1", port));
        if tcp.is_ok() && udp.is_ok() {
            return port;
        }
    }
}

/// Deploys the SDK token of the golden corpus (`tests/golden/contracts/token.wasm`, its ABI
/// embedded) from `//alice` with `supply` minted to her; its address.
pub fn deploy_golden_token(rpc: &str, supply: u64) -> String {
    let wasm = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden/contracts/token.wasm");
    let deployed = json_of(&aether(&[
        "contract",
        "deploy",
        "--wasm",
        wasm.to_str().unwrap(),
        "--init-args",
        &format!("[{supply}]"),
        "--from",
        "//alice",
        "--rpc",
        rpc,
        "--json",
    ]));
    assert_eq!(deployed["status"], "success", "{deployed}");
    deployed["contract"].as_str().unwrap().to_string()
}

/// `aether contract VERB --contract C --method M --args ARGS --from //alice --rpc RPC EXTRA…`
/// (`call` or `query`), its output whatever its exit status.
pub fn contract_cmd(
    rpc: &str,
    verb: &str,
    contract: &str,
    method: &str,
    args: &str,
    extra: &[&str],
) -> Output {
    let mut all = vec![
        "contract",
        verb,
        "--contract",
        contract,
        "--method",
        method,
        "--args",
        args,
        "--from",
        "//alice",
        "--rpc",
        rpc,
    ];
    all.extend(extra);
    aether(&all)
}
