;; expect: upload invalid_module rule `wasm-translation`
;; Issue 16. wasmi 2.0.0's translator reaches `unreachable!()` (translator/func/mod.rs:2583)
;; for a store whose address and value are both in registers with an offset of 65,536 or more.
;; Under lazy translation it panicked at the first call and stopped the node.
(module
  (memory (export "memory") 1)
  (func (export "run") (local i32)
    memory.size
    local.set 0
    local.get 0
    local.get 0
    i32.store offset=65536))
