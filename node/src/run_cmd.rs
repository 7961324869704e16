//! `aether run`: runs a node (`--dev` for a one-command dev chain).

use std::net::SocketAddr;
use std::path::PathBuf;

use aether_engine::crypto::Keypair;
use aether_engine::types::Address;
use aether_node::genesis::{DEV_ACCOUNTS, Genesis};
use aether_node::rpc::{RpcAccess, RpcCors, RpcLimits, RpcMethods};
use aether_node::service::{self, ConsensusMode, NetworkSettings, NodeConfig, ValidatorKeySource};
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Arguments of `aether run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Run a dev chain: the dev genesis (funded dev accounts, printed with their keys), a
    /// temporary base path unless one is given, blocks sealed by this node.
    #[arg(long)]
    dev: bool,
    /// The genesis file (from `aether init-genesis`).
    #[arg(long, conflicts_with = "dev")]
    genesis: Option<PathBuf>,
    /// Where the node keeps its data (required without --dev).
    #[arg(long)]
    base_path: Option<PathBuf>,
    /// RPC port (HTTP and WebSocket on one port), on 127.0.0.1 unless --rpc-external.
    #[arg(long, default_value_t = 9944)]
    rpc_port: u16,
    /// Serve RPC on every interface, not only 127.0.0.1. Unsafe methods are then refused
    /// unless --rpc-methods unsafe; put the node behind a proxy with TLS before exposing it.
    #[arg(long)]
    rpc_external: bool,
    /// The exact RPC address (instead of --rpc-port and --rpc-external).
    #[arg(long, value_name = "IP:PORT", conflicts_with_all = ["rpc_port", "rpc_external"])]
    rpc_addr: Option<SocketAddr>,
    /// Which RPC methods to serve: `unsafe` (all, operator's methods such as system_peers
    /// included), `safe`, or `auto` (all on a loopback address, safe ones otherwise).
    #[arg(long, value_enum, default_value = "auto")]
    rpc_methods: RpcMethodsChoice,
    /// Browser origins allowed to call the RPC: `all`, or a comma-separated list
    /// (`http://localhost:*` for any port). Default: pages of this machine
    /// (`http(s)://localhost:*`, `http(s)://127.0.0.1:*`); with --dev, `all`.
    #[arg(long, value_name = "all|ORIGINS")]
    rpc_cors: Option<String>,
    /// Prometheus metrics port, on 127.0.0.1 unless --prometheus-external.
    #[arg(long, default_value_t = 9615)]
    prometheus_port: u16,
    /// Serve metrics on every interface.
    #[arg(long)]
    prometheus_external: bool,
    /// The exact metrics address (instead of --prometheus-port and --prometheus-external).
    #[arg(long, value_name = "IP:PORT", conflicts_with_all = ["prometheus_port", "prometheus_external"])]
    metrics_addr: Option<SocketAddr>,
    /// Do not serve metrics.
    #[arg(long, alias = "no-metrics")]
    no_prometheus: bool,
    /// Milliseconds between blocks.
    #[arg(long, default_value_t = 1000)]
    block_time_ms: u64,
    /// Recent heights whose state stays queryable and provable.
    #[arg(long, default_value_t = 1024)]
    state_history: u64,
    /// Bytes of memory for the state tree's upper levels, kept decoded across blocks (0: off).
    #[arg(long, value_name = "BYTES", default_value_t = aether_storage::DEFAULT_NODE_CACHE_BYTES)]
    trie_cache_size: usize,
    /// Largest RPC request body, bytes.
    #[arg(long, default_value_t = RpcLimits::default().max_request_bytes)]
    rpc_max_request_bytes: u32,
    /// Most RPC WebSocket connections open at once (HTTP has its own budget).
    #[arg(long, default_value_t = RpcLimits::default().max_connections)]
    rpc_max_connections: u32,
    /// Most RPC HTTP requests served at once.
    #[arg(long, default_value_t = RpcLimits::default().max_http_requests)]
    rpc_max_http_requests: u32,
    /// Most RPC HTTP requests served at once for one IP address (an IPv6 /64).
    #[arg(long, default_value_t = RpcLimits::default().max_http_per_ip)]
    rpc_max_http_per_ip: u32,
    /// Most RPC connections (HTTP and WebSocket) from one IP address.
    #[arg(long, default_value_t = RpcLimits::default().max_connections_per_ip)]
    rpc_max_connections_per_ip: u32,
    /// Most RPC WebSockets from one IP address.
    #[arg(long, default_value_t = RpcLimits::default().max_ws_per_ip)]
    rpc_max_ws_per_ip: u32,
    /// Seconds after which a WebSocket that answers no ping and sends nothing is closed.
    #[arg(long, value_name = "SECS", default_value_t = RpcLimits::default().ws_idle_timeout.as_secs())]
    rpc_ws_idle_timeout: u64,
    /// Most calls in an RPC batch.
    #[arg(long, default_value_t = RpcLimits::default().max_batch)]
    rpc_max_batch: u32,
    /// Most gas one `contract_dryRun` may use (dry runs are free to whoever asks).
    #[arg(long, default_value_t = RpcLimits::default().max_dry_run_gas)]
    rpc_max_dry_run_gas: u64,
    /// Most `contract_dryRun` calls running at once.
    #[arg(long, default_value_t = RpcLimits::default().max_concurrent_dry_runs)]
    rpc_max_dry_runs: u32,
    /// The account that receives this node's block fees (default: the first validator's).
    #[arg(long)]
    proposer: Option<Address>,
    /// Log format.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Consensus: `dev` (this node seals every block, final at once) or `hotstuff` (2-chain
    /// HotStuff over the genesis's validators; a block is final one round after it).
    #[arg(long, value_enum, default_value = "dev")]
    consensus: ConsensusChoice,
    /// With `--consensus hotstuff`: validate as the validator whose keys derive from this dev
    /// name (`alice` is the dev chain's validator). Dev keys are public: for dev and test
    /// chains only. Without it the node follows the chain.
    #[arg(long)]
    validator: Option<String>,
    /// With `--consensus hotstuff`: validate with the keys in this file (from `aether keys
    /// validator`; readable by its owner only). Its network key is the node's identity.
    #[arg(long, value_name = "FILE", conflicts_with = "validator")]
    validator_key: Option<PathBuf>,
    /// The name this node gives itself to its peers (they show it in `aether peers`);
    /// default: the validator's name, else `node`.
    #[arg(long)]
    name: Option<String>,
    /// Listen for peers on this address (a multiaddr such as `/ip4/127.0.0.1/tcp/30333`;
    /// repeatable). With it, or with --port or --bootnodes, the node joins the peer-to-peer
    /// network; without, it runs alone.
    #[arg(long = "listen-addr", value_name = "MULTIADDR")]
    listen_addrs: Vec<String>,
    /// Listen for peers on TCP port PORT and QUIC (UDP) port PORT of every interface (as
    /// Substrate's --port).
    #[arg(long)]
    port: Option<u16>,
    /// Peers to dial and keep dialing, `MULTIADDR/p2p/PEER_ID` (repeatable, or several
    /// after one flag).
    #[arg(long, num_args = 1.., value_name = "MULTIADDR")]
    bootnodes: Vec<String>,
    /// With `--consensus hotstuff`: start even if the validator's safety record
    /// (`<base-path>/consensus/safety`) is missing while the chain is past genesis. The
    /// validator may then sign again in rounds it signed in before it lost the record.
    #[arg(long)]
    reset_safety_record: bool,
    /// With `--consensus hotstuff`: committed blocks kept (in memory and in the database) to
    /// answer peers' block retrieval. A peer further behind than this syncs from stores.
    #[arg(long, default_value_t = aether_consensus::hotstuff::RECENT_COMMITTED, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    recent_blocks: usize,
}

/// `--rpc-methods`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RpcMethodsChoice {
    /// All methods on a loopback address, the safe ones otherwise.
    Auto,
    /// The safe methods only.
    Safe,
    /// All methods.
    Unsafe,
}

/// Parses `--rpc-cors`.
fn cors(text: Option<&str>, dev: bool) -> anyhow::Result<RpcCors> {
    let Some(text) = text else {
        return Ok(if dev {
            RpcCors::All
        } else {
            RpcCors::default()
        });
    };
    if text.trim() == "all" {
        return Ok(RpcCors::All);
    }
    let origins: Vec<String> = text
        .split(',')
        .map(|o| o.trim().trim_end_matches('/').to_string())
        .filter(|o| !o.is_empty())
        .collect();
    if let Some(bad) = origins
        .iter()
        .find(|o| !(o.starts_with("http://") || o.starts_with("https://")))
    {
        bail!("--rpc-cors: `{bad}` is not an origin (http://HOST[:PORT], https://…, or `all`)");
    }
    if origins.is_empty() {
        bail!("--rpc-cors: give `all` or origins such as http://localhost:3000");
    }
    Ok(RpcCors::Origins(origins))
}

/// The consensus a node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConsensusChoice {
    /// The single-node dev sealer.
    Dev,
    /// 2-chain HotStuff.
    Hotstuff,
}

/// Sets up logging: `RUST_LOG` filters (default `info`), on stderr.
pub fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs the node until SIGINT or SIGTERM.
pub fn run(args: RunArgs) -> anyhow::Result<bool> {
    init_logs(args.log_format);
    let genesis = match (&args.genesis, args.dev) {
        (Some(path), _) => Genesis::load(path)?,
        (None, true) => Genesis::dev(),
        (None, false) => bail!("give --genesis FILE (from `aether init-genesis`) or --dev"),
    };
    // A dev chain without --base-path lives in a temporary directory removed at exit.
    let mut _temp = None;
    let base_path = match (&args.base_path, args.dev) {
        (Some(p), _) => p.clone(),
        (None, true) => {
            let dir = tempfile::Builder::new()
                .prefix("aether-dev-")
                .tempdir()
                .context("cannot create a temporary base path")?;
            let path = dir.path().to_path_buf();
            _temp = Some(dir);
            path
        }
        (None, false) => bail!("give --base-path DIR"),
    };
    if let Err(why) = genesis.check_clock(aether_node::chain::now_ms()) {
        tracing::warn!(
            "THE GENESIS LIES IN THE FUTURE: {why}. This node will not seal a block before then."
        );
    }
    if args.dev {
        print_dev_accounts();
    }
    let proposer = args
        .proposer
        .or_else(|| genesis.validators.first().map(|v| v.account))
        .unwrap_or_default();
    // A validator's keys: a dev name's, or a key file's (read now, so that a bad or exposed
    // file is reported before anything starts).
    let key_file_name = match &args.validator_key {
        Some(path) => Some(aether_node::validator_key::ValidatorKeyFile::read(path)?.name),
        None => None,
    };
    let key_source = match (&args.validator, &args.validator_key) {
        (Some(name), _) => Some(ValidatorKeySource::Dev(name.clone())),
        (None, Some(path)) => Some(ValidatorKeySource::File(path.clone())),
        (None, None) => None,
    };
    let config = NodeConfig {
        base_path,
        genesis,
        rpc_addr: args.rpc_addr.unwrap_or_else(|| {
            let ip = if args.rpc_external {
                [0, 0, 0, 0]
            } else {
                [127, 0, 0, 1]
            };
            SocketAddr::from((ip, args.rpc_port))
        }),
        rpc_access: RpcAccess {
            methods: match args.rpc_methods {
                RpcMethodsChoice::Auto => RpcMethods::Auto,
                RpcMethodsChoice::Safe => RpcMethods::Safe,
                RpcMethodsChoice::Unsafe => RpcMethods::Unsafe,
            },
            cors: cors(args.rpc_cors.as_deref(), args.dev)?,
        },
        rpc_limits: RpcLimits {
            max_request_bytes: args.rpc_max_request_bytes,
            max_connections: args.rpc_max_connections,
            max_http_requests: args.rpc_max_http_requests,
            max_http_per_ip: args.rpc_max_http_per_ip,
            max_connections_per_ip: args.rpc_max_connections_per_ip,
            max_ws_per_ip: args.rpc_max_ws_per_ip,
            ws_idle_timeout: std::time::Duration::from_secs(args.rpc_ws_idle_timeout.max(1)),
            max_batch: args.rpc_max_batch,
            max_dry_run_gas: args.rpc_max_dry_run_gas,
            max_concurrent_dry_runs: args.rpc_max_dry_runs,
            ..RpcLimits::default()
        },
        metrics_addr: (!args.no_prometheus).then(|| {
            args.metrics_addr.unwrap_or_else(|| {
                let ip = if args.prometheus_external {
                    [0, 0, 0, 0]
                } else {
                    [127, 0, 0, 1]
                };
                SocketAddr::from((ip, args.prometheus_port))
            })
        }),
        block_time_ms: args.block_time_ms,
        state_history: args.state_history,
        trie_cache_bytes: args.trie_cache_size,
        proposer,
        network: {
            let mut listen = args.listen_addrs.clone();
            if let Some(port) = args.port {
                listen.push(format!("/ip4/0.0.0.0/tcp/{port}"));
                if cfg!(feature = "quic") {
                    listen.push(format!("/ip4/0.0.0.0/udp/{port}/quic-v1"));
                }
            }
            (!listen.is_empty() || !args.bootnodes.is_empty()).then(|| NetworkSettings {
                listen,
                bootnodes: args.bootnodes.clone(),
                key: key_source.clone(),
                name: args
                    .name
                    .clone()
                    .or_else(|| args.validator.clone())
                    .or_else(|| key_file_name.clone())
                    .unwrap_or_else(|| "node".to_string()),
            })
        },
        consensus: match args.consensus {
            ConsensusChoice::Dev => {
                if key_source.is_some() || args.reset_safety_record {
                    bail!(
                        "--validator, --validator-key and --reset-safety-record need --consensus hotstuff"
                    );
                }
                ConsensusMode::DevSealer
            }
            ConsensusChoice::Hotstuff => ConsensusMode::HotStuff {
                validator: key_source.clone(),
                reset_safety_record: args.reset_safety_record,
                recent_blocks: args.recent_blocks,
            },
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        // The handlers are installed before anything else starts: a SIGTERM during start-up
        // stops the node cleanly instead of killing it.
        let shutdown = shutdown_signal()?;
        service::run(config, shutdown, |_| {}).await?;
        anyhow::Ok(())
    })?;
    tracing::info!("stopped");
    Ok(true)
}

fn print_dev_accounts() {
    eprintln!("Dev accounts (well-known keys: never use them on a real chain):");
    for name in DEV_ACCOUNTS {
        let key = Keypair::dev(name, false);
        let seed = aether_engine::crypto::sha256(name.as_bytes());
        eprintln!(
            "  //{name:7} {}  ed25519 secret seed 0x{}",
            key.address(),
            hex::encode(seed)
        );
    }
}

/// A future that completes on SIGINT (Ctrl-C) or SIGTERM; the handlers are installed when it
/// is made, not when it is first polled.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received"),
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
        }
    })
}

/// A future that completes on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C received");
    })
}
