use fact_runtime::tool;

/// A const fn.
#[tool(name = "Ui.Const")]
const fn constant(a: i64) -> i64 {
    a
}

/// An unsafe fn.
#[tool(name = "Ui.Unsafe")]
unsafe fn not_safe(a: i64) -> i64 {
    a
}

/// An extern fn.
#[tool(name = "Ui.Extern")]
extern "C" fn foreign(a: i64) -> i64 {
    a
}

/// A where clause.
#[tool(name = "Ui.Where")]
fn bounded(a: i64) -> i64
where
    i64: Copy,
{
    a
}

/// A reserved parameter name.
#[tool(name = "Ui.Reserved")]
fn reserved(__args: i64) -> i64 {
    __args
}

fn main() {}
