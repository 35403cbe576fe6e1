//! FACT as an Arcade worker: `/worker/health`, `/worker/tools` and `/worker/tools/invoke` behind
//! the Engine's JWT (docs/ARCHITECTURE.md, "Arcade worker").

#[path = "worker/python.rs"]
mod python;
