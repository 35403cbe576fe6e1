//! Parsing of the `#[tool(...)]` attribute arguments.
//!
//! Every key either parses into [`ToolArgs`] or gives a `syn::Error` spanned on the offending
//! token. Code generation lives in `expand.rs` and never sees raw attribute tokens.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Expr, ExprArray, ExprLit, Lit, LitBool, LitInt, LitStr};

/// Longest tool name the runtime accepts (docs/ARCHITECTURE.md: at most 64 characters).
const MAX_NAME_LEN: usize = 64;

const KEYS: &str = "`name`, `title`, `description`, `timeout`, `requires_auth`, `scopes`, \
                    `auth_provider`, `secrets`, `version`, `rate_limit`, `read_only`, \
                    `destructive`, `idempotent`, `open_world`, `inline`";

/// The validated arguments of one `#[tool(...)]` attribute.
pub(crate) struct ToolArgs {
    pub(crate) name: LitStr,
    pub(crate) title: Option<LitStr>,
    pub(crate) description: Option<LitStr>,
    pub(crate) timeout_secs: u64,
    pub(crate) requires_auth: bool,
    pub(crate) scopes: Vec<LitStr>,
    /// The provider of the authorization the tool requires, as an Arcade Engine names it.
    pub(crate) auth_provider: Option<LitStr>,
    /// The keys of the secrets the tool reads from its context.
    pub(crate) secrets: Vec<LitStr>,
    pub(crate) version: String,
    /// Calls per minute allowed per caller; 0 when the tool sets no quota of its own.
    pub(crate) rate_limit: u32,
    pub(crate) annotations: Annotations,
    /// `inline` as written (`true` for the bare flag), when given: the sync function runs on
    /// the calling task until a run overruns the budget. Checked against the function in
    /// `expand.rs`, which knows whether it is async.
    pub(crate) inline: Option<LitBool>,
}

/// The effect hints a tool declares; `None` for a key left out.
#[derive(Default)]
pub(crate) struct Annotations {
    pub(crate) read_only: Option<bool>,
    pub(crate) destructive: Option<bool>,
    pub(crate) idempotent: Option<bool>,
    pub(crate) open_world: Option<bool>,
}

/// Parses the tokens inside `#[tool(...)]`.
pub(crate) fn parse(attr: TokenStream) -> syn::Result<ToolArgs> {
    if let Some(error) = positional_name(&attr) {
        return Err(error);
    }
    let mut parser = ToolArgsParser::default();
    syn::parse::Parser::parse2(syn::meta::parser(|meta| parser.parse(meta)), attr)?;
    parser.finish(Span::call_site())
}

/// `#[tool("MyApp.Add")]` is a natural guess; point at the fix rather than at syn's parse error.
fn positional_name(attr: &TokenStream) -> Option<syn::Error> {
    let first = attr.clone().into_iter().next()?;
    let literal = syn::parse2::<LitStr>(quote::ToTokens::into_token_stream(first)).ok()?;
    Some(syn::Error::new(
        literal.span(),
        format!(
            "the tool name is a key: write #[tool(name = {:?})]",
            literal.value()
        ),
    ))
}

/// Accumulates keys as they are parsed, so that duplicates and missing keys can be reported.
#[derive(Default)]
struct ToolArgsParser {
    name: Option<LitStr>,
    title: Option<LitStr>,
    description: Option<LitStr>,
    timeout: Option<LitInt>,
    requires_auth: Option<LitBool>,
    scopes: Option<Vec<LitStr>>,
    auth_provider: Option<LitStr>,
    secrets: Option<Vec<LitStr>>,
    version: Option<LitStr>,
    rate_limit: Option<LitInt>,
    read_only: Option<LitBool>,
    destructive: Option<LitBool>,
    idempotent: Option<LitBool>,
    open_world: Option<LitBool>,
    inline: Option<LitBool>,
}

impl ToolArgsParser {
    /// Parses one `key = value` (or bare flag) of the attribute.
    fn parse(&mut self, meta: ParseNestedMeta<'_>) -> syn::Result<()> {
        let Some(key) = meta.path.get_ident().map(ToString::to_string) else {
            let path = quote::ToTokens::to_token_stream(&meta.path)
                .to_string()
                .replace(' ', "");
            return Err(syn::Error::new_spanned(
                &meta.path,
                format!("unknown key `{path}`; expected one of {KEYS}"),
            ));
        };
        match key.as_str() {
            "name" => {
                let lit = string_value(&meta, "name", "\"MyApp.Calculator\"")?;
                check_tool_name(&lit)?;
                set_once(&meta, &mut self.name, lit)
            }
            "title" => {
                let lit = string_value(&meta, "title", "\"Calculator\"")?;
                if lit.value().trim().is_empty() {
                    return Err(syn::Error::new(lit.span(), "`title` must not be empty"));
                }
                set_once(&meta, &mut self.title, lit)
            }
            "description" => {
                let lit = string_value(&meta, "description", "\"Adds two numbers\"")?;
                if lit.value().trim().is_empty() {
                    return Err(syn::Error::new(
                        lit.span(),
                        "`description` must not be empty",
                    ));
                }
                set_once(&meta, &mut self.description, lit)
            }
            "version" => {
                let lit = string_value(&meta, "version", "\"1.2.0\"")?;
                check_version(&lit)?;
                set_once(&meta, &mut self.version, lit)
            }
            "timeout" => {
                let lit = timeout_value(&meta)?;
                set_once(&meta, &mut self.timeout, lit)
            }
            "requires_auth" => {
                let lit = flag_value(&meta, "requires_auth")?;
                set_once(&meta, &mut self.requires_auth, lit)
            }
            "read_only" => {
                let lit = flag_value(&meta, "read_only")?;
                set_once(&meta, &mut self.read_only, lit)
            }
            "destructive" => {
                let lit = flag_value(&meta, "destructive")?;
                set_once(&meta, &mut self.destructive, lit)
            }
            "idempotent" => {
                let lit = flag_value(&meta, "idempotent")?;
                set_once(&meta, &mut self.idempotent, lit)
            }
            "open_world" => {
                let lit = flag_value(&meta, "open_world")?;
                set_once(&meta, &mut self.open_world, lit)
            }
            "inline" => {
                let lit = flag_value(&meta, "inline")?;
                set_once(&meta, &mut self.inline, lit)
            }
            "scopes" => {
                let scopes = scopes_value(&meta)?;
                set_once(&meta, &mut self.scopes, scopes)
            }
            "auth_provider" => {
                let lit = string_value(&meta, "auth_provider", "\"github\"")?;
                let value = lit.value();
                if value.is_empty() || value.chars().any(char::is_whitespace) {
                    return Err(syn::Error::new(
                        lit.span(),
                        "`auth_provider` must be non-empty and contain no whitespace, e.g. auth_provider = \"github\"",
                    ));
                }
                set_once(&meta, &mut self.auth_provider, lit)
            }
            "secrets" => {
                let secrets = secrets_value(&meta)?;
                set_once(&meta, &mut self.secrets, secrets)
            }
            "rate_limit" => {
                let lit = rate_limit_value(&meta)?;
                set_once(&meta, &mut self.rate_limit, lit)
            }
            _ => Err(syn::Error::new_spanned(
                &meta.path,
                format!("unknown key `{key}`; expected one of {KEYS}"),
            )),
        }
    }

    /// Finishes parsing: checks required keys and applies defaults.
    fn finish(self, attr_span: Span) -> syn::Result<ToolArgs> {
        let Some(name) = self.name else {
            return Err(syn::Error::new(
                attr_span,
                "missing key `name`: write #[tool(name = \"MyApp.MyTool\")]",
            ));
        };
        let timeout_secs = match self.timeout {
            Some(lit) => lit.base10_parse()?,
            None => 30,
        };
        let rate_limit = match self.rate_limit {
            Some(lit) => lit.base10_parse()?,
            None => 0,
        };
        let requires_auth = self.requires_auth.is_some_and(|b| b.value);
        let scopes = self.scopes.unwrap_or_default();
        if let Some(provider) = &self.auth_provider
            && !requires_auth
            && scopes.is_empty()
        {
            return Err(syn::Error::new(
                provider.span(),
                "`auth_provider` names the provider of the authorization the tool requires: \
                 add `requires_auth` or `scopes = [...]`",
            ));
        }
        Ok(ToolArgs {
            rate_limit,
            name,
            title: self.title,
            description: self.description,
            timeout_secs,
            requires_auth,
            scopes,
            auth_provider: self.auth_provider,
            secrets: self.secrets.unwrap_or_default(),
            version: self
                .version
                .map_or_else(|| "1.0.0".to_owned(), |v| v.value()),
            annotations: Annotations {
                read_only: self.read_only.map(|b| b.value),
                destructive: self.destructive.map(|b| b.value),
                idempotent: self.idempotent.map(|b| b.value),
                open_world: self.open_world.map(|b| b.value),
            },
            inline: self.inline,
        })
    }
}

fn set_once<T>(meta: &ParseNestedMeta<'_>, slot: &mut Option<T>, value: T) -> syn::Result<()> {
    if slot.is_some() {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        return Err(syn::Error::new_spanned(
            &meta.path,
            format!("duplicate key `{key}`: each key may appear once"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

/// Parses a flag: bare (`read_only`, which is `true`) or `key = true` / `key = false`.
fn flag_value(meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<LitBool> {
    let expected = format!("`{key}` takes `true` or `false`, or write it as a bare flag");
    if meta.input.is_empty() || meta.input.peek(syn::Token![,]) {
        return Ok(LitBool::new(true, meta.path.span()));
    }
    if !meta.input.peek(syn::Token![=]) {
        // `key(true)` and the like: point at what follows the key.
        let next: proc_macro2::TokenTree = meta.input.parse()?;
        return Err(syn::Error::new_spanned(next, expected));
    }
    match meta.value()?.parse::<Expr>()? {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Ok(b),
        other => Err(syn::Error::new_spanned(other, expected)),
    }
}

/// Parses `key = "..."`, with an error that shows the expected form when the value is not a string.
fn string_value(meta: &ParseNestedMeta<'_>, key: &str, example: &str) -> syn::Result<LitStr> {
    let expr: Expr = meta.value()?.parse()?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s),
        other => Err(syn::Error::new_spanned(
            other,
            format!("`{key}` must be a string literal, e.g. {key} = {example}"),
        )),
    }
}

fn timeout_value(meta: &ParseNestedMeta<'_>) -> syn::Result<LitInt> {
    let expr: Expr = meta.value()?.parse()?;
    let lit = match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => i,
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "`timeout` must be a whole number of seconds, e.g. timeout = 10",
            ));
        }
    };
    if !lit.suffix().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            "`timeout` takes an unsuffixed number of seconds, e.g. timeout = 10",
        ));
    }
    match lit.base10_parse::<u64>() {
        Ok(0) => Err(syn::Error::new(
            lit.span(),
            "`timeout` must be at least 1 second",
        )),
        Ok(secs) if secs > 86_400 => Err(syn::Error::new(
            lit.span(),
            "`timeout` must be at most 86400 seconds (one day)",
        )),
        Ok(_) => Ok(lit),
        Err(e) => Err(syn::Error::new(lit.span(), e)),
    }
}

/// Parses `rate_limit = N`: calls per minute, from 1 to 1,000,000.
fn rate_limit_value(meta: &ParseNestedMeta<'_>) -> syn::Result<LitInt> {
    const EXAMPLE: &str = "e.g. rate_limit = 30 for 30 calls per minute";
    let expr: Expr = meta.value()?.parse()?;
    let Expr::Lit(ExprLit {
        lit: Lit::Int(lit), ..
    }) = expr
    else {
        return Err(syn::Error::new_spanned(
            expr,
            format!("`rate_limit` must be a whole number of calls per minute, {EXAMPLE}"),
        ));
    };
    if !lit.suffix().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            format!("`rate_limit` takes an unsuffixed number, {EXAMPLE}"),
        ));
    }
    match lit.base10_parse::<u32>() {
        Ok(1..=1_000_000) => Ok(lit),
        _ => Err(syn::Error::new(
            lit.span(),
            "`rate_limit` must be between 1 and 1000000 calls per minute",
        )),
    }
}

fn scopes_value(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<LitStr>> {
    word_list(
        meta,
        &WordList {
            not_an_array: "`scopes` must be an array of string literals, e.g. scopes = [\"read\", \"write\"]",
            not_a_string: "each scope must be a string literal",
            blank: "a scope must be non-empty and contain no whitespace",
            same: |a, b| a == b,
            duplicate: |value| format!("duplicate scope \"{value}\""),
        },
    )
}

/// Parses `secrets = ["API_KEY", ...]`: each key non-empty, without whitespace, once (keys
/// match without regard to ASCII case, as Arcade's do).
fn secrets_value(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<LitStr>> {
    word_list(
        meta,
        &WordList {
            not_an_array: "`secrets` must be an array of string literals, e.g. secrets = [\"WEATHER_API_KEY\"]",
            not_a_string: "each secret key must be a string literal",
            blank: "a secret key must be non-empty and contain no whitespace",
            same: str::eq_ignore_ascii_case,
            duplicate: |value| {
                format!("duplicate secret \"{value}\" (keys match without regard to case)")
            },
        },
    )
}

/// What a list of words (`scopes`, `secrets`) says when it is not one.
struct WordList {
    not_an_array: &'static str,
    not_a_string: &'static str,
    blank: &'static str,
    /// Whether two words are the same one.
    same: fn(&str, &str) -> bool,
    duplicate: fn(&str) -> String,
}

/// Parses `key = ["word", ...]`: an array of string literals, each non-empty, without
/// whitespace, once.
fn word_list(meta: &ParseNestedMeta<'_>, list: &WordList) -> syn::Result<Vec<LitStr>> {
    let expr: Expr = meta.value()?.parse()?;
    let Expr::Array(ExprArray { elems, .. }) = expr else {
        return Err(syn::Error::new_spanned(expr, list.not_an_array));
    };
    let mut words: Vec<LitStr> = Vec::with_capacity(elems.len());
    for elem in elems {
        let Expr::Lit(ExprLit {
            lit: Lit::Str(word),
            ..
        }) = elem
        else {
            return Err(syn::Error::new_spanned(elem, list.not_a_string));
        };
        let value = word.value();
        if value.is_empty() || value.chars().any(char::is_whitespace) {
            return Err(syn::Error::new(word.span(), list.blank));
        }
        if words.iter().any(|w| (list.same)(&w.value(), &value)) {
            return Err(syn::Error::new(word.span(), (list.duplicate)(&value)));
        }
        words.push(word);
    }
    Ok(words)
}

/// Checks docs/ARCHITECTURE.md's tool-name pattern: `Toolkit.Tool`, each segment `[A-Za-z][A-Za-z0-9_]*`,
/// at most 64 characters in all.
fn check_tool_name(lit: &LitStr) -> syn::Result<()> {
    let name = lit.value();
    let fail = |why: String| {
        Err(syn::Error::new(
            lit.span(),
            format!(
                "invalid tool name \"{name}\": {why}; expected `Toolkit.Tool`, e.g. \"MyApp.Calculator\""
            ),
        ))
    };
    if name.len() > MAX_NAME_LEN {
        return fail(format!(
            "{} characters, at most {MAX_NAME_LEN} allowed",
            name.len()
        ));
    }
    let segments: Vec<&str> = name.split('.').collect();
    match segments.len() {
        1 => return fail("it has no `.` between toolkit and tool".to_owned()),
        2 => {}
        n => return fail(format!("it has {} `.`s, exactly one is allowed", n - 1)),
    }
    for segment in segments {
        let mut chars = segment.chars();
        match chars.next() {
            None => return fail("empty segment".to_owned()),
            Some(c) if !c.is_ascii_alphabetic() => {
                return fail(format!("segment `{segment}` must start with a letter"));
            }
            Some(_) => {}
        }
        if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
            return fail(format!(
                "segment `{segment}` contains {c:?}; only letters, digits and `_` are allowed"
            ));
        }
    }
    Ok(())
}

/// Versions are `MAJOR.MINOR.PATCH` numbers, as the seed's `version = "1.0.0"`.
fn check_version(lit: &LitStr) -> syn::Result<()> {
    let version = lit.value();
    let parts: Vec<&str> = version.split('.').collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if parts.len() == 3 && numeric {
        Ok(())
    } else {
        Err(syn::Error::new(
            lit.span(),
            format!("invalid version \"{version}\": expected MAJOR.MINOR.PATCH, e.g. \"1.0.0\""),
        ))
    }
}

#[cfg(test)]
mod contract_tests {
    include!("definition_cases.rs");

    use proc_macro2::Literal;
    use quote::quote;

    #[test]
    fn the_attribute_accepts_exactly_the_definitions_the_contract_accepts() {
        for case in DEFINITION_CASES {
            let DefinitionCase {
                name,
                version,
                timeout_secs,
                requires_auth,
                scopes,
                auth_provider,
                secrets,
                title,
                accepted,
            } = *case;
            let timeout = Literal::u64_unsuffixed(timeout_secs);
            let requires_auth = requires_auth.then(|| quote!(requires_auth,));
            let auth_provider = auth_provider.map(|provider| quote!(auth_provider = #provider,));
            let title = title.map(|title| quote!(title = #title,));
            let attr = quote! {
                name = #name, version = #version, timeout = #timeout,
                #requires_auth scopes = [#(#scopes),*], #auth_provider
                secrets = [#(#secrets),*], #title
            };
            let parsed = super::parse(attr);
            assert_eq!(
                parsed.is_ok(),
                accepted,
                "{case:?}: {:?}",
                parsed.err().map(|e| e.to_string())
            );
        }
    }
}
