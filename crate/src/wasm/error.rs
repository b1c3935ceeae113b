//! The boundary's error shape: every promise the wasm API rejects, and
//! every stream it errors, carries a JavaScript `Error` with a stable
//! `code` property (see [`crate::code`]) and a readable message. The page
//! chooses what to tell people by `code`, never by the message.

use js_sys::Reflect;
use wasm_bindgen::JsValue;

use crate::code::ErrorCode;
use crate::transfer::TransferError;

/// A JavaScript `Error` with `code`.
pub fn error(code: ErrorCode, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    let _ = Reflect::set(
        &e,
        &JsValue::from_str("code"),
        &JsValue::from_str(code.as_str()),
    );
    e.into()
}

/// An `invalid-argument` error: the caller passed something wrong.
pub fn invalid(message: &str) -> JsValue {
    error(ErrorCode::InvalidArgument, message)
}

/// An `internal` error.
pub fn internal(message: &str) -> JsValue {
    error(ErrorCode::Internal, message)
}

impl From<TransferError> for JsValue {
    fn from(e: TransferError) -> Self {
        error(e.code(), &e.to_string())
    }
}
