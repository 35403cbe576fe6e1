//! Remote and hybrid execution between two FACTs on loopback: A runs its own tools and routes
//! the rest through its `ArcadeGateway` to B, a FACT serving the Engine API under `/arcade`.
//! B runs in its own process where it must die (killed, not shut down), in this one where it
//! must come back on the same port. A misbehaving Engine, where one is needed, is a small axum
//! app speaking the same wire format.

mod arcade_gateway {
    pub(crate) mod engines;
    mod fallback;
    mod modes;
    mod refresh;
}
