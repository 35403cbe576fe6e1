//! The parameters of a `#[tool]` function: which are schema parameters and which is the injected
//! `ToolContext`, and what each schema parameter's `#[serde(..)]` and `#[schemars(..)]`
//! attributes ask for.
//!
//! The generated arguments struct sees each parameter's type only as an associated type (see
//! `signature.rs`), so the attributes that name a function of the parameter's type (`default`,
//! `deserialize_with`, `with`) are read here and turned into functions of the tool's signature;
//! every other attribute is passed on untouched.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, ExprPath, FnArg, Ident, Lit, LitStr, Meta, Pat, Token, Type};

/// One parameter of the tool function.
pub(crate) enum Param {
    Schema(Box<SchemaParam>),
    Context(ContextParam),
}

/// How the function receives the injected `ToolContext`.
pub(crate) enum ContextParam {
    ByValue,
    ByRef,
}

/// A parameter that is a property of the input schema.
pub(crate) struct SchemaParam {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
    /// `///` comments and the attributes serde and schemars read as they are.
    pub(crate) attrs: Vec<TokenStream>,
    /// Where serde takes the value when the argument is left out (`#[serde(default)]`, or
    /// `skip`).
    pub(crate) default: Option<DefaultValue>,
    /// The default the input schema shows: schemars' own `default`, else serde's.
    pub(crate) schema_default: Option<DefaultValue>,
    /// `#[serde(deserialize_with = "path")]`, or `with = "module"` as `module::deserialize`.
    pub(crate) deserialize_with: Option<ExprPath>,
}

/// Where a default comes from.
#[derive(Clone)]
pub(crate) enum DefaultValue {
    /// `default`: the type's `Default`.
    Default,
    /// `default = "path"`: a function.
    Function(ExprPath),
}

/// Sorts a parameter into schema parameter or injected context, moving its schema attributes off
/// the function (rustc rejects `///` and `#[serde]` on parameters).
pub(crate) fn classify_param(input: &mut FnArg) -> syn::Result<Param> {
    let FnArg::Typed(pat_type) = input else {
        // Receivers were refused before.
        return Err(syn::Error::new(
            input.span(),
            "#[tool] functions cannot take `self`",
        ));
    };
    if let Some(context) = context_kind(&pat_type.ty) {
        if let Some(attr) = pat_type.attrs.iter().find(|a| is_schema_attr(a)) {
            return Err(syn::Error::new_spanned(
                attr,
                "the `ToolContext` parameter is injected, not part of the schema: remove this doc comment or attribute",
            ));
        }
        return Ok(Param::Context(context));
    }
    let ident = match &*pat_type.pat {
        Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => pat.ident.clone(),
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "#[tool] parameters must be plain names (the name is the JSON parameter): write `point: Point` and destructure in the body",
            ));
        }
    };
    if ident.to_string().starts_with("__") {
        return Err(syn::Error::new_spanned(
            &ident,
            "#[tool] parameter names starting with `__` are reserved",
        ));
    }
    if let Type::Reference(reference) = &*pat_type.ty
        && reference.mutability.is_some()
        && matches!(&*reference.elem, Type::Path(path) if is_context_path(path))
    {
        return Err(syn::Error::new_spanned(
            reference,
            "the `ToolContext` is shared, not exclusive: take `&ToolContext` or `ToolContext`",
        ));
    }
    if let Type::ImplTrait(impl_trait) = &*pat_type.ty {
        return Err(syn::Error::new_spanned(
            impl_trait,
            "#[tool] parameters need a concrete type to derive the schema from: replace `impl Trait` with a type",
        ));
    }
    if let Type::Reference(reference) = &*pat_type.ty {
        return Err(syn::Error::new_spanned(
            reference,
            "#[tool] parameters are deserialized from JSON and must be owned: use `String` for `&str`, `Vec<T>` for `&[T]`",
        ));
    }
    let (schema_attrs, kept): (Vec<Attribute>, Vec<Attribute>) =
        pat_type.attrs.drain(..).partition(is_schema_attr);
    pat_type.attrs = kept;
    let mut param = SchemaParam {
        ident,
        ty: (*pat_type.ty).clone(),
        attrs: Vec::with_capacity(schema_attrs.len()),
        default: None,
        schema_default: None,
        deserialize_with: None,
    };
    read_schema_attrs(&mut param, schema_attrs)?;
    Ok(Param::Schema(Box::new(param)))
}

/// Sorts `attrs` (`///`, `#[serde]`, `#[schemars]`) into those passed on as written and the
/// functions of the parameter's type they name.
fn read_schema_attrs(param: &mut SchemaParam, attrs: Vec<Attribute>) -> syn::Result<()> {
    let mut serde_default = None;
    let mut schemars_default = None;
    let mut skipped = false;
    for attr in attrs {
        let owner = if attr.path().is_ident("serde") {
            Owner::Serde
        } else if attr.path().is_ident("schemars") {
            Owner::Schemars
        } else {
            param.attrs.push(attr.into_token_stream());
            continue;
        };
        let Ok(metas) = attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
        else {
            // Not for this macro to judge: serde or schemars will say what is wrong.
            param.attrs.push(attr.into_token_stream());
            continue;
        };
        let mut kept = Vec::with_capacity(metas.len());
        for meta in metas {
            let key = meta.path().get_ident().map(ToString::to_string);
            match (owner, key.as_deref()) {
                (Owner::Serde, Some("default")) => {
                    set_once(&meta, &mut serde_default, default_value(&meta)?, DEFAULT)?;
                }
                (Owner::Schemars, Some("default")) => {
                    set_once(&meta, &mut schemars_default, default_value(&meta)?, DEFAULT)?;
                }
                (Owner::Serde, Some("deserialize_with")) => {
                    let path = function_path(&meta, "deserialize_with", "\"parse_duration\"")?;
                    set_once(&meta, &mut param.deserialize_with, path, DESERIALIZER)?;
                }
                (Owner::Serde, Some("with")) => {
                    let module = function_path(&meta, "with", "\"duration_text\"")?;
                    let path = syn::parse_quote_spanned!(module.span()=> #module::deserialize);
                    set_once(&meta, &mut param.deserialize_with, path, DESERIALIZER)?;
                }
                (Owner::Serde, Some("skip" | "skip_deserializing")) => {
                    skipped = true;
                    kept.push(meta);
                }
                _ => kept.push(meta),
            }
        }
        if !kept.is_empty() {
            let path = attr.path();
            param.attrs.push(quote!(#[#path(#(#kept),*)]));
        }
    }
    // A skipped parameter takes its default from `Default` unless it names one, as serde does;
    // schemars leaves it out of the schema.
    param.default = match serde_default {
        None if skipped => Some(DefaultValue::Default),
        serde_default => serde_default,
    };
    param.schema_default = match schemars_default {
        Some(schemars_default) => Some(schemars_default),
        None if skipped => None,
        None => param.default.clone(),
    };
    Ok(())
}

#[derive(Clone, Copy)]
enum Owner {
    Serde,
    Schemars,
}

const DEFAULT: &str = "a `default`";
const DESERIALIZER: &str = "a `deserialize_with` or `with`";

fn set_once<T>(meta: &Meta, slot: &mut Option<T>, value: T, what: &str) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new_spanned(
            meta.path(),
            format!("this parameter already has {what}: keep one"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

/// `default` or `default = "path"`.
fn default_value(meta: &Meta) -> syn::Result<DefaultValue> {
    match meta {
        Meta::Path(_) => Ok(DefaultValue::Default),
        _ => function_path(meta, "default", "\"two\"").map(DefaultValue::Function),
    }
}

/// The path in `key = "path"`, parsed as serde parses it.
fn function_path(meta: &Meta, key: &str, example: &str) -> syn::Result<ExprPath> {
    let expected = || {
        syn::Error::new_spanned(
            meta,
            format!("`{key}` takes a path as a string, e.g. {key} = {example}"),
        )
    };
    let Meta::NameValue(name_value) = meta else {
        return Err(expected());
    };
    let Expr::Lit(ExprLit {
        lit: Lit::Str(path),
        ..
    }) = &name_value.value
    else {
        return Err(expected());
    };
    parse_path(path)
}

fn parse_path(path: &LitStr) -> syn::Result<ExprPath> {
    path.parse::<ExprPath>()
        .map_err(|_| syn::Error::new(path.span(), format!("\"{}\" is not a path", path.value())))
}

/// The function with the parameter attributes that only the schema understands removed, so that a
/// failed expansion reports its own error and not rustc's complaints about `///` on parameters.
pub(crate) fn without_schema_attrs(mut item: syn::ItemFn) -> syn::ItemFn {
    for input in item.sig.inputs.iter_mut() {
        if let FnArg::Typed(pat_type) = input {
            pat_type.attrs.retain(|a| !is_schema_attr(a));
        }
    }
    item
}

fn is_schema_attr(attr: &Attribute) -> bool {
    ["doc", "serde", "schemars"]
        .iter()
        .any(|name| attr.path().is_ident(name))
}

/// `ToolContext` (by value) or `&ToolContext`, matched by the type's last path segment so that
/// `fact_runtime::ToolContext` and an imported `ToolContext` both work.
fn context_kind(ty: &Type) -> Option<ContextParam> {
    match ty {
        Type::Path(path) if is_context_path(path) => Some(ContextParam::ByValue),
        Type::Reference(reference) if reference.mutability.is_none() => match &*reference.elem {
            Type::Path(path) if is_context_path(path) => Some(ContextParam::ByRef),
            _ => None,
        },
        _ => None,
    }
}

fn is_context_path(path: &syn::TypePath) -> bool {
    path.qself.is_none()
        && path
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "ToolContext" && s.arguments.is_empty())
}
