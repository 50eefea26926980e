//! Native components: Rust implementations of Convex components that an app mounts with
//! `app.use(...)` in `convex.config.ts`.
//!
//! Nothing lives here yet. Components themselves (loading `convex.config.ts`, per-instance table
//! namespaces, cross-component calls) and the trait a native component implements arrive with
//! issue 3; the native workpool fills that seam in issue 4. The crate exists now so the workspace
//! layout and dependency direction (executor → components → database) are fixed from the start.
