//! The `#[tool]` attribute of FACT. Use it through `fact_runtime::tool`; this crate is an
//! implementation detail whose generated code only works with `fact-runtime` as a dependency.
//!
//! See [`tool`] for every key, parameter rule and return type.

mod args;
mod expand;
mod params;
mod signature;

use proc_macro::TokenStream;

/// Turns a function into a FACT tool: derives its JSON Schema, keeps it callable as plain Rust,
/// and registers it at link time for `fact_runtime::ToolExecutor` to discover.
///
/// ```ignore
/// use fact_runtime::tool;
///
/// /// Adds two numbers.
/// #[tool(name = "MyApp.Add", timeout = 5)]
/// async fn add(
///     /// The first addend
///     a: f64,
///     /// The second addend
///     b: f64,
/// ) -> f64 {
///     a + b
/// }
/// ```
///
/// # Keys
///
/// | key | example | default |
/// | --- | --- | --- |
/// | `name` (required) | `name = "MyApp.Calculator"`: `Toolkit.Tool`, segments `[A-Za-z][A-Za-z0-9_]*`, at most 64 characters | |
/// | `title` | `title = "Calculator"`: for people, where `name` is for programs; not blank | none |
/// | `description` | `description = "Adds two numbers"` | the function's doc comment |
/// | `timeout` | `timeout = 10` (whole seconds, 1 to 86400) | `30` |
/// | `requires_auth` | `requires_auth` or `requires_auth = true` | `false` |
/// | `scopes` | `scopes = ["calendar.read"]` | `[]` |
/// | `version` | `version = "1.2.0"` (`MAJOR.MINOR.PATCH`) | `"1.0.0"` |
/// | `rate_limit` | `rate_limit = 30` (calls per minute per caller, 1 to 1000000), enforced when the executor enables rate limiting | the executor's quota only |
/// | `read_only` | `read_only` or `read_only = true`: the tool does not modify its environment | not declared |
/// | `destructive` | `destructive = false`: it only adds, never changes or deletes what exists | not declared |
/// | `idempotent` | `idempotent`: a repeated call with the same arguments has no further effect | not declared |
/// | `open_world` | `open_world = false`: it reaches a closed domain (a database, given files), not the web | not declared |
/// | `inline` | `inline` or `inline = true`, on a plain `fn` only: it runs on the calling task, not the blocking pool, until its runs hold the worker past `fact_runtime::INLINE_BUDGET` (below) | the blocking pool |
///
/// Unknown and duplicate keys are compile errors spanned on the key, as is a value of the wrong
/// kind. The last four are the tool's `fact_runtime::ToolAnnotations`, MCP's hints: each is a
/// bare flag (`true`) or `= true` / `= false`; one left out is not declared, and MCP then assumes
/// not read-only, destructive, not idempotent, open world.
///
/// ```ignore
/// /// Looks a word up in the bundled dictionary.
/// #[tool(name = "Dictionary.Lookup", title = "Dictionary lookup", read_only, idempotent,
///        open_world = false)]
/// fn lookup(word: String) -> Option<String> {
///     DICTIONARY.get(word.as_str()).map(ToString::to_string)
/// }
/// ```
///
/// # Where a tool runs
///
/// An `async fn` runs on the calling task, on tokio's async workers. A plain `fn` runs on
/// tokio's blocking pool, so that it may block (on a file, a socket, a lock) without holding up
/// other calls; handing a call there and back costs a thread wake each way, tens of
/// microseconds on a virtual machine, far more than a tool that computes for one.
///
/// Such a tool, which never blocks, can be declared `inline`: it then runs on the calling task,
/// timed against `fact_runtime::INLINE_BUDGET` (1 ms). Runs past it move the tool to the
/// blocking pool for the rest of the process: the second such run if it blocked (slept, read,
/// waited on a lock; Linux tells), else the fourth (three in a row after the first: a run can
/// also take long because the machine gave its thread's CPU to something else, which is not
/// held against the tool). Each run is answered as usual; the move is logged once as a warning
/// naming the tool and counted in `fact_inline_demotions_total`. Nothing interrupts an inline
/// run, its timeout included: its `ToolContext` is not cancelled while it runs, and a run that
/// ends past its deadline is answered 504 only when it ends. So a tool declared `inline` that
/// turns out slow stalls its worker a few times, then runs as any sync tool. `inline` on an
/// `async fn` is a compile error.
///
/// ```ignore
/// /// Adds two integers.
/// #[tool(name = "Math.Add", inline)]
/// fn add(a: i64, b: i64) -> i64 {
///     a.wrapping_add(b)
/// }
/// ```
///
/// # Parameters
///
/// Each parameter must be a plain name with an owned type that implements `Deserialize` and
/// `JsonSchema` (a type that does not is one compile error, on that type); it becomes a property
/// of the input schema. `///` on a parameter is its description; `#[serde(..)]` and
/// `#[schemars(..)]` on a parameter apply as on a struct field (`#[schemars(range(min = 1, max =
/// 100))]`, `#[serde(default)]`, `#[serde(default = "path")]`, `#[serde(deserialize_with =
/// "path")]`), except that `#[serde(with = "module")]` only deserializes (with
/// `module::deserialize`) and leaves the schema to the parameter's type. `Option<T>` parameters
/// are not required. One parameter of type `ToolContext` or `&ToolContext` is injected by the
/// runtime and left out of the schema.
///
/// # Return type
///
/// `T` or `Result<T, E>` (any path ending in `Result`) with `T: Serialize` (else one compile
/// error, on `T`); when `T` also implements `JsonSchema` the tool gets an output schema. `E` is
/// a `fact_runtime::ToolError` (the tool picks the kind) or any `Display` type (a 500 with its
/// message).
#[proc_macro_attribute]
pub fn tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    let result = args::parse(attr.into()).and_then(|args| {
        let item = syn::parse::<syn::ItemFn>(item.clone())?;
        let rt = expand::runtime_path()?;
        expand::expand(args, item, &rt)
    });
    match result {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            // Keep the function itself so that its callers do not add errors of their own.
            let mut out = error.to_compile_error();
            match syn::parse::<syn::ItemFn>(item.clone()) {
                Ok(function) => out.extend(quote::ToTokens::into_token_stream(
                    params::without_schema_attrs(function),
                )),
                Err(_) => out.extend(proc_macro2::TokenStream::from(item)),
            }
            out.into()
        }
    }
}
