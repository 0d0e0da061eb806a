//! Moving users between LibreChat's MongoDB and Bouncer: a document of LibreChat's `users`
//! collection (as mongoexport writes it) read into a whole user as Bouncer stores it, checked
//! as Bouncer checks its own users, and a stored user written back as such a document.
//! Plain Rust: the reading and writing of the documents; the batches are `store::migration`'s.

pub mod extjson;
pub mod librechat;

pub use librechat::{Importer, Rejection};
