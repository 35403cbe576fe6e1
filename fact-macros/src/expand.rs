//! Code generation for `#[tool]`.
//!
//! The annotated function is emitted unchanged (minus the parameter attributes that belong to the
//! schema), followed by an anonymous `const _: () = { ... };` block holding:
//! - `__FactArgs`, a struct with one field per schema parameter that derives `Deserialize` and
//!   `JsonSchema`, so that serde and schemars (not this macro) decide names, defaults and
//!   constraints;
//! - the erased call function the runtime invokes;
//! - the `inventory` registration.
//!
//! Everything is named through `<runtime>::__private`, where `<runtime>` is however the calling
//! crate spells `fact-runtime` (see [`runtime_path`]).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericArgument, GenericParam, Ident, ItemFn, LitStr, Pat, PathArguments,
    ReturnType, Type,
};

use crate::args::ToolArgs;

/// One parameter of the tool function as the schema sees it.
struct SchemaParam {
    ident: Ident,
    ty: Type,
    /// `///`, `#[serde(..)]` and `#[schemars(..)]` attributes moved onto the args struct field.
    attrs: Vec<Attribute>,
}

/// How the function receives the injected [`ToolContext`].
enum ContextParam {
    ByValue,
    ByRef,
}

enum Param {
    Schema(Box<SchemaParam>),
    Context(ContextParam),
}

/// Expands `#[tool(args)] item`.
pub(crate) fn expand(
    args: ToolArgs,
    mut item: ItemFn,
    rt: &TokenStream,
) -> syn::Result<TokenStream> {
    reject_unsupported_signature(&item)?;

    let mut params = Vec::with_capacity(item.sig.inputs.len());
    let mut context_seen: Option<Span> = None;
    for input in item.sig.inputs.iter_mut() {
        let param = classify_param(input)?;
        if let Param::Context(_) = param {
            if context_seen.is_some() {
                return Err(syn::Error::new_spanned(
                    &*input,
                    "a tool takes at most one `ToolContext` parameter",
                ));
            }
            context_seen = Some(input.span());
        }
        params.push(param);
    }

    let description = match &args.description {
        Some(lit) => lit.value(),
        None => doc_text(&item.attrs).ok_or_else(|| {
            syn::Error::new(
                item.sig.ident.span(),
                "a tool needs a description: add a `///` doc comment or `description = \"...\"`",
            )
        })?,
    };

    let private = quote!(#rt::__private);
    let fn_ident = &item.sig.ident;
    let is_async = item.sig.asyncness.is_some();

    let fields = params.iter().filter_map(|p| match p {
        Param::Schema(param) => {
            let SchemaParam { ident, ty, attrs } = &**param;
            Some(quote!(#(#attrs)* #ident: #ty))
        }
        Param::Context(_) => None,
    });
    let call_args = params.iter().map(|p| match p {
        Param::Schema(param) => {
            let ident = &param.ident;
            quote!(__args.#ident)
        }
        Param::Context(ContextParam::ByValue) => quote!(__ctx),
        Param::Context(ContextParam::ByRef) => quote!(&__ctx),
    });
    let serde_crate = LitStr::new(
        &format!("{private}::serde").replace(' ', ""),
        Span::call_site(),
    );
    let schemars_crate = LitStr::new(
        &format!("{private}::schemars").replace(' ', ""),
        Span::call_site(),
    );

    let blocking = !is_async;
    let (output_ty, returns_result) = output_type(&item.sig.output);
    // A success type that is not `Serialize` is reported on the return type, not the attribute.
    let output_span = match &item.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => item.sig.ident.span(),
    };
    // `__value`/`__out` must carry the same span, or rustc reports at the attribute again.
    let serialize_value = quote_spanned!(output_span=> #private::serialize_output(__value));
    let serialize_out = quote_spanned!(output_span=> #private::serialize_output(__out));
    let convert = if returns_result {
        quote! {
            match __out {
                ::core::result::Result::Ok(__value) => #serialize_value,
                ::core::result::Result::Err(__error) => {
                    #[allow(unused_imports)]
                    use #private::{ToolErrorFromDisplay as _, ToolErrorFromToolError as _};
                    ::core::result::Result::Err((&#private::ErrorProbe::new(__error)).take_tool_error())
                }
            }
        }
    } else {
        serialize_out
    };
    let output_schema = match output_ty {
        Some(ty) => quote! {
            #[allow(unused_imports)]
            use #private::{HasOutputSchema as _, NoOutputSchema as _};
            (&#private::OutputSchemaProbe::<#ty>::new()).output_schema()
        },
        None => quote!(::core::option::Option::None),
    };
    let invoke = if is_async {
        quote! {
            ::std::boxed::Box::pin(async move {
                let __args: __FactArgs = #private::parse_arguments(__arguments)?;
                let __out = #fn_ident(#(#call_args),*).await;
                #convert
            })
        }
    } else {
        quote! {
            ::std::boxed::Box::pin(#private::run_blocking(move || {
                let __args: __FactArgs = #private::parse_arguments(__arguments)?;
                let __out = #fn_ident(#(#call_args),*);
                #convert
            }))
        }
    };

    let name = &args.name;
    let version = &args.version;
    let timeout_secs = args.timeout_secs;
    let requires_auth = args.requires_auth;
    let scopes = &args.scopes;
    let rate_limit = args.rate_limit;
    let fn_name = fn_ident.to_string();
    let name_span = name.span();
    let registration = quote_spanned! {name_span=>
        #private::inventory::submit! {
            #private::ToolRegistration {
                name: #name,
                description: #description,
                version: #version,
                timeout_secs: #timeout_secs,
                requires_auth: #requires_auth,
                scopes: &[#(#scopes),*],
                rate_limit_per_minute: #rate_limit,
                blocking: #blocking,
                input_schema: __fact_input_schema,
                output_schema: __fact_output_schema,
                call: __fact_call,
                defined_at: #private::SourceLocation {
                    module_path: ::core::module_path!(),
                    function: #fn_name,
                    file: ::core::file!(),
                    line: ::core::line!(),
                },
            }
        }
    };

    Ok(quote! {
        #item

        #[doc(hidden)]
        const _: () = {
            #[derive(#private::serde::Deserialize, #private::schemars::JsonSchema)]
            #[serde(crate = #serde_crate, deny_unknown_fields)]
            #[schemars(crate = #schemars_crate)]
            #[allow(non_camel_case_types, dead_code)]
            struct __FactArgs {
                #(#fields,)*
            }

            fn __fact_input_schema() -> #private::serde_json::Value {
                #private::input_schema::<__FactArgs>()
            }

            fn __fact_output_schema() -> ::core::option::Option<#private::serde_json::Value> {
                #output_schema
            }

            fn __fact_call(
                __ctx: #rt::ToolContext,
                __arguments: #private::serde_json::Value,
            ) -> #private::ToolFuture {
                #invoke
            }

            #registration
        };
    })
}

/// Refuses what a tool function cannot be: a method, generic, `const`, `unsafe`, `extern` or
/// variadic function.
fn reject_unsupported_signature(item: &ItemFn) -> syn::Result<()> {
    let sig = &item.sig;
    if let Some(FnArg::Receiver(receiver)) = sig.inputs.first() {
        return Err(syn::Error::new_spanned(
            receiver,
            "#[tool] functions cannot take `self`: make it a free function and pass state through arguments or the ToolContext",
        ));
    }
    if let Some(param) = sig
        .generics
        .params
        .iter()
        .find(|p| !matches!(p, GenericParam::Lifetime(_)))
    {
        return Err(syn::Error::new_spanned(
            param,
            "#[tool] functions cannot be generic: the schema is derived from concrete parameter types",
        ));
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        return Err(syn::Error::new_spanned(
            where_clause,
            "#[tool] functions cannot have a where clause",
        ));
    }
    if let Some(token) = &sig.constness {
        return Err(syn::Error::new_spanned(
            token,
            "#[tool] cannot be used on a `const fn`",
        ));
    }
    if let Some(token) = &sig.unsafety {
        return Err(syn::Error::new_spanned(
            token,
            "#[tool] cannot be used on an `unsafe fn`",
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(syn::Error::new_spanned(
            abi,
            "#[tool] cannot be used on an `extern` function",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(syn::Error::new_spanned(
            variadic,
            "#[tool] functions cannot be variadic",
        ));
    }
    Ok(())
}

/// Sorts a parameter into schema parameter or injected context, moving its schema attributes off
/// the function (rustc rejects `///` and `#[serde]` on parameters).
fn classify_param(input: &mut FnArg) -> syn::Result<Param> {
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
    let (attrs, kept): (Vec<Attribute>, Vec<Attribute>) =
        pat_type.attrs.drain(..).partition(is_schema_attr);
    pat_type.attrs = kept;
    Ok(Param::Schema(Box::new(SchemaParam {
        ident,
        ty: (*pat_type.ty).clone(),
        attrs,
    })))
}

/// The function with the parameter attributes that only the schema understands removed, so that a
/// failed expansion reports its own error and not rustc's complaints about `///` on parameters.
pub(crate) fn without_schema_attrs(mut item: ItemFn) -> ItemFn {
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

/// Joins the `///` lines of the function into its description, keeping paragraph breaks.
fn doc_text(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| line.trim().to_owned())
        .collect();
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// The success type `T` of `T` or `Result<T, E>` (any path ending in `Result`, so
/// `anyhow::Result<T>` and `io::Result<T>` count), and whether the function returns a `Result`.
/// `None` when `T` cannot be named (`impl Trait`), in which case no output schema is derived.
fn output_type(output: &ReturnType) -> (Option<Type>, bool) {
    let ty = match output {
        ReturnType::Default => return (Some(syn::parse_quote!(())), false),
        ReturnType::Type(_, ty) => &**ty,
    };
    if let Type::Path(path) = ty
        && let Some(last) = path.path.segments.last()
        && last.ident == "Result"
        && let PathArguments::AngleBracketed(generics) = &last.arguments
    {
        let ok = generics.args.iter().find_map(|arg| match arg {
            GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        });
        return (ok.filter(nameable), true);
    }
    (Some(ty.clone()).filter(nameable), false)
}

fn nameable(ty: &Type) -> bool {
    !matches!(ty, Type::ImplTrait(_) | Type::Infer(_))
}

/// How the calling crate names `fact-runtime`: `::fact_runtime` normally, `::fact` after
/// `fact = { package = "fact-runtime" }`, and `::fact_runtime` inside fact-runtime itself (its
/// lib.rs declares `extern crate self as fact_runtime`, and its doctests depend on it by name).
pub(crate) fn runtime_path() -> syn::Result<TokenStream> {
    use proc_macro_crate::{FoundCrate, crate_name};
    match crate_name("fact-runtime") {
        Ok(FoundCrate::Itself) => Ok(quote!(::fact_runtime)),
        Ok(FoundCrate::Name(name)) => {
            let ident = format_ident!("{}", name);
            Ok(quote!(::#ident))
        }
        Err(_) => Err(syn::Error::new(
            Span::call_site(),
            "#[tool] needs the `fact-runtime` crate: add `fact-runtime` to [dependencies] in Cargo.toml",
        )),
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use super::expand;
    use crate::args::parse as parse_args;

    fn parse_error(attr: TokenStream) -> Option<String> {
        parse_args(attr).err().map(|e| e.to_string())
    }

    #[test]
    fn expansion_of_a_representative_tool() -> syn::Result<()> {
        let args = parse_args(quote! {
            name = "MyApp.Calculator", timeout = 10, scopes = ["calc.read", "calc.write"]
        })?;
        let item: syn::ItemFn = syn::parse2(quote! {
            /// Performs basic arithmetic on two numbers.
            pub async fn calculator(
                /// The operation to perform
                operation: Operation,
                /// How many decimal places to round to
                #[schemars(range(min = 0, max = 10))]
                precision: u8,
                ctx: &ToolContext,
            ) -> Result<Calculation, ToolError> {
                let _ = ctx;
                Calculation::new(operation, precision)
            }
        })?;
        let tokens = expand(args, item, &quote!(::fact_runtime))?;
        let file = syn::parse2::<syn::File>(tokens)?;
        insta::assert_snapshot!(prettyplease::unparse(&file));
        Ok(())
    }

    #[test]
    fn an_unknown_key_is_rejected_naming_the_keys() {
        assert_eq!(
            parse_error(quote!(name = "MyApp.Add", timeout_secs = 10)),
            Some(
                "unknown key `timeout_secs`; expected one of `name`, `description`, `timeout`, \
                 `requires_auth`, `scopes`, `version`, `rate_limit`"
                    .to_owned()
            )
        );
    }

    #[test]
    fn a_duplicate_key_is_rejected() {
        assert_eq!(
            parse_error(quote!(
                name = "MyApp.Add",
                version = "1.0.0",
                version = "2.0.0"
            )),
            Some("duplicate key `version`: each key may appear once".to_owned())
        );
    }

    #[test]
    fn a_missing_name_is_rejected() {
        assert_eq!(
            parse_error(quote!(timeout = 10)),
            Some("missing key `name`: write #[tool(name = \"MyApp.MyTool\")]".to_owned())
        );
    }
}
