//! Remote execution on the Arcade platform: the Engine API's wire format ([`wire`]), shared by
//! FACT's client of an Engine and by FACT's own server, which answers the same API under
//! `/arcade` (docs/ARCHITECTURE.md, "Engine API").

pub(crate) mod convert;
pub(crate) mod kinds;
pub mod wire;
