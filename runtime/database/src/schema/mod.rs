//! Schemas: the parsed `schema.export()` of a component ([`definition`], its vector indexes in
//! [`vector_index`]) and applying it to the stored tables and indexes ([`apply`]).

mod apply;
mod definition;
mod index_names;
mod vector_index;

pub use definition::{IndexDefinition, SchemaDefinition, SearchIndexDefinition, TableDefinition};
pub use vector_index::{MAX_VECTOR_DIMENSIONS, MIN_VECTOR_DIMENSIONS, VectorIndexDefinition};

#[cfg(test)]
mod tests;
