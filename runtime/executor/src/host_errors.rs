//! The errors a syscall answers JavaScript with: a catchable developer error, or a database
//! error in its own class (a failure of the storage itself is internal and ends the execution).

use emvex_database::DbError;
use emvex_engine::HostError;

/// A catchable developer error.
pub(crate) fn developer(message: String) -> HostError {
    HostError::developer(message)
}

/// Database errors are developer errors, except failures of the storage itself, which are
/// internal and end the execution.
pub(crate) fn db_error(e: DbError) -> HostError {
    HostError { class: e.class, message: e.message, data: e.data }
}
