//! dns parser (being written)
