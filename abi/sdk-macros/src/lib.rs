//! The SDK's attribute macros, re-exported by `greenroom-sdk`.
//!
//! `#[contained]` goes on a plugin's implementation of a service interface
//! (an abi_stable `#[sabi_trait]`). A consumer calls those methods straight
//! through abi_stable's `extern "C"` shims, where an unwinding panic aborts
//! the whole process; the attribute runs each method body with the panic
//! caught, so the consumer gets an error carrying the panic's message.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{ToTokens as _, quote_spanned};
use syn::{ImplItem, ImplItemFn, ItemImpl, ReturnType, Type, spanned::Spanned as _};

/// Catches a panic in every method of a service implementation, turning it
/// into the error the method returns.
///
/// Every method must return `RResult<_, E>` where `E: From<PluginError>`
/// (usually `PluginError` itself), or `FfiFuture<RResult<_, E>>`, whose
/// polling is guarded too, spelled out rather than through an alias: a
/// method that could only abort on a panic is a compile error, naming it.
/// Methods the interface gives a default body and the implementation leaves
/// out are not guarded; give them a body here.
///
/// A crate that renamed its `greenroom-sdk` dependency names it:
/// `#[contained(crate = sdk)]`.
///
/// The SDK's crate documentation shows it on an implementation.
#[proc_macro_attribute]
pub fn contained(attribute: TokenStream, item: TokenStream) -> TokenStream {
    expand(attribute.into(), item.into()).into()
}

/// The shape a method's return type must have.
#[derive(Debug, PartialEq, Eq)]
enum Returns {
    /// `RResult<_, _>`.
    Result,
    /// `FfiFuture<RResult<_, _>>`.
    Future,
}

fn expand(attribute: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let sdk = match sdk_path(attribute) {
        Ok(sdk) => sdk,
        Err(error) => return error.to_compile_error(),
    };
    let mut block: ItemImpl = match syn::parse2(item) {
        Ok(block) => block,
        Err(error) => return error.to_compile_error(),
    };
    let Some((_, interface, _)) = &block.trait_ else {
        let message = "`#[contained]` goes on an `impl Interface for Type` block, where \
                       `Interface` is a service's `#[sabi_trait]`";
        return syn::Error::new(block.self_ty.span(), message).to_compile_error();
    };
    let interface = interface
        .segments
        .last()
        .map(|segment| segment.ident.to_string())
        .unwrap_or_default();

    let mut errors = TokenStream2::new();
    for item in &mut block.items {
        if let ImplItem::Fn(method) = item
            && let Err(error) = guard(method, &interface, &sdk)
        {
            errors.extend(error.to_compile_error());
        }
    }
    let mut expanded = block.into_token_stream();
    expanded.extend(errors);
    expanded
}

/// The path of the SDK crate: `::greenroom_sdk`, or what `crate = path`
/// names.
fn sdk_path(attribute: TokenStream2) -> Result<syn::Path, syn::Error> {
    if attribute.is_empty() {
        return Ok(syn::parse_quote!(::greenroom_sdk));
    }
    let span = attribute.span();
    let argument: syn::MetaNameValue = syn::parse2(attribute).map_err(|_| {
        syn::Error::new(
            span,
            "`#[contained]` takes no arguments, or `crate = path` naming the greenroom-sdk crate",
        )
    })?;
    if !argument.path.is_ident("crate") {
        return Err(syn::Error::new(
            argument.path.span(),
            "the one argument of `#[contained]` is `crate = path`",
        ));
    }
    match argument.value {
        syn::Expr::Path(path) => Ok(path.path),
        other => Err(syn::Error::new(
            other.span(),
            "`crate = ` takes a path, such as `crate = sdk`",
        )),
    }
}

/// Rewrites `method`'s body to run with panics caught.
fn guard(method: &mut ImplItemFn, interface: &str, sdk: &syn::Path) -> Result<(), syn::Error> {
    let name = format!("{interface}::{}", method.sig.ident);
    let ReturnType::Type(_, output) = &method.sig.output else {
        return Err(unguardable(method, &name));
    };
    let body = &method.block;
    // Spanned at the return type, so that a type error in the wrapping
    // points at the method rather than at the attribute.
    let wrapped = match returns(output) {
        Some(Returns::Result) => quote_spanned! {output.span()=> {
            #sdk::__private::contain_call(#name, move || -> #output #body)
        }},
        Some(Returns::Future) => quote_spanned! {output.span()=> {
            #sdk::__private::contain_future(#name, move || -> #output #body)
        }},
        None => return Err(unguardable(method, &name)),
    };
    method.block = syn::parse2(wrapped)?;
    Ok(())
}

fn unguardable(method: &ImplItemFn, name: &str) -> syn::Error {
    let span = match &method.sig.output {
        ReturnType::Default => method.sig.ident.span(),
        ReturnType::Type(_, output) => output.span(),
    };
    let message = format!(
        "`{name}` cannot report a panic to its caller: return `RResult<_, PluginError>` (or an \
         `FfiFuture` of one), spelled out rather than through an alias, from this method of \
         the interface, so that a panic reaches the caller as an error instead of aborting \
         the host"
    );
    syn::Error::new(span, message)
}

/// Which guardable shape `output` has, judged by its outermost type's name
/// (a path may be spelled in full or imported).
fn returns(output: &Type) -> Option<Returns> {
    let Type::Path(path) = output else {
        return None;
    };
    let last = path.path.segments.last()?;
    match last.ident.to_string().as_str() {
        "RResult" => Some(Returns::Result),
        "FfiFuture" => Some(Returns::Future),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn expanded(item: TokenStream2) -> String {
        expand(TokenStream2::new(), item).to_string()
    }

    #[test]
    fn a_method_returning_a_result_runs_inside_contain_call() {
        let text = expanded(quote! {
            impl Parser for Strict {
                fn parse(&self, text: RString) -> RResult<u32, PluginError> {
                    RResult::ROk(text.parse().unwrap())
                }
            }
        });
        assert!(
            text.contains(":: greenroom_sdk :: __private :: contain_call (\"Parser::parse\""),
            "{text}"
        );
        assert!(!text.contains("compile_error"), "{text}");
    }

    #[test]
    fn a_method_returning_a_future_is_guarded_while_polled() {
        let text = expanded(quote! {
            impl Fetch for Remote {
                fn fetch(&self) -> async_ffi::FfiFuture<RResult<RString, PluginError>> {
                    async { RResult::ROk(RString::new()) }.into_ffi()
                }
            }
        });
        assert!(text.contains("contain_future (\"Fetch::fetch\""), "{text}");
    }

    #[test]
    fn a_method_that_cannot_report_a_panic_is_a_compile_error_naming_it() {
        let text = expanded(quote! {
            impl Catalog for Service {
                fn generation(&self) -> u64 { 1 }
                fn name(&self) {}
                fn entity(&self) -> RResult<u64, PluginError> { RResult::ROk(1) }
            }
        });
        assert_eq!(text.matches("compile_error").count(), 2, "{text}");
        assert!(
            text.contains("`Catalog::generation` cannot report a panic"),
            "{text}"
        );
        assert!(
            text.contains("`Catalog::name` cannot report a panic"),
            "{text}"
        );
    }

    #[test]
    fn an_inherent_impl_or_an_argument_is_refused() {
        let inherent = expanded(quote! { impl Strict { fn new() -> Self { Strict } } });
        assert!(inherent.contains("`#[contained]` goes on an `impl Interface for Type`"));

        let with_argument = expand(quote! { fast }, quote! { impl A for B {} }).to_string();
        assert!(
            with_argument.contains("takes no arguments"),
            "{with_argument}"
        );
    }

    #[test]
    fn a_renamed_sdk_is_named_with_crate() {
        let item = quote! {
            impl Parser for Strict {
                fn parse(&self) -> RResult<u32, PluginError> { RResult::ROk(1) }
            }
        };
        let renamed = expand(quote! { crate = sdk }, item.clone()).to_string();
        assert!(
            renamed.contains("sdk :: __private :: contain_call"),
            "{renamed}"
        );
        assert!(!renamed.contains("greenroom_sdk"), "{renamed}");

        let wrong = expand(quote! { krate = sdk }, item).to_string();
        assert!(
            wrong.contains("the one argument of `#[contained]` is `crate = path`"),
            "{wrong}"
        );
    }
}
