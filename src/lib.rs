//! s3audit: audit Amazon S3 encryption at rest and in transit.
//!
//! The pipeline flows one way: [`collect`] (I/O only) produces a [`model::Estate`],
//! [`rules`] (pure) turns it into [`model::Finding`]s, [`report`] (pure) renders them.

pub mod app;
pub mod cli;
pub mod collect;
pub mod config;
pub mod evidence;
pub mod model;
pub mod output;
pub mod provenance;
pub mod report;
pub mod rules;
pub mod shard;
