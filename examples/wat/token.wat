;; A minimal fungible token in WAT, written against the raw host ABI.
;;
;; init        input: amount (u128 LE, 16 bytes); mints it to the caller.
;; transfer    input: to (32 bytes) ++ amount (u128 LE); 2 storage reads, 2 writes and a
;;             `Transfer` event with topics ["Transfer", from, to] and the amount as data.
;;             Reverts with "insufficient balance" when the caller cannot pay.
;; balance_of  input: address (32 bytes); returns the balance (u128 LE).
;;
;; Memory: 0..32 topic "Transfer", 32..64 caller, 64..96 recipient, 96..112 amount,
;; 112..128 sender balance, 128..144 recipient balance, 200.. revert message.
(module
  ;; Host functions (see docs/host-abi.md).
  (import "env" "input_len" (func $input_len (result i32)))
  (import "env" "input_read" (func $input_read (param i32)))
  (import "env" "return" (func $return (param i32 i32)))
  (import "env" "revert" (func $revert (param i32 i32)))
  (import "env" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i32)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "env" "caller" (func $caller (param i32)))
  (import "env" "emit_event" (func $emit_event (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "Transfer")
  (data (i32.const 200) "insufficient balance")
  (func $load (param $key i32) (param $dst i32)
    (i64.store (local.get $dst) (i64.const 0))
    (i64.store offset=8 (local.get $dst) (i64.const 0))
    (drop (call $storage_read (local.get $key) (i32.const 32) (local.get $dst) (i32.const 16))))
  (func (export "init")
    (call $caller (i32.const 32))
    (call $input_read (i32.const 96))
    (call $storage_write (i32.const 32) (i32.const 32) (i32.const 96) (i32.const 16)))
  (func (export "balance_of")
    (call $input_read (i32.const 64))
    (call $load (i32.const 64) (i32.const 128))
    (call $return (i32.const 128) (i32.const 16)))
  (func (export "transfer")
    (local $flo i64) (local $fhi i64) (local $alo i64) (local $ahi i64) (local $tlo i64) (local $nlo i64)
    (if (i32.ne (call $input_len) (i32.const 48)) (then (unreachable)))
    (call $caller (i32.const 32))
    (call $input_read (i32.const 64))
    (call $load (i32.const 32) (i32.const 112))
    (call $load (i32.const 64) (i32.const 128))
    (local.set $flo (i64.load (i32.const 112)))
    (local.set $fhi (i64.load (i32.const 120)))
    (local.set $alo (i64.load (i32.const 96)))
    (local.set $ahi (i64.load (i32.const 104)))
    (if (i32.or (i64.lt_u (local.get $fhi) (local.get $ahi))
                (i32.and (i64.eq (local.get $fhi) (local.get $ahi)) (i64.lt_u (local.get $flo) (local.get $alo))))
      (then (call $revert (i32.const 200) (i32.const 20))))
    (if (i32.eqz (i32.and
          (i32.and (i64.eq (i64.load (i32.const 32)) (i64.load (i32.const 64)))
                   (i64.eq (i64.load (i32.const 40)) (i64.load (i32.const 72))))
          (i32.and (i64.eq (i64.load (i32.const 48)) (i64.load (i32.const 80)))
                   (i64.eq (i64.load (i32.const 56)) (i64.load (i32.const 88))))))
      (then
        (i64.store (i32.const 112) (i64.sub (local.get $flo) (local.get $alo)))
        (i64.store (i32.const 120) (i64.sub (i64.sub (local.get $fhi) (local.get $ahi))
                                            (i64.extend_i32_u (i64.lt_u (local.get $flo) (local.get $alo)))))
        (local.set $tlo (i64.load (i32.const 128)))
        (local.set $nlo (i64.add (local.get $tlo) (local.get $alo)))
        (i64.store (i32.const 128) (local.get $nlo))
        (i64.store (i32.const 136) (i64.add (i64.add (i64.load (i32.const 136)) (local.get $ahi))
                                            (i64.extend_i32_u (i64.lt_u (local.get $nlo) (local.get $tlo)))))
        (call $storage_write (i32.const 32) (i32.const 32) (i32.const 112) (i32.const 16))
        (call $storage_write (i32.const 64) (i32.const 32) (i32.const 128) (i32.const 16))))
    (call $emit_event (i32.const 0) (i32.const 3) (i32.const 96) (i32.const 16)))
)
