;; expect: run out_of_gas
;; Found by the release fuzz run (2026-11-26): with wasmi's tail-call dispatch every refused
;; `memory.grow` recursed on the native stack; a few thousand iterations overflowed it and
;; aborted the process. Fixed by forcing portable dispatch (workspace Cargo.toml).
(module
  (memory (export "memory") 1)
  (func (export "run")
    (loop $l
      (drop (memory.grow (i32.const 0)))
      (drop (memory.grow (i32.const 100)))
      (br $l))))
