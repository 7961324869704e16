//! The bare-wasmi anchor: a contract run on wasmi with the engine's wasmi configuration and
//! minimal host functions over a hash map (storage, input, caller, events), none of the
//! engine's code. It measures what the VM itself costs, so the report can state the engine's
//! overhead over its VM.

use std::collections::HashMap;
use std::time::Instant;

use crate::workloads::Prepared;

/// What the bare-wasmi anchor's host functions work on: storage in a hash map, no gas beyond
/// wasmi's fuel, no journal, no receipt.
#[derive(Default)]
struct Bare {
    storage: HashMap<Vec<u8>, Vec<u8>>,
    input: Vec<u8>,
    caller: [u8; 32],
    events: Vec<(Vec<u8>, Vec<u8>)>,
    memory: Option<wasmi::Memory>,
}

fn linker(engine: &wasmi::Engine) -> Result<wasmi::Linker<Bare>, String> {
    use wasmi::{Caller, Error};
    type C<'a> = Caller<'a, Bare>;
    fn mem<'a>(c: &'a mut C) -> Result<(&'a mut [u8], &'a mut Bare), Error> {
        let m = c.data().memory.ok_or_else(|| Error::new("no memory"))?;
        Ok(m.data_and_store_mut(c))
    }
    fn slice(m: &[u8], p: i32, l: i32) -> Result<std::ops::Range<usize>, Error> {
        let (p, l) = (p as u32 as usize, l as u32 as usize);
        (p + l <= m.len())
            .then_some(p..p + l)
            .ok_or_else(|| Error::new("out of bounds"))
    }
    let mut l = wasmi::Linker::new(engine);
    l.func_wrap("env", "input_len", |c: C| c.data().input.len() as i32)
        .map_err(|e| e.to_string())?;
    l.func_wrap("env", "input_read", |mut c: C, p: i32| {
        let (m, st) = mem(&mut c)?;
        let r = slice(m, p, st.input.len() as i32)?;
        m[r].copy_from_slice(&st.input);
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    l.func_wrap("env", "return", |_c: C, _p: i32, _l: i32| Ok(()))
        .map_err(|e| e.to_string())?;
    l.func_wrap("env", "revert", |_c: C, _p: i32, _l: i32| {
        Err::<(), _>(Error::new("reverted"))
    })
    .map_err(|e| e.to_string())?;
    l.func_wrap(
        "env",
        "storage_read",
        |mut c: C, kp: i32, kl: i32, dp: i32, cap: i32| {
            let (m, st) = mem(&mut c)?;
            let key = &m[slice(m, kp, kl)?];
            let Some(v) = st.storage.get(key) else {
                return Ok(-1);
            };
            let n = v.len() as i32;
            if n <= cap {
                let r = slice(m, dp, n)?;
                m[r].copy_from_slice(v);
            }
            Ok(n)
        },
    )
    .map_err(|e| e.to_string())?;
    l.func_wrap(
        "env",
        "storage_write",
        |mut c: C, kp: i32, kl: i32, vp: i32, vl: i32| {
            let (m, st) = mem(&mut c)?;
            let key = m[slice(m, kp, kl)?].to_vec();
            let value = m[slice(m, vp, vl)?].to_vec();
            st.storage.insert(key, value);
            Ok(())
        },
    )
    .map_err(|e| e.to_string())?;
    l.func_wrap("env", "caller", |mut c: C, p: i32| {
        let (m, st) = mem(&mut c)?;
        let r = slice(m, p, 32)?;
        m[r].copy_from_slice(&st.caller);
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    l.func_wrap(
        "env",
        "emit_event",
        |mut c: C, tp: i32, tn: i32, dp: i32, dl: i32| {
            let (m, st) = mem(&mut c)?;
            let topics = m[slice(m, tp, tn.saturating_mul(32))?].to_vec();
            let data = m[slice(m, dp, dl)?].to_vec();
            st.events.push((topics, data));
            if st.events.len() > 1024 {
                st.events.clear();
            }
            Ok(())
        },
    )
    .map_err(|e| e.to_string())?;
    Ok(l)
}

const ALICE: [u8; 32] = [0xA1; 32];
const BOB: [u8; 32] = [0xB0; 32];

/// The module, its engine and linker, and a host state holding a funded sender and the
/// transfer's input.
fn parts(wat: &str) -> Result<(wasmi::Engine, wasmi::Module, wasmi::Linker<Bare>, Bare), String> {
    let engine = wasmi::Engine::new(&aether_engine::vm::limits::wasmi_config());
    let code = wat::parse_str(wat).map_err(|e| e.to_string())?;
    let module = wasmi::Module::new(&engine, code).map_err(|e| e.to_string())?;
    let linker = linker(&engine)?;
    let mut input = BOB.to_vec();
    input.extend_from_slice(&7u128.to_le_bytes());
    let mut host = Bare {
        input,
        caller: ALICE,
        ..Bare::default()
    };
    host.storage
        .insert(ALICE.to_vec(), (1u128 << 100).to_le_bytes().to_vec());
    Ok((engine, module, linker, host))
}

fn transfer(store: &mut wasmi::Store<Bare>, instance: wasmi::Instance) -> Result<(), String> {
    store.set_fuel(50_000_000).map_err(|e| e.to_string())?;
    let f = instance
        .get_typed_func::<(), ()>(&*store, "transfer")
        .map_err(|e| e.to_string())?;
    f.call(store, ()).map_err(|e| e.to_string())
}

/// `transfer` in one long-lived instance (no isolation between calls: the VM's floor).
pub fn call_only(wat: &str) -> Result<Prepared, String> {
    let (engine, module, linker, host) = parts(wat)?;
    let mut store = wasmi::Store::new(&engine, host);
    let instance = linker
        .instantiate_and_start(&mut store, &module)
        .map_err(|e| e.to_string())?;
    store.data_mut().memory = instance.get_memory(&store, "memory");
    Ok(Prepared {
        routine: Box::new(move |iters| {
            crate::sample::timed(iters, || transfer(&mut store, instance))
        }),
        gas: None,
        elements: None,
        breakdown: None,
    })
}

/// `transfer` in a new store and instance per call (the isolation a plain wasmi embedder
/// gets).
pub fn fresh_instance(wat: &str) -> Result<Prepared, String> {
    let (engine, module, linker, host) = parts(wat)?;
    let mut slot = Some(host);
    Ok(Prepared {
        routine: Box::new(move |iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let host = slot.take().ok_or("the host state was lost")?;
                let mut store = wasmi::Store::new(&engine, host);
                store.set_fuel(50_000_000).map_err(|e| e.to_string())?;
                let instance = linker
                    .instantiate_and_start(&mut store, &module)
                    .map_err(|e| e.to_string())?;
                store.data_mut().memory = instance.get_memory(&store, "memory");
                transfer(&mut store, instance)?;
                slot = Some(store.into_data());
            }
            Ok(start.elapsed())
        }),
        gas: None,
        elements: None,
        breakdown: None,
    })
}
