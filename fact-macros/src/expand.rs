//! Code generation for `#[tool]`.
//!
//! The annotated function is emitted unchanged (minus the parameter attributes that belong to the
//! schema), followed by an anonymous `const _: () = { ... };` block holding:
//! - the tool's signature as types, and `__FactArgs`, a struct with one field per schema
//!   parameter that derives `Deserialize` and `JsonSchema`, so that serde and schemars (not this
//!   macro) decide names, defaults and constraints (`signature.rs`);
//! - the erased call function the runtime invokes;
//! - the `inventory` registration.
//!
//! Everything is named through `<runtime>::__private`, where `<runtime>` is however the calling
//! crate spells `fact-runtime` (see [`runtime_path`]).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericArgument, GenericParam, ItemFn, PathArguments, ReturnType, Type,
};

use crate::args::{Annotations, ToolArgs};
use crate::params::{ContextParam, Param, classify_param};
use crate::signature::{
    SignatureInput, input_schema_call, parse_call, serialize_call, signature_items,
};

/// Expands `#[tool(args)] item`.
pub(crate) fn expand(
    args: ToolArgs,
    mut item: ItemFn,
    rt: &TokenStream,
) -> syn::Result<TokenStream> {
    reject_unsupported_signature(&item)?;
    let is_async = item.sig.asyncness.is_some();
    let inline = inline_run(&args, is_async)?;

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

    let (output_ty, returns_result) = output_type(&item.sig.output);
    let signature = signature_items(&SignatureInput {
        private: &private,
        params: params
            .iter()
            .filter_map(|p| match p {
                Param::Schema(param) => Some(&**param),
                Param::Context(_) => None,
            })
            .collect(),
        output: output_ty.as_ref(),
        fn_span: fn_ident.span(),
    });

    // The schema parameters arrive as a tuple, in order; the context is passed as taken.
    let mut schema_params = (0..).map(syn::Index::from);
    let call_args: Vec<TokenStream> = params
        .iter()
        .map(|p| match p {
            Param::Schema(_) => {
                let index = schema_params.next();
                quote!(__params.#index)
            }
            Param::Context(ContextParam::ByValue) => quote!(__ctx),
            Param::Context(ContextParam::ByRef) => quote!(&__ctx),
        })
        .collect();

    let blocking = !is_async;
    // A success type that can be named was checked by the signature's bound. One that cannot
    // (`impl Serialize`) is serialized where it is, and a failure reported on the return type,
    // not the attribute.
    let output_span = match &item.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => item.sig.ident.span(),
    };
    let serialize = |value: TokenStream| match &output_ty {
        Some(_) => serialize_call(&value),
        None => quote_spanned!(output_span=> #private::serialize_output(#value)),
    };
    let serialize_value = serialize(quote!(__value));
    let serialize_out = serialize(quote!(__out));
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
    let output_schema = match &output_ty {
        Some(ty) => quote! {
            #[allow(unused_imports)]
            use #private::{HasOutputSchema as _, NoOutputSchema as _};
            (&#private::OutputSchemaProbe::<#ty>::new()).output_schema()
        },
        None => quote!(::core::option::Option::None),
    };
    let arguments = format_ident!("__arguments");
    let parse = parse_call(&arguments);
    let invoke = if is_async {
        quote! {
            ::std::boxed::Box::pin(async move {
                let __params = #parse?;
                let __out = #fn_ident(#(#call_args),*).await;
                #convert
            })
        }
    } else if inline {
        // The deadline is read before the closure takes the context.
        quote! {
            ::std::boxed::Box::pin(#private::run_inline(&__FACT_INLINE, __ctx.deadline(), move || {
                let __params = #parse?;
                let __out = #fn_ident(#(#call_args),*);
                #convert
            }))
        }
    } else {
        quote! {
            ::std::boxed::Box::pin(#private::run_blocking(move || {
                let __params = #parse?;
                let __out = #fn_ident(#(#call_args),*);
                #convert
            }))
        }
    };
    let input_schema = input_schema_call();

    let name = &args.name;
    let timeout_secs = args.timeout_secs;
    // An inline tool's run state: whether a run overran the budget, for the rest of the process.
    let inline_state = inline.then(|| {
        quote! {
            static __FACT_INLINE: #private::InlineTool = #private::InlineTool::new(#name, #timeout_secs);
        }
    });
    let title = match &args.title {
        Some(title) => quote!(::core::option::Option::Some(#title)),
        None => quote!(::core::option::Option::None),
    };
    let version = &args.version;
    let requires_auth = args.requires_auth;
    let scopes = &args.scopes;
    let auth_provider = match &args.auth_provider {
        Some(provider) => quote!(::core::option::Option::Some(#provider)),
        None => quote!(::core::option::Option::None),
    };
    let secrets = &args.secrets;
    let rate_limit = args.rate_limit;
    let annotations = annotations(&args.annotations, &private);
    let fn_name = fn_ident.to_string();
    let name_span = name.span();
    let registration = quote_spanned! {name_span=>
        #private::inventory::submit! {
            #private::ToolRegistration {
                name: #name,
                title: #title,
                description: #description,
                version: #version,
                timeout_secs: #timeout_secs,
                requires_auth: #requires_auth,
                scopes: &[#(#scopes),*],
                auth_provider: #auth_provider,
                secrets: &[#(#secrets),*],
                rate_limit_per_minute: #rate_limit,
                annotations: #annotations,
                blocking: #blocking,
                inline: #inline,
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
            #signature

            fn __fact_input_schema() -> #private::serde_json::Value {
                #input_schema
            }

            fn __fact_output_schema() -> ::core::option::Option<#private::serde_json::Value> {
                #output_schema
            }

            #inline_state

            fn __fact_call(
                __ctx: #rt::ToolContext,
                #arguments: #private::serde_json::Value,
            ) -> #private::ToolFuture {
                #invoke
            }

            #registration
        };
    })
}

/// Whether the tool runs inline: `inline` (or `inline = true`), on a sync function only. An
/// async function is refused, on the key: it runs on the async workers already.
fn inline_run(args: &ToolArgs, is_async: bool) -> syn::Result<bool> {
    match &args.inline {
        Some(flag) if flag.value => {
            if is_async {
                return Err(syn::Error::new(
                    flag.span(),
                    "`inline` is for a sync `fn`: an async tool already runs on the async \
                     workers; remove `inline`",
                ));
            }
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// The `ToolAnnotations` literal of the registration.
fn annotations(annotations: &Annotations, private: &TokenStream) -> TokenStream {
    let hint = |value: Option<bool>| match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    };
    let read_only = hint(annotations.read_only);
    let destructive = hint(annotations.destructive);
    let idempotent = hint(annotations.idempotent);
    let open_world = hint(annotations.open_world);
    quote! {
        #private::ToolAnnotations {
            read_only: #read_only,
            destructive: #destructive,
            idempotent: #idempotent,
            open_world: #open_world,
        }
    }
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
            name = "MyApp.Calculator", title = "Calculator", timeout = 10,
            scopes = ["calc.read", "calc.write"], read_only, idempotent = true, open_world = false
        })?;
        let item: syn::ItemFn = syn::parse2(quote! {
            /// Performs basic arithmetic on two numbers.
            pub async fn calculator(
                /// The operation to perform
                operation: Operation,
                /// How many decimal places to round to
                #[schemars(range(min = 0, max = 10))]
                #[serde(default)]
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
    fn expansion_of_an_inline_sync_tool() -> syn::Result<()> {
        let args = parse_args(quote!(name = "MyApp.Add", inline))?;
        let item: syn::ItemFn = syn::parse2(quote! {
            /// Adds two numbers.
            fn add(a: i64, b: i64) -> i64 {
                a + b
            }
        })?;
        let tokens = expand(args, item, &quote!(::fact_runtime))?;
        let file = syn::parse2::<syn::File>(tokens)?;
        insta::assert_snapshot!(prettyplease::unparse(&file));
        Ok(())
    }

    #[test]
    fn inline_on_an_async_fn_is_refused() -> syn::Result<()> {
        let args = parse_args(quote!(name = "MyApp.Add", inline))?;
        let item: syn::ItemFn = syn::parse2(quote! {
            /// Adds two numbers.
            async fn add(a: i64, b: i64) -> i64 {
                a + b
            }
        })?;
        let refused = expand(args, item, &quote!(::fact_runtime)).err();
        assert_eq!(
            refused.map(|error| error.to_string()),
            Some(
                "`inline` is for a sync `fn`: an async tool already runs on the async workers; \
                 remove `inline`"
                    .to_owned()
            )
        );
        Ok(())
    }

    #[test]
    fn inline_is_a_bare_flag_or_a_boolean() -> syn::Result<()> {
        let flag = |attr| parse_args(attr).map(|args| args.inline.map(|lit| lit.value));
        assert_eq!(flag(quote!(name = "MyApp.Add", inline))?, Some(true));
        assert_eq!(
            flag(quote!(name = "MyApp.Add", inline = false))?,
            Some(false)
        );
        assert_eq!(flag(quote!(name = "MyApp.Add"))?, None);
        assert_eq!(
            parse_error(quote!(name = "MyApp.Add", inline = 1)),
            Some("`inline` takes `true` or `false`, or write it as a bare flag".to_owned())
        );
        Ok(())
    }

    #[test]
    fn an_unknown_key_is_rejected_naming_the_keys() {
        assert_eq!(
            parse_error(quote!(name = "MyApp.Add", timeout_secs = 10)),
            Some(
                "unknown key `timeout_secs`; expected one of `name`, `title`, `description`, \
                 `timeout`, `requires_auth`, `scopes`, `auth_provider`, `secrets`, `version`, \
                 `rate_limit`, `read_only`, `destructive`, `idempotent`, `open_world`, `inline`"
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
    fn annotation_keys_are_bare_flags_or_booleans_and_left_out_is_undeclared() -> syn::Result<()> {
        let args = parse_args(quote!(
            name = "MyApp.Add",
            read_only,
            destructive = false,
            idempotent = true
        ))?;
        let annotations = args.annotations;
        assert_eq!(
            (
                annotations.read_only,
                annotations.destructive,
                annotations.idempotent,
                annotations.open_world
            ),
            (Some(true), Some(false), Some(true), None)
        );
        Ok(())
    }

    #[test]
    fn an_annotation_key_refuses_anything_but_a_boolean() {
        assert_eq!(
            parse_error(quote!(name = "MyApp.Add", open_world = "no")),
            Some("`open_world` takes `true` or `false`, or write it as a bare flag".to_owned())
        );
    }

    #[test]
    fn a_blank_title_is_rejected() {
        assert_eq!(
            parse_error(quote!(name = "MyApp.Add", title = " ")),
            Some("`title` must not be empty".to_owned())
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
