//! `aether devnet up|status|down`: a local network of HotStuff validators as separate
//! processes on 127.0.0.1, for trying the chain as a network. The first `up` in a directory
//! generates each validator's keys from the operating system's randomness (a validator key
//! file `keys/vN.key` each: BLS with its proof of possession, VRF, network and fee-account
//! keys, readable by the owner only) and writes a genesis with their entries (and the dev
//! accounts funded); a later `up` in the same directory reads them again, so the devnet
//! resumes its chain. `up` starts one `aether run --validator-key` per validator with its own
//! base path, ports and log file in the devnet directory, every node a bootnode of the others,
//! and records them in `devnet.json`; `status` asks each over RPC; `down` stops them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aether_node::genesis::Genesis;
use aether_node::rpc::AetherApiClient;
use aether_node::validator_key::ValidatorKeyFile;
use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use aether_node::process_stats::{cpu_seconds, memory_kib};

use crate::client::Rpc;

/// `aether devnet …`.
#[derive(Subcommand, Debug)]
pub enum DevnetCommand {
    /// Write a genesis and start the validators.
    #[command(after_help = "Examples:
  aether devnet up --validators 4
  aether devnet up --validators 7 --dir /tmp/net --base-port 40000 --block-time-ms 500
  aether devnet up --dir /tmp/net
The last, in a directory that holds a stopped devnet, starts it again with its keys: the
chain resumes.")]
    Up(UpArgs),
    /// Show each validator: running, heights, peers.
    #[command(after_help = "Example:\n  aether devnet status --dir devnet --json")]
    Status(DirArgs),
    /// Stop the validators.
    #[command(after_help = "Example:\n  aether devnet down --dir devnet")]
    Down(DirArgs),
}

/// Where the devnet lives.
#[derive(Args, Debug)]
pub struct DirArgs {
    /// The devnet's directory (genesis, base paths, logs, `devnet.json`).
    #[arg(long, default_value = "devnet")]
    dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `aether devnet up`.
#[derive(Args, Debug)]
pub struct UpArgs {
    /// How many validators (4 tolerate one faulty, 7 two). Default: 4, or as many as the
    /// devnet in `--dir` already has.
    #[arg(long)]
    validators: Option<usize>,
    /// The devnet's directory (created; must not hold a running devnet).
    #[arg(long, default_value = "devnet")]
    dir: PathBuf,
    /// Milliseconds between blocks.
    #[arg(long, default_value_t = 1000)]
    block_time_ms: u64,
    /// First port: validator i listens for peers on BASE + i, RPC on BASE + 100 + i, metrics
    /// on BASE + 200 + i. Default: free ports the system picks.
    #[arg(long)]
    base_port: Option<u16>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// One validator of a devnet, as `devnet.json` records it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Member {
    name: String,
    pid: u32,
    rpc: String,
    metrics: String,
    p2p: String,
    peer_id: String,
    log: PathBuf,
}

/// What `devnet.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Devnet {
    genesis: PathBuf,
    validators: Vec<Member>,
}

const RECORD: &str = "devnet.json";

/// Runs a devnet command.
pub fn run(command: DevnetCommand) -> anyhow::Result<bool> {
    match command {
        DevnetCommand::Up(args) => up(args),
        DevnetCommand::Status(args) => status(&args),
        DevnetCommand::Down(args) => down(&args),
    }
}

/// Whether process `pid` runs and is an `aether` process (a recorded pid may have been reused
/// by another program since). Linux (`/proc`).
fn alive(pid: u32) -> bool {
    let running = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false);
    running
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains("aether"))
            .unwrap_or(false)
}

fn load(dir: &Path) -> anyhow::Result<Devnet> {
    let path = dir.join(RECORD);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("no devnet in {} (no {RECORD})", dir.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))
}

/// Where the genesis and the key files of a devnet in `dir` live.
fn genesis_path(dir: &Path) -> PathBuf {
    dir.join("genesis.json")
}

fn key_path(dir: &Path, name: &str) -> PathBuf {
    dir.join("keys").join(format!("{name}.key"))
}

/// The devnet's genesis and its validators' key files: read again when `dir` already holds a
/// devnet (each key file must match its genesis entry), otherwise made — fresh keys from the
/// operating system, a genesis with their entries and the dev accounts funded.
fn keys_and_genesis(
    dir: &Path,
    validators: Option<usize>,
) -> anyhow::Result<(Genesis, Vec<PathBuf>)> {
    let genesis_file = genesis_path(dir);
    if genesis_file.exists() {
        let genesis = Genesis::load(&genesis_file)?;
        if let Some(n) = validators
            && n != genesis.validators.len()
        {
            bail!(
                "the devnet in {} has {} validators, not {n}: leave out --validators to resume it, \
                 or use another --dir",
                dir.display(),
                genesis.validators.len()
            );
        }
        let mut keys = Vec::new();
        for v in &genesis.validators {
            let path = key_path(dir, &v.name);
            let file = ValidatorKeyFile::read(&path).with_context(|| {
                format!(
                    "the devnet in {} has no usable key for {} (a devnet made by an older aether \
                     used dev keys): use another --dir",
                    dir.display(),
                    v.name
                )
            })?;
            if file.entry()? != *v {
                bail!(
                    "{} does not hold the keys of {} in {}",
                    path.display(),
                    v.name,
                    genesis_file.display()
                );
            }
            keys.push(path);
        }
        return Ok((genesis, keys));
    }
    let n = validators.unwrap_or(4);
    if n == 0 || n > 64 {
        bail!("--validators must be 1 to 64");
    }
    let key_dir = dir.join("keys");
    std::fs::create_dir_all(&key_dir)
        .with_context(|| format!("cannot create {}", key_dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let mut genesis = Genesis::dev();
    genesis.validators.clear();
    let mut keys = Vec::new();
    for i in 0..n {
        let name = format!("v{i}");
        let path = key_path(dir, &name);
        // A key file left by an `up` that failed before writing the genesis is replaced.
        if path.exists() {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot replace {}", path.display()))?;
        }
        let file = ValidatorKeyFile::generate(&name)?;
        file.write(&path)?;
        genesis.validators.push(file.entry()?);
        keys.push(path);
    }
    genesis
        .check()
        .map_err(|e| anyhow!("the devnet's genesis is not valid: {e}"))?;
    // The genesis is written last and whole (renamed into place): its presence says the keys
    // beside it are complete.
    let partial = dir.join("genesis.json.new");
    std::fs::write(&partial, serde_json::to_string_pretty(&genesis)? + "\n")
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, &genesis_file)
        .with_context(|| format!("cannot write {}", genesis_file.display()))?;
    Ok((genesis, keys))
}

fn up(args: UpArgs) -> anyhow::Result<bool> {
    if let Some(n) = args.validators
        && (n == 0 || n > 64)
    {
        bail!("--validators must be 1 to 64");
    }
    if let Ok(existing) = load(&args.dir)
        && existing.validators.iter().any(|m| alive(m.pid))
    {
        bail!(
            "a devnet is already running in {}: `aether devnet down --dir {}` first",
            args.dir.display(),
            args.dir.display()
        );
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let dir = args.dir.canonicalize()?;
    let exe = std::env::current_exe().context("cannot find the aether binary")?;
    let (spec, key_files) = keys_and_genesis(&dir, args.validators)?;
    let genesis = genesis_path(&dir);
    // Free ports are held until all are picked, so no two validators get the same one.
    let mut held = Vec::new();
    let mut port = |offset: u16, i: usize| -> anyhow::Result<u16> {
        match args.base_port {
            Some(base) => base
                .checked_add(offset + i as u16)
                .ok_or_else(|| anyhow!("--base-port is too high")),
            None => {
                let listener = std::net::TcpListener::bind("127.0.0.1:0")
                    .context("cannot find a free port")?;
                let port = listener.local_addr()?.port();
                held.push(listener);
                Ok(port)
            }
        }
    };
    let mut members = Vec::new();
    for (i, v) in spec.validators.iter().enumerate() {
        let peer_id = v
            .peer_id
            .clone()
            .ok_or_else(|| anyhow!("validator {} has no peer id", v.name))?;
        members.push(Member {
            name: v.name.clone(),
            pid: 0,
            rpc: format!("127.0.0.1:{}", port(100, i)?),
            metrics: format!("127.0.0.1:{}", port(200, i)?),
            p2p: format!("/ip4/127.0.0.1/tcp/{}", port(0, i)?),
            peer_id,
            log: dir.join(format!("{}.log", v.name)),
        });
    }
    drop(held);
    for i in 0..members.len() {
        let m = &members[i];
        let log = std::fs::File::create(&m.log)
            .with_context(|| format!("cannot create {}", m.log.display()))?;
        let mut command = Command::new(&exe);
        command
            .arg("run")
            .arg("--genesis")
            .arg(&genesis)
            .arg("--base-path")
            .arg(dir.join(&m.name))
            .args(["--consensus", "hotstuff", "--validator-key"])
            .arg(&key_files[i])
            .args(["--rpc-addr", &m.rpc, "--metrics-addr", &m.metrics])
            .args(["--listen-addr", &m.p2p])
            .args(["--block-time-ms", &args.block_time_ms.to_string()]);
        for (j, other) in members.iter().enumerate() {
            if j != i {
                command
                    .arg("--bootnodes")
                    .arg(format!("{}/p2p/{}", other.p2p, other.peer_id));
            }
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn();
        match child {
            Ok(child) => members[i].pid = child.id(),
            Err(e) => {
                // None is left running half-started.
                let started = Devnet {
                    genesis: genesis.clone(),
                    validators: members[..i].to_vec(),
                };
                stop(&started);
                bail!("cannot start validator {}: {e}", members[i].name);
            }
        }
    }
    let devnet = Devnet {
        genesis,
        validators: members,
    };
    std::fs::write(
        dir.join(RECORD),
        serde_json::to_string_pretty(&devnet)? + "\n",
    )?;
    if let Err(e) = wait_up(&devnet) {
        // None is left running half-started.
        stop(&devnet);
        return Err(e);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&devnet)?);
    } else {
        println!(
            "devnet of {} validators in {}",
            devnet.validators.len(),
            dir.display()
        );
        for m in &devnet.validators {
            println!(
                "  {:4} rpc http://{}  metrics http://{}/metrics  log {}",
                m.name,
                m.rpc,
                m.metrics,
                m.log.display()
            );
        }
        println!(
            "`aether devnet status --dir {0}`, `aether devnet down --dir {0}`",
            args.dir.display()
        );
    }
    Ok(true)
}

/// Waits until every validator's RPC answers; an error if one stopped or stays silent.
fn wait_up(devnet: &Devnet) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    for m in &devnet.validators {
        loop {
            if !alive(m.pid) {
                bail!(
                    "validator {} stopped at start; see {}",
                    m.name,
                    m.log.display()
                );
            }
            let up = Rpc::connect(&format!("http://{}", m.rpc))
                .and_then(|r| r.run("system_health", r.api().health()))
                .is_ok();
            if up {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "validator {} does not answer; see {}",
                    m.name,
                    m.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}

/// Stops every validator still running: SIGTERM, then SIGKILL after 20 s.
fn stop(devnet: &Devnet) {
    for m in devnet.validators.iter().filter(|m| alive(m.pid)) {
        let _ = Command::new("kill")
            .args(["-TERM", &m.pid.to_string()])
            .status();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while devnet.validators.iter().any(|m| alive(m.pid)) {
        if Instant::now() > deadline {
            for m in devnet.validators.iter().filter(|m| alive(m.pid)) {
                let _ = Command::new("kill")
                    .args(["-KILL", &m.pid.to_string()])
                    .status();
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn status(args: &DirArgs) -> anyhow::Result<bool> {
    let devnet = load(&args.dir)?;
    let mut rows = Vec::new();
    for m in &devnet.validators {
        let running = alive(m.pid);
        let health = if running {
            Rpc::connect(&format!("http://{}", m.rpc))
                .and_then(|r| r.run("system_health", r.api().health()))
                .ok()
        } else {
            None
        };
        rows.push(json!({
            "name": m.name,
            "pid": m.pid,
            "running": running,
            "rpc": format!("http://{}", m.rpc),
            "peers": health.as_ref().map(|h| h.peers),
            "bestHeight": health.as_ref().map(|h| h.best_height),
            "finalizedHeight": health.as_ref().map(|h| h.finalized_height),
            "rssMiB": memory_kib(&m.pid.to_string(), "VmRSS").map(|k| k / 1024),
            "peakRssMiB": memory_kib(&m.pid.to_string(), "VmHWM").map(|k| k / 1024),
            "cpuSeconds": cpu_seconds(&m.pid.to_string()),
        }));
    }
    let all_up = rows.iter().all(|r| r["running"] == true);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&Value::Array(rows))?);
    } else {
        for r in &rows {
            let show = |v: &Value| match v {
                Value::Null => "-".to_string(),
                v => v.to_string(),
            };
            println!(
                "{:4} {:8} best {:>6} final {:>6} peers {:>3} rss {:>5} MiB (peak {:>5}) cpu {:>7} s  {}",
                r["name"].as_str().unwrap_or("?"),
                if r["running"] == true {
                    "running"
                } else {
                    "stopped"
                },
                show(&r["bestHeight"]),
                show(&r["finalizedHeight"]),
                show(&r["peers"]),
                show(&r["rssMiB"]),
                show(&r["peakRssMiB"]),
                show(&r["cpuSeconds"]),
                r["rpc"].as_str().unwrap_or("")
            );
        }
    }
    Ok(all_up)
}

fn down(args: &DirArgs) -> anyhow::Result<bool> {
    let devnet = load(&args.dir)?;
    stop(&devnet);
    if args.json {
        println!("{}", json!({"stopped": devnet.validators.len()}));
    } else {
        println!(
            "stopped {} validators (their data stays in {})",
            devnet.validators.len(),
            args.dir.display()
        );
    }
    Ok(true)
}
