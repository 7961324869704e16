;; expect: instantiate trap does not fit the table
;; Found by the fuzz test (2026-11-26): wasmi's error for an element segment beyond its table
;; printed a store-internal handle (`Table(Stored { store: StoreId(..) })`) that differs between
;; runs, so two nodes wrote different receipts. Trap messages now come from the trap code.
(module
  (memory (export "memory") 1)
  (table 1 funcref)
  (func $f)
  (elem (i32.const 5) $f)
  (func (export "run")))
