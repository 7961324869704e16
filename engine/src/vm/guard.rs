//! The panic guard around wasmi: a panic inside wasmi, a host function or the engine's frame
//! code is caught and turned into a value, so a contract cannot take the node's thread with it
//! that way (a native stack overflow or an allocation failure still aborts the process; the
//! engine's limits keep contracts from those). What such a fault means for a frame or an
//! upload is decided by the caller (`frame.rs`, `Vm::compile`).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `f`, turning a panic into `Err` with the panic's message (for logs only: it is not
/// consensus data).
///
/// `AssertUnwindSafe` is sound here because every caller discards or resets what `f` touched
/// when it fails: a failed compile keeps nothing; a faulted frame's store is dropped, its
/// context comes back through a slot outside the guard and is reverted to the frame's
/// checkpoint, and a frame that lost its context fails the block instead.
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
    use crate::vm::{DEFAULT_INSTANCE_POOL_BYTES, ENGINE_FAULT, Vm, limits};

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
        let vm = Vm::with_config(GasSchedule::V1, 16, &config, DEFAULT_INSTANCE_POOL_BYTES);
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

    /// A panic in the engine's own code of a nested frame (outside wasmi, where the context is
    /// not in a store) ends that frame alone too: the caller goes on with the transaction's
    /// state whole, earlier transactions' writes included.
    #[test]
    fn a_fault_outside_wasmi_in_a_nested_frame_loses_nothing_of_the_transaction() {
        let mut sb = Sandbox::new(MemoryState::with_balances([(ALICE, 1 << 80)]));
        let callee_wat = CALLER.replacen(
            r#"(func (export "init"))"#,
            r#"(func (export "init")) (func (export "run"))"#,
            1,
        );
        let callee = sb
            .deploy(ALICE, wat::parse_str(callee_wat).unwrap(), vec![])
            .unwrap();
        let caller = sb
            .deploy(ALICE, wat::parse_str(CALLER).unwrap(), vec![])
            .unwrap();
        let balance_before = sb.balance(&ALICE);
        // Frame 1 is the caller's, frame 2 the callee's.
        crate::vm::frame::fault_injection::panic_at_frame(2);
        let r = sb
            .call(ALICE, caller, "go", callee.0.to_vec(), 0, GAS)
            .unwrap();
        assert_eq!(r.status, Status::Success, "{r:?}");
        assert_eq!(r.return_data, vec![crate::vm::call_status::TRAPPED as u8]);
        let stored = |c: Address, key: &[u8]| sb.state().storage.get(&(c, key.to_vec())).cloned();
        assert_eq!(stored(caller, b"before"), Some(vec![1]));
        assert_eq!(stored(caller, b"status"), Some(vec![2]));
        assert_eq!(
            stored(callee, b"before"),
            None,
            "the faulted callee wrote nothing"
        );
        // The sender paid the fee once and its nonce moved on: the context was not lost.
        assert_eq!(
            sb.balance(&ALICE),
            balance_before,
            "gas price 0: nothing paid"
        );
        assert_eq!(
            sb.state().accounts[&ALICE].nonce,
            5,
            "two deploys, then the call"
        );
    }

    /// A compile fault a fresh engine does not repeat belongs to this node, not to the code:
    /// the upload fails as a node error (the block is not executed here), never as a refusal
    /// that other nodes would not make.
    #[test]
    fn a_compile_fault_of_this_engine_alone_is_a_node_error_not_a_refusal() {
        let mut sb = Sandbox::new(MemoryState::with_balances([(ALICE, 1 << 80)]));
        let before = sb.state().clone();
        crate::vm::frame::fault_injection::fault_next_compile();
        let code = wat::parse_str(CALLER).unwrap();
        let r = sb.submit(
            ALICE,
            crate::types::Action::UploadCode { code: code.clone() },
            GAS,
        );
        match r {
            Err(crate::ports::StoreError::Backend(msg)) => {
                assert!(msg.contains("engine fault while compiling"), "{msg}")
            }
            other => panic!("expected a node error, got {other:?}"),
        }
        assert_eq!(sb.state(), &before, "nothing was applied");
        // The same upload then succeeds: the code was never at fault.
        sb.upload(ALICE, code).expect("uploads");
    }

    #[test]
    fn a_fault_outside_wasmi_in_the_top_frame_is_a_trap_receipt() {
        let mut sb = Sandbox::new(MemoryState::with_balances([(ALICE, 1 << 80)]));
        let caller = sb
            .deploy(ALICE, wat::parse_str(CALLER).unwrap(), vec![])
            .unwrap();
        crate::vm::frame::fault_injection::panic_at_frame(1);
        let r = sb
            .call(ALICE, caller, "go", caller.0.to_vec(), 0, GAS)
            .unwrap();
        assert_eq!(r.status, Status::Trap);
        assert_eq!(r.error.as_deref(), Some(ENGINE_FAULT));
        assert_eq!(r.gas_used, GAS);
        assert_eq!(sb.state().storage.get(&(caller, b"before".to_vec())), None);
        assert_eq!(sb.state().accounts[&ALICE].nonce, 3);
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
