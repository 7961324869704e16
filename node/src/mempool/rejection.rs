//! Why the pool refused a transaction.

/// A refused transaction, with a reason for the submitter. [`Rejection::code`] is the stable
/// number the RPC reports (documented in `docs/rpc.md`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The bytes are not a signed transaction.
    #[error("malformed transaction: {0}")]
    Malformed(String),
    /// The node could not read the sender's account (a fault of the node, not of the
    /// transaction).
    #[error("storage failure: cannot read the sender's account: {0}")]
    StateUnreadable(String),
    /// The transaction is larger than the pool accepts.
    #[error("transaction is {bytes} bytes, the limit is {max}")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// Signed for another chain.
    #[error("transaction is for chain {got}, this is chain {expected}")]
    WrongChain {
        /// This chain.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// The signature does not verify.
    #[error("invalid signature")]
    BadSignature,
    /// The account has already used this nonce.
    #[error("nonce {nonce} is too low: the account's next nonce is {expected}")]
    NonceTooLow {
        /// The transaction's nonce.
        nonce: u64,
        /// The account's.
        expected: u64,
    },
    /// The nonce is too far ahead of the account's.
    #[error("nonce {nonce} is more than {max_gap} ahead of the account's next nonce {expected}")]
    NonceTooFarAhead {
        /// The transaction's nonce.
        nonce: u64,
        /// The account's.
        expected: u64,
        /// The largest gap accepted.
        max_gap: u64,
    },
    /// The same transaction is already pending.
    #[error("transaction already known")]
    AlreadyKnown,
    /// Gas price below the floor.
    #[error("gas price {offered} is below the minimum {min}")]
    Underpriced {
        /// Offered price.
        offered: u128,
        /// The floor.
        min: u128,
    },
    /// A replacement for a pending nonce does not pay enough more.
    #[error("replacement gas price {offered} is too low: at least {needed} is needed")]
    ReplacementUnderpriced {
        /// Offered price.
        offered: u128,
        /// The least accepted.
        needed: u128,
    },
    /// The gas limit does not cover the intrinsic gas.
    #[error("gas limit {gas_limit} is below the intrinsic gas {intrinsic}")]
    GasLimitBelowIntrinsic {
        /// The transaction's gas limit.
        gas_limit: u64,
        /// Gas charged before anything runs.
        intrinsic: u64,
    },
    /// The gas limit exceeds the block gas limit.
    #[error("gas limit {gas_limit} exceeds the block gas limit {block_gas_limit}")]
    GasLimitAboveBlockLimit {
        /// The transaction's gas limit.
        gas_limit: u64,
        /// The block's.
        block_gas_limit: u64,
    },
    /// The sender cannot pay for this and its other pending transactions.
    #[error(
        "insufficient balance: {need} needed for this and pending transactions, {balance} available"
    )]
    CannotPay {
        /// Fees at gas limit plus values of the pending transactions and this one.
        need: u128,
        /// The account's balance.
        balance: u128,
    },
    /// The sender has too many pending transactions.
    #[error("sender has {limit} pending transactions, the most allowed")]
    SenderFull {
        /// The per-sender limit.
        limit: usize,
    },
    /// The pool is full and the transaction pays too little to evict another.
    #[error(
        "transaction pool is full ({limit} transactions) and this one pays too little to replace any"
    )]
    PoolFull {
        /// The pool's limit.
        limit: usize,
    },
    /// The pool holds as many future transactions (behind a nonce gap) as it allows and this
    /// one pays too little to replace any.
    #[error(
        "transaction pool holds {limit} future transactions (behind a nonce gap), the most allowed, and this one pays too little to replace any; send the missing nonces first"
    )]
    FutureFull {
        /// The limit on future transactions.
        limit: usize,
    },
    /// An upload larger than the engine accepts (rule `code-size`): it would certainly fail,
    /// and pay for its size.
    #[error("code of {size} bytes is over the engine's limit of {max} bytes (rule `code-size`)")]
    CodeTooLarge {
        /// The code's size.
        size: usize,
        /// The limit.
        max: usize,
    },
}

impl Rejection {
    /// A short stable name of the reason (the `reason` label of `aether_pool_rejections`).
    pub fn name(&self) -> &'static str {
        match self {
            Rejection::Malformed(_) => "malformed",
            Rejection::StateUnreadable(_) => "storage_failure",
            Rejection::TooLarge { .. } => "too_large",
            Rejection::WrongChain { .. } => "wrong_chain",
            Rejection::BadSignature => "bad_signature",
            Rejection::NonceTooLow { .. } => "nonce_too_low",
            Rejection::NonceTooFarAhead { .. } => "nonce_too_far_ahead",
            Rejection::AlreadyKnown => "already_known",
            Rejection::Underpriced { .. } => "underpriced",
            Rejection::ReplacementUnderpriced { .. } => "replacement_underpriced",
            Rejection::GasLimitBelowIntrinsic { .. } => "gas_limit_below_intrinsic",
            Rejection::GasLimitAboveBlockLimit { .. } => "gas_limit_above_block_limit",
            Rejection::CannotPay { .. } => "cannot_pay",
            Rejection::SenderFull { .. } => "sender_full",
            Rejection::PoolFull { .. } => "pool_full",
            Rejection::FutureFull { .. } => "future_full",
            Rejection::CodeTooLarge { .. } => "code_too_large",
        }
    }

    /// The application error code reported over RPC (−32011 and below; −32026 for a malformed
    /// transaction, since jsonrpsee itself answers −32010 to a batch over the limit).
    pub fn code(&self) -> i32 {
        match self {
            Rejection::Malformed(_) => -32026,
            Rejection::StateUnreadable(_) => -32031,
            Rejection::TooLarge { .. } => -32011,
            Rejection::WrongChain { .. } => -32012,
            Rejection::BadSignature => -32013,
            Rejection::NonceTooLow { .. } => -32014,
            Rejection::NonceTooFarAhead { .. } => -32015,
            Rejection::AlreadyKnown => -32016,
            Rejection::Underpriced { .. } => -32017,
            Rejection::ReplacementUnderpriced { .. } => -32018,
            Rejection::GasLimitBelowIntrinsic { .. } => -32019,
            Rejection::GasLimitAboveBlockLimit { .. } => -32020,
            Rejection::CannotPay { .. } => -32021,
            Rejection::SenderFull { .. } => -32022,
            Rejection::PoolFull { .. } => -32023,
            Rejection::FutureFull { .. } => -32024,
            Rejection::CodeTooLarge { .. } => -32025,
        }
    }
}
