//! What the report says about the machine and the build.

use crate::report::{Machine, Versions};

/// The machine this process runs on (Linux reads `/proc`; elsewhere the CPU is `unknown`).
pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    };
    let cpu = match (field("model name"), field("cpu family"), field("model")) {
        (Some(name), Some(family), Some(model)) => {
            format!("{name} (family {family}, model {model})")
        }
        (Some(name), _, _) => name,
        _ => "unknown".into(),
    };
    let memory_mib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024);
    Machine {
        cpu,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_mib,
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
    }
}

/// Versions of the code measured. The commit is asked of git in the working directory (with
/// `-dirty` if tracked files have changed), and is `unknown` outside a checkout.
pub fn versions() -> Versions {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "unknown".into());
    // Uncommitted changes to tracked files make the figures those of no commit.
    let dirty = commit != "unknown"
        && std::process::Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=no"])
            .output()
            .ok()
            .is_some_and(|o| o.status.success() && !o.stdout.is_empty());
    let commit = if dirty { commit + "-dirty" } else { commit };
    Versions {
        aether: env!("CARGO_PKG_VERSION").into(),
        commit,
        rustc: env!("AETHER_BENCH_RUSTC").into(),
        wasmi: aether_engine::vm::WASMI_VERSION.into(),
        gas_schedule: "1".into(),
        profile: if cfg!(debug_assertions) {
            "debug".into()
        } else {
            "release".into()
        },
    }
}
