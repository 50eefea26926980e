//! Schemas: the parsed `schema.export()` of a component ([`definition`]) and applying it to
//! the stored tables and indexes ([`apply`]).

mod apply;
mod definition;

pub use definition::{IndexDefinition, SchemaDefinition, SearchIndexDefinition, TableDefinition};

#[cfg(test)]
mod tests;
