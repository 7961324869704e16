//! The panic guard around wasmi: a panic inside wasmi (or inside a host function it calls) is
//! caught and turned into a value, so a contract can never take the node's thread with it.
//! What such a fault means for a frame or an upload is decided by the caller.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `f`, turning a panic into `Err` with the panic's message (for logs only: it is not
/// consensus data).
///
/// `AssertUnwindSafe` is sound here because every caller discards or resets what `f` touched
/// when it fails: a failed compile keeps nothing, a faulted frame's store is dropped and its
/// state changes are reverted to the frame's checkpoint.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| message(payload.as_ref()))
}

fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::catch;
    use crate::GasSchedule;
    use crate::memory::MemoryState;
    use crate::sandbox::Sandbox;
    use crate::types::{Address, Status};
    use crate::vm::{ENGINE_FAULT, Vm, limits};

    const ALICE: Address = Address([0xA1; 32]);
    const GAS: u64 = 5_000_000;

    /// The module of issue 16, which wasmi 2.0.0 cannot translate.
    const FAULTING: &str =
        include_str!("../../tests/regressions/wasmi-2.0.0-store-offset-register-pair.wat");

    /// Stores 1 under "before", calls method `run` of the contract whose address is its input,
    /// stores the status code under "status" and returns it.
    const CALLER: &str = r#"(module
      (import "env" "input_read" (func $input_read (param i32)))
      (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
      (import "env" "call" (func $call (param i32 i32 i32 i32 i32 i32 i64) (result i32)))
      (import "env" "return" (func $return (param i32 i32)))
      (memory (export "memory") 1)
      (data (i32.const 100) "run")
      (data (i32.const 110) "before")
      (data (i32.const 120) "status")
      (func (export "init"))
      (func (export "go")
        (call $input_read (i32.const 0))
        (i32.store8 (i32.const 200) (i32.const 1))
        (call $storage_write (i32.const 110) (i32.const 6) (i32.const 200) (i32.const 1))
        (i32.store8 (i32.const 201)
          (call $call (i32.const 0) (i32.const 100) (i32.const 3) (i32.const 0) (i32.const 0)
                      (i32.const 300) (i64.const 1000000)))
        (call $storage_write (i32.const 120) (i32.const 6) (i32.const 201) (i32.const 1))
        (call $return (i32.const 201) (i32.const 1))))"#;

    /// A sandbox on a VM that translates lazily, as the engine did before issue 16: the
    /// faulting module uploads, and wasmi panics inside the call that first runs it.
    fn lazily_translating_sandbox() -> Sandbox {
        let mut config = limits::wasmi_config();
        config.compilation_mode(wasmi::CompilationMode::LazyTranslation);
        let vm = Vm::with_config(GasSchedule::V1, 16, &config);
        Sandbox::with_vm(MemoryState::with_balances([(ALICE, 1 << 80)]), vm)
    }

    #[test]
    fn a_panic_inside_wasmi_ends_the_frame_as_an_engine_fault_paying_its_whole_limit() {
        let mut sb = lazily_translating_sandbox();
        let faulting = sb
            .deploy(ALICE, wat::parse_str(FAULTING).unwrap(), vec![])
            .expect("lazy translation lets it upload");
        let storage_before = sb.state().storage.clone();
        let r = sb.call(ALICE, faulting, "run", vec![], 0, GAS).unwrap();
        assert_eq!(r.status, Status::Trap);
        assert_eq!(r.error.as_deref(), Some(ENGINE_FAULT));
        assert_eq!(r.gas_used, GAS, "a faulted frame pays its whole limit");
        assert_eq!(sb.state().storage, storage_before);
        // The engine goes on: another contract runs on the same VM.
        let caller = sb
            .deploy(ALICE, wat::parse_str(CALLER).unwrap(), vec![])
            .unwrap();
        let r = sb
            .call(ALICE, caller, "go", caller.0.to_vec(), 0, GAS)
            .unwrap();
        assert_eq!(r.status, Status::Success, "{r:?}");
    }

    #[test]
    fn a_fault_in_a_nested_frame_ends_that_frame_alone() {
        let mut sb = lazily_translating_sandbox();
        let faulting = sb
            .deploy(ALICE, wat::parse_str(FAULTING).unwrap(), vec![])
            .unwrap();
        let caller = sb
            .deploy(ALICE, wat::parse_str(CALLER).unwrap(), vec![])
            .unwrap();
        let r = sb
            .call(ALICE, caller, "go", faulting.0.to_vec(), 0, GAS)
            .unwrap();
        assert_eq!(r.status, Status::Success, "{r:?}");
        assert_eq!(
            r.return_data,
            vec![crate::vm::call_status::TRAPPED as u8],
            "the caller sees its callee trap"
        );
        let stored = |key: &[u8]| sb.state().storage.get(&(caller, key.to_vec())).cloned();
        assert_eq!(
            stored(b"before"),
            Some(vec![1]),
            "the caller's own writes stay"
        );
        assert_eq!(stored(b"status"), Some(vec![2]));
        // The callee's whole nested gas cap was charged to the caller.
        assert!(r.gas_used > 1_000_000, "{}", r.gas_used);
    }

    #[test]
    fn a_panic_becomes_its_message() {
        assert_eq!(catch(|| 7), Ok(7));
        assert_eq!(catch(|| -> u8 { panic!("static") }), Err("static".into()));
        let n = 3;
        assert_eq!(
            catch(|| -> u8 { panic!("formatted {n}") }),
            Err("formatted 3".into())
        );
        assert_eq!(
            catch(|| -> u8 { std::panic::panic_any(5u32) }),
            Err("a panic without a message".into())
        );
    }
}
