// The contract of a tool definition, as a table of cases: name, version, timeout, whether it
// requires authorization (and its scopes and provider), secret keys and title, and whether FACT
// accepts them. It is included by `#[tool]`'s unit tests (fact-macros' `args.rs`) and by the
// run-time registration test (`tests/tests/definition_contract.rs`), so that the macro's checks
// and the registry's run on one table and cannot drift apart.

/// One tool definition and whether it is accepted.
#[derive(Debug, Clone, Copy)]
struct DefinitionCase {
    name: &'static str,
    version: &'static str,
    timeout_secs: u64,
    /// `requires_auth` declared; a tool with scopes requires authorization either way.
    requires_auth: bool,
    scopes: &'static [&'static str],
    /// `None`: no provider named.
    auth_provider: Option<&'static str>,
    secrets: &'static [&'static str],
    /// `None`: no title.
    title: Option<&'static str>,
    accepted: bool,
}

const fn case(
    name: &'static str,
    version: &'static str,
    timeout_secs: u64,
    scopes: &'static [&'static str],
    accepted: bool,
) -> DefinitionCase {
    DefinitionCase {
        name,
        version,
        timeout_secs,
        requires_auth: true,
        scopes,
        auth_provider: None,
        secrets: &[],
        title: None,
        accepted,
    }
}

/// An otherwise accepted definition with `title`.
const fn titled(title: &'static str, accepted: bool) -> DefinitionCase {
    DefinitionCase {
        title: Some(title),
        ..case("App.Calc", "1.0.0", 10, &[], accepted)
    }
}

/// An otherwise accepted definition that declares the secret keys `secrets`.
const fn with_secrets(secrets: &'static [&'static str], accepted: bool) -> DefinitionCase {
    DefinitionCase {
        secrets,
        ..case("App.Calc", "1.0.0", 10, &[], accepted)
    }
}

/// An otherwise accepted definition naming the provider `auth_provider`, declaring
/// `requires_auth` or not, with `scopes`.
const fn provided(
    auth_provider: &'static str,
    requires_auth: bool,
    scopes: &'static [&'static str],
    accepted: bool,
) -> DefinitionCase {
    DefinitionCase {
        requires_auth,
        auth_provider: Some(auth_provider),
        ..case("App.Calc", "1.0.0", 10, scopes, accepted)
    }
}

const DEFINITION_CASES: &[DefinitionCase] = &[
    // accepted
    case("MyApp.Calculator", "1.0.0", 10, &[], true),
    case("A1.b_2", "0.0.1", 1, &["read"], true),
    case("Toolkit.Tool", "10.20.30", 86_400, &["calc.read", "calc:write"], true),
    case(
        "ThisToolkitNameIsLongButFine.AndSoIsTheToolNameUpToSixtyFourChar",
        "1.0.0",
        30,
        &[],
        true,
    ),
    // names
    case("Calculator", "1.0.0", 10, &[], false),
    case("My-App.Calc", "1.0.0", 10, &[], false),
    case("1App.Calc", "1.0.0", 10, &[], false),
    case("_App.Calc", "1.0.0", 10, &[], false),
    case("App.Calc.More", "1.0.0", 10, &[], false),
    case(".Calc", "1.0.0", 10, &[], false),
    case("App.", "1.0.0", 10, &[], false),
    case("Äpp.Calc", "1.0.0", 10, &[], false),
    case("App.Calc ", "1.0.0", 10, &[], false),
    case(
        "ThisToolkitNameIsLongButFine.AndSoIsTheToolNameUpToSixtyFourChars",
        "1.0.0",
        30,
        &[],
        false,
    ),
    // versions: MAJOR.MINOR.PATCH numbers
    case("App.Calc", "1.0", 10, &[], false),
    case("App.Calc", "1.0.0.0", 10, &[], false),
    case("App.Calc", "v1.0.0", 10, &[], false),
    case("App.Calc", "1.x.0", 10, &[], false),
    case("App.Calc", "1..0", 10, &[], false),
    case("App.Calc", "1.0.0-beta", 10, &[], false),
    case("App.Calc", "", 10, &[], false),
    // timeouts: 1 s to one day
    case("App.Calc", "1.0.0", 0, &[], false),
    case("App.Calc", "1.0.0", 86_401, &[], false),
    // scopes: non-empty, no whitespace, no duplicates
    case("App.Calc", "1.0.0", 10, &[""], false),
    case("App.Calc", "1.0.0", 10, &["calc read"], false),
    case("App.Calc", "1.0.0", 10, &["read\t"], false),
    case("App.Calc", "1.0.0", 10, &["read", "write", "read"], false),
    // titles: any text but blank
    titled("Calculator", true),
    titled("Add two numbers (exactly) ✓", true),
    titled("", false),
    titled("   ", false),
    titled("\t\n", false),
    // secret keys: non-empty, no whitespace, no duplicates without regard to ASCII case
    with_secrets(&["API_KEY"], true),
    with_secrets(&["API_KEY", "region", "svc.token-2"], true),
    with_secrets(&[""], false),
    with_secrets(&["API KEY"], false),
    with_secrets(&["API_KEY\n"], false),
    with_secrets(&["API_KEY", "REGION", "API_KEY"], false),
    with_secrets(&["API_KEY", "api_key"], false),
    with_secrets(&["Region", "rEGION"], false),
    // auth providers: non-empty, no whitespace, only on a tool that requires authorization
    provided("github", true, &[], true),
    provided("github", true, &["repo"], true),
    provided("google", false, &["calendar.read"], true),
    provided("github", false, &[], false),
    provided("", true, &[], false),
    provided("git hub", true, &[], false),
    provided(" github", true, &["repo"], false),
];
