//! The gas schedule (version 1). Gas is wasmi fuel: instructions consume fuel at wasmi 2.0.0's
//! default operator costs, and every host call, storage access, memory page, event and code
//! byte is charged from the same counter at the prices below. `docs/gas.md` publishes this
//! table; a test checks the two agree.

/// Prices of everything that is not a plain Wasm instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GasSchedule {
    /// Every transaction, before anything runs.
    pub tx_base: u64,
    /// Per byte of the SCALE-encoded signed transaction.
    pub tx_per_byte: u64,
    /// Every host function call.
    pub host_call_base: u64,
    /// Per byte copied between guest memory and the host (inputs, outputs, keys, values).
    pub host_per_byte: u64,
    /// Reading a storage value (`storage_read`, `storage_has`), plus per-byte copy costs.
    pub storage_read: u64,
    /// Writing a storage key that did not exist.
    pub storage_write_new: u64,
    /// Overwriting an existing storage key.
    pub storage_write_overwrite: u64,
    /// Per byte of key and value written.
    pub storage_write_per_byte: u64,
    /// Removing a storage key.
    pub storage_remove: u64,
    /// Reading an account balance.
    pub balance_read: u64,
    /// A value transfer (from a contract or with a call).
    pub transfer: u64,
    /// SHA-256 base and per input byte.
    pub sha256_base: u64,
    /// SHA-256 per input byte.
    pub sha256_per_byte: u64,
    /// Keccak-256 base.
    pub keccak256_base: u64,
    /// Keccak-256 per input byte.
    pub keccak256_per_byte: u64,
    /// Verifying one ed25519 signature (plus per message byte).
    pub ed25519_verify: u64,
    /// Verifying one sr25519 signature (plus per message byte).
    pub sr25519_verify: u64,
    /// Per message byte of a signature verification.
    pub verify_per_byte: u64,
    /// Emitting an event.
    pub event_base: u64,
    /// Per event topic.
    pub event_per_topic: u64,
    /// Per byte of event data.
    pub event_per_byte: u64,
    /// Calling another contract (plus per input byte and the callee's load cost).
    pub call_base: u64,
    /// Loading a contract's code to run it, per code byte (charged on every call, cached or not).
    pub code_load_per_byte: u64,
    /// Creating a contract instance (plus memory pages and load cost).
    pub instantiate_base: u64,
    /// Per 64 KiB page of linear memory, at instantiation and on growth.
    pub memory_per_page: u64,
    /// Uploading code, base.
    pub upload_base: u64,
    /// Uploading code, per byte (validation and storage).
    pub upload_per_byte: u64,
}

impl GasSchedule {
    /// Version 1 of the schedule.
    pub const V1: GasSchedule = GasSchedule {
        tx_base: 5_000,
        tx_per_byte: 10,
        host_call_base: 40,
        host_per_byte: 1,
        storage_read: 400,
        storage_write_new: 6_000,
        storage_write_overwrite: 1_500,
        storage_write_per_byte: 10,
        storage_remove: 800,
        balance_read: 200,
        transfer: 1_000,
        sha256_base: 100,
        sha256_per_byte: 2,
        keccak256_base: 100,
        keccak256_per_byte: 2,
        ed25519_verify: 25_000,
        sr25519_verify: 30_000,
        verify_per_byte: 2,
        event_base: 500,
        event_per_topic: 250,
        event_per_byte: 4,
        call_base: 2_000,
        code_load_per_byte: 1,
        instantiate_base: 2_000,
        memory_per_page: 1_000,
        upload_base: 10_000,
        upload_per_byte: 50,
    };
}

impl GasSchedule {
    /// The intrinsic gas of a transaction whose signed SCALE encoding is `encoded_len` bytes:
    /// charged before anything runs; a gas limit below it is rejected (by the pool and by
    /// execution alike).
    pub fn intrinsic(&self, encoded_len: usize) -> u64 {
        self.tx_base
            .saturating_add(mul(encoded_len as u64, self.tx_per_byte))
    }

    /// Every price with its field name, in declaration order (for documentation checks and
    /// display).
    pub fn fields(&self) -> Vec<(&'static str, u64)> {
        let GasSchedule {
            tx_base,
            tx_per_byte,
            host_call_base,
            host_per_byte,
            storage_read,
            storage_write_new,
            storage_write_overwrite,
            storage_write_per_byte,
            storage_remove,
            balance_read,
            transfer,
            sha256_base,
            sha256_per_byte,
            keccak256_base,
            keccak256_per_byte,
            ed25519_verify,
            sr25519_verify,
            verify_per_byte,
            event_base,
            event_per_topic,
            event_per_byte,
            call_base,
            code_load_per_byte,
            instantiate_base,
            memory_per_page,
            upload_base,
            upload_per_byte,
        } = *self;
        vec![
            ("tx_base", tx_base),
            ("tx_per_byte", tx_per_byte),
            ("host_call_base", host_call_base),
            ("host_per_byte", host_per_byte),
            ("storage_read", storage_read),
            ("storage_write_new", storage_write_new),
            ("storage_write_overwrite", storage_write_overwrite),
            ("storage_write_per_byte", storage_write_per_byte),
            ("storage_remove", storage_remove),
            ("balance_read", balance_read),
            ("transfer", transfer),
            ("sha256_base", sha256_base),
            ("sha256_per_byte", sha256_per_byte),
            ("keccak256_base", keccak256_base),
            ("keccak256_per_byte", keccak256_per_byte),
            ("ed25519_verify", ed25519_verify),
            ("sr25519_verify", sr25519_verify),
            ("verify_per_byte", verify_per_byte),
            ("event_base", event_base),
            ("event_per_topic", event_per_topic),
            ("event_per_byte", event_per_byte),
            ("call_base", call_base),
            ("code_load_per_byte", code_load_per_byte),
            ("instantiate_base", instantiate_base),
            ("memory_per_page", memory_per_page),
            ("upload_base", upload_base),
            ("upload_per_byte", upload_per_byte),
        ]
    }
}

impl Default for GasSchedule {
    fn default() -> Self {
        Self::V1
    }
}

/// `a * b` saturating at `u64::MAX`: a saturated charge is always out of gas.
pub(crate) fn mul(a: u64, b: u64) -> u64 {
    a.saturating_mul(b)
}
