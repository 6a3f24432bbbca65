//! The REST areas, one module each; routes.rs maps paths to their handlers.

pub(crate) mod info;
pub(crate) mod integrations;
pub(crate) mod method_call;
pub(crate) mod rooms;
pub(crate) mod users;
