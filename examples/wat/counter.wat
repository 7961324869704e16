;; A counter in WAT against the raw host ABI.
;;
;; increment  adds 1 to the u64 stored under "count" and returns the new value (u64 LE).
;; get        returns the current value (u64 LE; 0 before the first increment).
;; `increment` reverts with "overflow" at u64::MAX.
(module
  (import "env" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i32)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "env" "return" (func $return (param i32 i32)))
  (import "env" "revert" (func $revert (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "count")
  (data (i32.const 16) "overflow")
  ;; Loads the counter into memory[32..40] (0 if unset) and returns it.
  (func $load (result i64)
    (i64.store (i32.const 32) (i64.const 0))
    (drop (call $storage_read (i32.const 0) (i32.const 5) (i32.const 32) (i32.const 8)))
    (i64.load (i32.const 32)))
  (func (export "increment")
    (local $v i64)
    (local.set $v (call $load))
    (if (i64.eq (local.get $v) (i64.const -1)) (then (call $revert (i32.const 16) (i32.const 8))))
    (i64.store (i32.const 32) (i64.add (local.get $v) (i64.const 1)))
    (call $storage_write (i32.const 0) (i32.const 5) (i32.const 32) (i32.const 8))
    (call $return (i32.const 32) (i32.const 8)))
  (func (export "get")
    (drop (call $load))
    (call $return (i32.const 32) (i32.const 8))))
