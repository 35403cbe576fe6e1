//! The tool's signature as types: each parameter's type, and the success type, checked once
//! where the user wrote it, and the arguments struct that serde and schemars derive from.
//!
//! A parameter type without `Deserialize` and `JsonSchema` must be one error, on that type, saying
//! what a tool needs. So the types are named once, in an impl of a trait whose associated types
//! are bounded by `__private::ToolParameter` (and `ToolOutput` for the success type):
//!
//! ```text
//! trait __FactSignature { type point: ToolParameter; type __FactOutput: ToolOutput; ... }
//! impl __FactSignature for __FactChecked { type point = Point; type __FactOutput = Area; ... }
//! struct __FactArgs<__S: __FactSignature> {
//!     point: <<__S as __FactSignature>::point as ToolParameter>::Checked,
//! }
//! ```
//!
//! The impl is where rustc checks each bound: the only place it reports a bad type. The derived
//! code is generic over `__S`, so it reaches a parameter's `Deserialize` and `JsonSchema` through
//! `ToolParameter::Checked`, never the type itself, and has nothing of its own to report. The
//! concrete code (the call) only asks for `__FactChecked: __FactSignature`, which holds.
//!
//! Attributes that name functions of a parameter's type (`default`, `deserialize_with`, `with`,
//! read by `params.rs`) become methods: the concrete function in the impl, and in the trait a
//! generic one that serde's or schemars' attribute names (`"<__S as
//! __FactSignature>::__checked_default_times"`).

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote};
use syn::{Ident, LitStr, Type};

use crate::params::{DefaultValue, SchemaParam};

/// What the signature needs besides the parameters.
pub(crate) struct SignatureInput<'a> {
    /// `<runtime>::__private`.
    pub(crate) private: &'a TokenStream,
    pub(crate) params: Vec<&'a SchemaParam>,
    /// The success type when it can be named (not `impl Trait`).
    pub(crate) output: Option<&'a Type>,
    /// Where the success type's bound is reported from: the function's name.
    pub(crate) fn_span: Span,
}

/// The trait, its impl and the arguments struct.
pub(crate) fn signature_items(input: &SignatureInput<'_>) -> TokenStream {
    let private = input.private;
    let tool_parameter = quote!(#private::ToolParameter);
    let mut trait_types = Vec::new();
    let mut impl_types = Vec::new();
    let mut trait_fns = Vec::new();
    let mut impl_fns = Vec::new();
    let mut fields = Vec::new();
    for param in &input.params {
        let SchemaParam { ident, ty, .. } = *param;
        // The bound is shown in rustc's note "required by a bound in `__FactSignature::point`":
        // at the parameter's name.
        let bound = respanned(tool_parameter.clone(), ident.span());
        trait_types.push(quote!(type #ident: #bound;));
        impl_types.push(quote!(type #ident = #ty;));
        let (traits, impls, attrs) = attribute_functions(param, private);
        trait_fns.extend(traits);
        impl_fns.extend(impls);
        let user_attrs = &param.attrs;
        fields.push(quote! {
            #(#user_attrs)*
            #(#attrs)*
            #ident: <<__S as __FactSignature>::#ident as #tool_parameter>::Checked
        });
    }
    let idents: Vec<&Ident> = input.params.iter().map(|p| &p.ident).collect();
    if let Some(ty) = input.output {
        // Both shown in rustc's note on a success type that is not `Serialize`: at the
        // function's name, not the attribute.
        let bound = respanned(quote!(#private::ToolOutput), input.fn_span);
        let output = Ident::new("__FactOutput", input.fn_span);
        trait_types.push(quote!(type #output: #bound;));
        impl_types.push(quote!(type __FactOutput = #ty;));
        trait_fns.push(quote! {
            fn __fact_serialize(
                output: Self::__FactOutput,
            ) -> ::core::result::Result<#private::serde_json::Value, #private::ToolError> {
                #private::ToolOutput::serialize_output(output)
            }
        });
    }
    // With no parameter, `__S` would be unused.
    let marker = idents.is_empty().then(|| {
        quote! {
            #[serde(skip)]
            __fact_signature: ::core::marker::PhantomData<fn() -> __S>,
        }
    });
    let serde_crate = crate_string(private, "serde");
    let schemars_crate = crate_string(private, "schemars");

    quote! {
        #[allow(non_camel_case_types)]
        trait __FactSignature: ::core::marker::Sized {
            #(#trait_types)*

            fn __fact_parse(
                arguments: #private::serde_json::Value,
            ) -> ::core::result::Result<(#(Self::#idents,)*), #private::ToolError> {
                let __args: __FactArgs<Self> = #private::parse_arguments(arguments)?;
                ::core::result::Result::Ok((
                    #(#tool_parameter::from_checked(__args.#idents),)*
                ))
            }

            fn __fact_input_schema() -> #private::serde_json::Value {
                #private::input_schema::<__FactArgs<Self>>()
            }

            #(#trait_fns)*
        }

        enum __FactChecked {}

        #[allow(non_camel_case_types)]
        impl __FactSignature for __FactChecked {
            #(#impl_types)*
            #(#impl_fns)*
        }

        #[derive(#private::serde::Deserialize, #private::schemars::JsonSchema)]
        #[serde(crate = #serde_crate, deny_unknown_fields, bound = "")]
        #[schemars(crate = #schemars_crate, bound = "")]
        #[allow(non_camel_case_types, dead_code)]
        struct __FactArgs<__S: __FactSignature> {
            #(#fields,)*
            #marker
        }
    }
}

/// The methods standing for `param`'s `default`, schema default and `deserialize_with`, in the
/// trait and in the impl, and the attributes naming them on the field.
fn attribute_functions(
    param: &SchemaParam,
    private: &TokenStream,
) -> (Vec<TokenStream>, Vec<TokenStream>, Vec<TokenStream>) {
    let SchemaParam { ident, ty, .. } = param;
    let tool_parameter = quote!(#private::ToolParameter);
    let serde = quote!(#private::serde);
    let mut traits = Vec::new();
    let mut impls = Vec::new();
    let mut attrs = Vec::new();
    if let Some(default) = &param.default {
        let concrete = format_ident!("__default_{}", ident);
        let checked = format_ident!("__checked_default_{}", ident);
        let value = default_expr(default, ty);
        traits.push(quote! {
            fn #concrete() -> Self::#ident;

            fn #checked() -> <Self::#ident as #tool_parameter>::Checked {
                #tool_parameter::into_checked(Self::#concrete())
            }
        });
        impls.push(quote!(fn #concrete() -> #ty { #value }));
        let path = signature_method(&checked);
        attrs.push(quote!(#[serde(default = #path)]));
    }
    if let Some(default) = &param.schema_default {
        let method = format_ident!("__schema_default_{}", ident);
        let value = default_expr(default, ty);
        traits.push(quote!(fn #method() -> #private::SchemaDefault;));
        impls.push(quote! {
            fn #method() -> #private::SchemaDefault {
                #[allow(unused_imports)]
                use #private::{SerializableDefault as _, UnserializableDefault as _};
                (&#private::SchemaDefaultProbe(#value)).schema_default()
            }
        });
        let path = signature_method(&method);
        attrs.push(quote!(#[schemars(default = #path)]));
    }
    if let Some(function) = &param.deserialize_with {
        let concrete = format_ident!("__deserialize_{}", ident);
        let checked = format_ident!("__checked_deserialize_{}", ident);
        traits.push(quote! {
            fn #concrete<'de, D: #serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self::#ident, D::Error>;

            fn #checked<'de, D: #serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<<Self::#ident as #tool_parameter>::Checked, D::Error> {
                Self::#concrete(deserializer).map(#tool_parameter::into_checked)
            }
        });
        impls.push(quote! {
            fn #concrete<'de, D: #serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<#ty, D::Error> {
                #function(deserializer)
            }
        });
        let path = signature_method(&checked);
        attrs.push(quote!(#[serde(deserialize_with = #path)]));
    }
    (traits, impls, attrs)
}

fn default_expr(default: &DefaultValue, ty: &Type) -> TokenStream {
    match default {
        DefaultValue::Default => quote!(<#ty as ::core::default::Default>::default()),
        DefaultValue::Function(path) => quote!(#path()),
    }
}

/// `"<__S as __FactSignature>::method"`, as an attribute of the arguments struct names it.
fn signature_method(method: &Ident) -> LitStr {
    LitStr::new(
        &format!("<__S as __FactSignature>::{method}"),
        Span::call_site(),
    )
}

/// `"<runtime>::__private::serde"` for serde's and schemars' `crate = "..."`.
fn crate_string(private: &TokenStream, name: &str) -> LitStr {
    LitStr::new(
        &format!("{private}::{name}").replace(' ', ""),
        Span::call_site(),
    )
}

/// `<__FactChecked as __FactSignature>::__fact_parse(arguments)`: the parameters in order.
pub(crate) fn parse_call(arguments: &Ident) -> TokenStream {
    quote!(<__FactChecked as __FactSignature>::__fact_parse(#arguments))
}

/// The input schema of the arguments struct.
pub(crate) fn input_schema_call() -> TokenStream {
    quote!(<__FactChecked as __FactSignature>::__fact_input_schema())
}

/// `value` (of the success type) serialized.
pub(crate) fn serialize_call(value: &TokenStream) -> TokenStream {
    quote!(<__FactChecked as __FactSignature>::__fact_serialize(#value))
}

/// `tokens` with every token's span set to `span`. rustc shows a path at the span of its
/// tokens, so a bound spanned this way is shown where the user wrote the parameter.
fn respanned(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Group(group) => {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respanned(group.stream(), span));
                inner.set_span(span);
                TokenTree::Group(inner)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}
